"""PNG charts (matplotlib, present only in benchmarks/.venv): lograph beside LangGraph.

Importing this module fails without matplotlib; ``report.charts`` then draws nothing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from ._results import Cell, find

COLORS = {"lograph": "#1f77b4", "langgraph": "#ff7f0e"}
LABELS = {"lograph": "lograph", "langgraph": "LangGraph"}


def _engines(cells: list[Cell]) -> list[str]:
    return [e for e in ("lograph", "langgraph") if any(c.engine == e for c in cells)]


def _bars(cells: list[Cell], workload: str, path: Path, title: str) -> bool:
    groups = list(dict.fromkeys((c.store, c.mode) for c in cells if c.workload == workload))
    if not groups:
        return False
    engines = _engines(cells)
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups) + 2), 4.5))
    for i, engine in enumerate(engines):
        values = []
        for store, mode in groups:
            cell = find(cells, workload, store, mode, engine)
            values.append((cell and cell.get("steps_per_s")) or 0)
        xs = [g + (i - (len(engines) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=LABELS[engine], color=COLORS[engine])
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v else "" for v in values], fontsize=7, rotation=90,
                     padding=2)
    ax.set_xticks(range(len(groups)), [f"{s}\n{m}" for s, m in groups])
    ax.set_ylabel("steps/s (log)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _storage(cells: list[Cell], path: Path) -> bool:
    stores = [s for s in dict.fromkeys(c.store for c in cells if c.workload == "chat") if s != "memory"]
    if not stores:
        return False
    engines = _engines(cells)
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, engine in enumerate(engines):
        values = []
        for store in stores:
            cell = next((c for c in cells if c.workload == "chat" and c.store == store
                         and c.engine == engine), None)
            values.append(((cell and cell.get("bytes_per_turn")) or 0) / 1024)
        xs = [g + (i - (len(engines) - 1) / 2) * width for g in range(len(stores))]
        bars = ax.bar(xs, values, width, label=LABELS[engine], color=COLORS[engine])
        ax.bar_label(bars, labels=[f"{v:,.1f}" for v in values], fontsize=8)
    ax.axhline(2, color="grey", linestyle="--", linewidth=1, label="target: 2 KiB")
    ax.set_xticks(range(len(stores)), stores)
    ax.set_ylabel("KiB per turn")
    ax.set_title("chat: storage per turn")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _latency(cells: list[Cell], path: Path) -> bool:
    chats = [c for c in cells if c.workload == "chat" and c.get("latencies_ms")]
    if not chats:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"memory": ":", "sqlite": "-", "postgres": "--"}
    for c in chats:
        lat = c.metrics["latencies_ms"]
        k = max(1, len(lat) // 30)  # a moving average keeps the lines readable
        smooth = [sum(lat[max(0, i - k + 1): i + 1]) / len(lat[max(0, i - k + 1): i + 1])
                  for i in range(len(lat))]
        ax.plot(range(1, len(lat) + 1), smooth, styles.get(c.store, "-"),
                color=COLORS[c.engine], label=f"{LABELS[c.engine]} {c.store}")
    ax.set_xlabel("turn")
    ax.set_ylabel("ms per turn (moving average, log)")
    ax.set_yscale("log")
    ax.set_title("chat: latency over turns")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def draw(cells: list[Cell], out: Path) -> list[str]:
    """Draw what the cells allow; returns the file names written into ``out``."""
    made = []
    jobs = [
        ("chain_steps.png", lambda p: _bars(cells, "chain", p, "chain: steps/s (sequential)")),
        ("concurrent_steps.png", lambda p: _bars(cells, "concurrent", p, "concurrent: steps/s")),
        ("chat_storage.png", lambda p: _storage(cells, p)),
        ("chat_latency.png", lambda p: _latency(cells, p)),
    ]
    for name, job in jobs:
        path = out / name
        if job(path):
            made.append(name)
        else:
            path.unlink(missing_ok=True)
    return made
