"""PNG charts (matplotlib, present only in benchmarks/.venv): lograph beside LangGraph.

Importing this module fails without matplotlib; ``report.charts`` then draws nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from ._results import Cell, find

COLORS = {"lograph": "#1f77b4", "langgraph": "#ff7f0e"}
LABELS = {"lograph": "lograph", "langgraph": "LangGraph"}
STYLES = {"exit": ":", "async": "-", "sync": "--"}
PLAIN = FuncFormatter(lambda v, _: f"{v:,g}")  # 2,000 rather than 2x10^3 on log axes


def _engines(cells: list[Cell]) -> list[str]:
    return [e for e in ("lograph", "langgraph") if any(c.engine == e for c in cells)]


def _decades(ax: Any) -> float:
    """How many powers of ten the y axis spans (minor tick labels only when under one)."""
    lo, hi = ax.get_ylim()
    return math.log10(hi / lo) if lo > 0 and hi > 0 else 0.0


def _draw_bars(ax: Any, cells: list[Cell], workload: str, metric: str, title: str, ylabel: str,
               *, log: bool = True, scale: float = 1.0, line: tuple[float, str] | None = None) -> bool:
    """Grouped bars per (store, mode), one bar per engine, on ``ax``."""
    groups = list(dict.fromkeys((c.store, c.mode) for c in cells if c.workload == workload))
    if not groups:
        return False
    engines = _engines(cells)
    width = 0.8 / len(engines)
    for i, engine in enumerate(engines):
        values = []
        for store, mode in groups:
            cell = find(cells, workload, store, mode, engine)
            values.append(((cell and cell.get(metric)) or 0) * scale)
        xs = [g + (i - (len(engines) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=LABELS[engine], color=COLORS[engine])
        top = max(values, default=0)
        digits = 0 if top >= 100 else 1 if top >= 10 else 2
        ax.bar_label(bars, labels=[f"{v:,.{digits}f}" if v else "" for v in values], fontsize=7,
                     rotation=90, padding=2)
    if line is not None:
        ax.axhline(line[0], color="grey", linestyle="--", linewidth=1, label=line[1])
    ax.set_xticks(range(len(groups)), [f"{s}\n{m}" for s, m in groups])
    ax.set_ylabel(ylabel + (" (log)" if log else ""))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(PLAIN if _decades(ax) < 1 else FuncFormatter(lambda v, _: ""))
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.margins(y=0.2)
    return True


def _bars(cells: list[Cell], workload: str, metric: str, path: Path, title: str, ylabel: str,
          **kw: Any) -> bool:
    n = len({(c.store, c.mode) for c in cells if c.workload == workload})
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * n + 2), 4.5))
    drawn = _draw_bars(ax, cells, workload, metric, title, ylabel, **kw)
    if drawn:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


HISTORY_PANELS = [
    ("get_state_warm_ms", "get_state warm"),
    ("get_state_cold_ms", "get_state cold (new process: open + read)"),
    ("history_ms", "get_state_history, full list"),
    ("history_cold_ms", "get_state_history cold (new process: open + full list)"),
    ("fork_ms", "fork at the middle turn"),
]
COLD_PANELS = ("get_state_cold_ms", "history_cold_ms")  # not measured on memory


def _history(cells: list[Cell], path: Path) -> bool:
    if not any(c.workload == "history" for c in cells):
        return False
    n = len({(c.store, c.mode) for c in cells if c.workload == "history"})
    fig, axes = plt.subplots(3, 2, figsize=(2 * max(6, 1.1 * n + 2), 13.5))
    for ax, (metric, title) in zip(axes.flat, HISTORY_PANELS, strict=False):
        subset = [c for c in cells if metric not in COLD_PANELS or c.store != "memory"]
        _draw_bars(ax, subset, "history", metric, f"history: {title}", "ms")
    for ax in list(axes.flat)[len(HISTORY_PANELS):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _chat_latency(cells: list[Cell], path: Path) -> bool:
    chats = [c for c in cells if c.workload == "chat" and c.get("latencies_ms")]
    stores = list(dict.fromkeys(c.store for c in chats))
    if not stores:
        return False
    fig, axes = plt.subplots(1, len(stores), figsize=(5 * len(stores), 4.5), squeeze=False)
    for ax, store in zip(axes[0], stores, strict=True):
        for c in (c for c in chats if c.store == store):
            lat = c.metrics["latencies_ms"]
            k = max(1, len(lat) // 30)  # a moving median keeps the lines readable
            smooth = [sorted(lat[max(0, i - k + 1): i + 1])[len(lat[max(0, i - k + 1): i + 1]) // 2]
                      for i in range(len(lat))]
            ax.plot(range(1, len(lat) + 1), smooth, STYLES.get(c.mode, "-"), color=COLORS[c.engine],
                    label=f"{LABELS[c.engine]} {c.mode}")
        ax.set_xlabel("turn")
        ax.set_ylabel("ms per turn (moving median, log)")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(PLAIN if _decades(ax) < 1 else FuncFormatter(lambda v, _: ""))
        ax.set_title(f"chat latency over turns: {store}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def draw(cells: list[Cell], out: Path) -> list[str]:
    """Draw what the cells allow; returns the file names written into ``out``."""
    jobs = [
        ("chain_steps.png", lambda p: _bars(cells, "chain", "steps_per_s", p,
                                            "chain: steps/s (sequential)", "steps/s")),
        ("iochain_latency.png", lambda p: _bars(cells, "iochain", "p50_ms", p,
                                                "iochain: p50 ms per invoke (10 nodes x 2 ms I/O)",
                                                "ms per invoke", log=False)),
        ("concurrent_steps.png", lambda p: _bars(cells, "concurrent", "steps_per_s", p,
                                                 "concurrent: steps/s (64 threads at once)", "steps/s")),
        ("fanout_steps.png", lambda p: _bars(cells, "fanout", "steps_per_s", p,
                                             "fanout: steps/s (1 -> 8 parallel -> join)", "steps/s")),
        ("functional_tasks.png", lambda p: _bars(cells, "functional", "tasks_per_s", p,
                                                 "functional: tasks/s (@entrypoint, 10 @task)",
                                                 "tasks/s")),
        ("chat_storage.png", lambda p: _bars(
            [c for c in cells if c.store != "memory"], "chat", "bytes_per_turn", p,
            "chat: storage per turn", "KiB per turn", scale=1 / 1024, line=(2, "target: 2 KiB"))),
        ("chat_latency.png", lambda p: _chat_latency(cells, p)),
        ("history_ms.png", lambda p: _history(cells, p)),
    ]
    made = []
    for name, job in jobs:
        path = out / name
        if job(path):
            made.append(name)
        else:
            path.unlink(missing_ok=True)
    return made
