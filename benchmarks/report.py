"""The report: tables (markdown and terminal), the issues' targets, charts, failures.

Ratios are always "lograph x": above 1 means lograph is better (more steps/s, less
time, fewer bytes) than LangGraph in the same cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._results import MACHINE, Cell, find

KiB = 1024


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


# -- formatting -------------------------------------------------------------------------


def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _ms(x: Any) -> str:
    if x is None:
        return "-"
    return _num(x, 2 if x < 10 else 1 if x < 100 else 0)


def _ratio(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _better(lo: Any, lg: Any, *, higher: bool) -> float | None:
    """lograph's advantage: lo/lg when higher is better, lg/lo when lower is better."""
    if lo is None or lg is None or lo == 0 or lg == 0:
        return None
    return lo / lg if higher else lg / lo


def _value(cell: Cell | None, metric: str, fmt: Any) -> str:
    if cell is None:
        return "-"
    if cell.status != "ok":
        return "FAILED"
    return fmt(cell.metrics.get(metric))


def _stores(cells: list[Cell], workload: str) -> list[str]:
    return list(dict.fromkeys(c.store for c in cells if c.workload == workload))


def _modes(cells: list[Cell], workload: str, store: str) -> list[str]:
    return list(dict.fromkeys(c.mode for c in cells if c.workload == workload and c.store == store))


def _compared(cells: list[Cell]) -> bool:
    return any(c.engine == "langgraph" for c in cells)


# -- tables -----------------------------------------------------------------------------


def floor_table(cells: list[Cell]) -> Table | None:
    rows = [
        [c.store, c.mode, _value(c, "commits_per_s", _num)]
        for c in cells if c.workload == "floor" and c.engine == MACHINE
    ]
    if not rows:
        return None
    return Table("Storage floor: single-row durable commits", ["store", "setting", "commits/s"], rows,
                 "SQLite: raw sqlite3, WAL, INSERT+COMMIT per row. PostgreSQL: asyncpg autocommit "
                 "INSERT per row, fsync on; N connections writing at once.")


def throughput_table(cells: list[Cell], workload: str, title: str, note: str) -> Table | None:
    if not any(c.workload == workload for c in cells):
        return None
    lg = _compared(cells)
    headers = ["store", "mode", "lograph steps/s"]
    headers += ["LangGraph steps/s", "lograph x"] if lg else []
    headers += ["lograph p50 / p99 ms"] + (["LangGraph p50 / p99 ms"] if lg else [])
    if workload == "concurrent":
        headers.append("lograph txns / appends")
    rows = []
    for store in _stores(cells, workload):
        for mode in _modes(cells, workload, store):
            a = find(cells, workload, store, mode, "lograph")
            b = find(cells, workload, store, mode, "langgraph")
            row = [store, mode, _value(a, "steps_per_s", _num)]
            if lg:
                row += [_value(b, "steps_per_s", _num),
                        _ratio(_better(a and a.get("steps_per_s"), b and b.get("steps_per_s"), higher=True))]
            row.append(_latency(a))
            if lg:
                row.append(_latency(b))
            if workload == "concurrent":
                row.append(f"{_num(a.get('transactions'))} / {_num(a.get('appends'))}" if a else "-")
            rows.append(row)
    return Table(title, headers, rows, note)


def _latency(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.status != "ok":
        return "FAILED"
    return f"{_ms(cell.metrics['p50_ms'])} / {_ms(cell.metrics['p99_ms'])}"


CHAT_ROWS = [
    # (label, metric, formatter, higher is better)
    ("latency turns 1-10, ms", "first_ms", _ms, False),
    ("latency last 10 turns, ms", "last_ms", _ms, False),
    ("growth (last / first)", "growth", lambda x: _ratio(x), False),
    ("growth of medians", "growth_median", lambda x: _ratio(x), False),
    ("storage bytes / turn", "bytes_per_turn", _num, False),
    ("get_state warm, ms", "get_state_warm_ms", _ms, False),
    ("get_state cold (open + read), ms", "get_state_cold_ms", _ms, False),
    ("get_state_history (full list), ms", "history_ms", _ms, False),
    ("history entries", "history_len", _num, None),
    ("fork at the middle turn, ms", "fork_ms", _ms, False),
    ("get_state cold after the fork, ms", "get_state_cold_after_fork_ms", _ms, False),
]


def chat_tables(cells: list[Cell]) -> list[Table]:
    lg = _compared(cells)
    tables = []
    for store in _stores(cells, "chat"):
        for mode in _modes(cells, "chat", store):
            a = find(cells, "chat", store, mode, "lograph")
            b = find(cells, "chat", store, mode, "langgraph")
            turns = (a and a.get("turns")) or (b and b.get("turns")) or "?"
            headers = ["measure", "lograph"] + (["LangGraph", "lograph x"] if lg else [])
            rows = []
            for label, metric, fmt, higher in CHAT_ROWS:
                row = [label, _value(a, metric, fmt)]
                if lg:
                    ratio = None if higher is None else _better(
                        a and a.get(metric), b and b.get(metric), higher=higher)
                    row += [_value(b, metric, fmt), _ratio(ratio)]
                rows.append(row)
            tables.append(Table(f"chat: {store}, {turns} turns, durability={mode}", headers, rows))
    return tables


def all_tables(cells: list[Cell]) -> list[Table]:
    tables = [
        floor_table(cells),
        throughput_table(cells, "chain", "chain: 10 nodes, fresh thread per invoke, sequential",
                         "steps/s = 10 x invokes / wall time; p50/p99 per invoke."),
        throughput_table(cells, "concurrent", "concurrent: the chain from many tasks at once",
                         "steps/s over the whole task group; txns/appends: lograph's store "
                         "transactions vs the appends they carried (group commit)."),
        *chat_tables(cells),
    ]
    return [t for t in tables if t is not None]


# -- targets ----------------------------------------------------------------------------


def targets(cells: list[Cell]) -> list[list[str]]:
    """The issues' targets: [target, figures, met]. Reported, never asserted."""
    rows: list[list[str]] = []

    def ratio(workload: str, store: str, mode: str, metric: str, higher: bool) -> float | None:
        a = find(cells, workload, store, mode, "lograph")
        b = find(cells, workload, store, mode, "langgraph")
        return _better(a and a.get(metric), b and b.get(metric), higher=higher)

    def verdict(values: list[float | None], ok: Any) -> str:
        if not values or any(v is None for v in values):
            return "n/a"
        return "met" if all(ok(v) for v in values) else "NOT met"

    compared = _compared(cells)
    modes = _modes(cells, "chain", "memory") if compared else []
    if modes:
        rs = [ratio("chain", "memory", m, "steps_per_s", True) for m in modes]
        figs = ", ".join(f"{m} {_ratio(r)}" for m, r in zip(modes, rs, strict=True))
        rows.append(["memory chain >= 3x LangGraph in every mode", figs, verdict(rs, lambda v: v >= 3)])
    for store in ("sqlite", "postgres"):
        if compared and find(cells, "chain", store, "sync", "lograph"):
            r = ratio("chain", store, "sync", "steps_per_s", True)
            rows.append([f"{store} chain sync >= 4x", _ratio(r), verdict([r], lambda v: v >= 4)])
    for store in _stores(cells, "concurrent"):
        if compared and find(cells, "concurrent", store, "sync", "lograph"):
            r = ratio("concurrent", store, "sync", "steps_per_s", True)
            rows.append([f"{store} concurrent (64 tasks) sync >= 10x", _ratio(r),
                         verdict([r], lambda v: v >= 10)])
    for store in _stores(cells, "chat"):
        for mode in _modes(cells, "chat", store):
            a = find(cells, "chat", store, mode, "lograph")
            if a is None:
                continue
            per_turn, growth = a.get("bytes_per_turn"), a.get("growth")
            if store != "memory":
                rows.append([f"{store} chat storage <= 2 KiB/turn", f"{_num(per_turn)} B/turn",
                             verdict([per_turn], lambda v: v <= 2 * KiB)])
            rows.append([f"{store} chat last-10 latency within 1.1x of first-10 (means)",
                         f"{_ratio(growth)} (medians {_ratio(a.get('growth_median'))})",
                         verdict([growth], lambda v: v <= 1.1)])
            metrics = ["get_state_warm_ms", "history_ms", "fork_ms"]
            if store != "memory":
                metrics.insert(1, "get_state_cold_ms")
            if find(cells, "chat", store, mode, "langgraph"):
                rs = [ratio("chat", store, mode, m, False) for m in metrics]
                figs = ", ".join(f"{m.removesuffix('_ms')} {_ratio(r)}"
                                 for m, r in zip(metrics, rs, strict=True))
                rows.append([f"{store} get_state/history/fork no slower than LangGraph", figs,
                             verdict(rs, lambda v: v >= 1)])
    return rows


# -- rendering --------------------------------------------------------------------------


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _environment(meta: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    sizes = ", ".join(f"{k}={v}" for k, v in meta["sizes"].items())
    return (
        f"Run {meta['started']} ({meta['seconds']} s), `python -m benchmarks {' '.join(meta['argv'])}`\n\n"
        f"Python {meta['python']} on {meta['platform']}, {meta.get('cpus')} CPUs, load average "
        f"at the end {meta.get('load_average_at_end')} (other work on the machine skews figures; "
        f"ratios are steadier than absolutes because the two engines' cells alternate); SQLite {meta['sqlite']}; {versions}.\n\n"
        f"Sizes: {sizes}. Chat durability: {meta['chat_mode']}."
    )


def markdown(cells: list[Cell], meta: dict[str, Any], charts: list[str]) -> str:
    parts = ["# lograph benchmarks", "", _environment(meta), "",
             "Ratios (\"lograph x\") above 1 mean lograph is better than LangGraph in that cell "
             "(more steps/s, less time, fewer bytes).", ""]
    goals = targets(cells)
    if goals:
        parts += ["## Targets from the issues (reported, not asserted)", "",
                  _md_table(["target", "figures", "verdict"], goals), ""]
    for t in all_tables(cells):
        parts += [f"## {t.title}", "", _md_table(t.headers, t.rows), ""]
        if t.note:
            parts += [t.note, ""]
    if charts:
        parts += ["## Charts", ""] + [f"![{Path(c).stem}]({c})" for c in charts] + [""]
    profiled = [c for c in cells if c.profile]
    if profiled:
        parts += ["## Profiles (cProfile, lograph cells; timings above were taken with it on)", ""]
        for c in profiled:
            parts += [f"### {c.name}", "", "```", c.profile.strip(), "```", ""]
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        parts += ["## Failures", ""]
        for c in failed:
            parts += [f"### {c.name}", "", "```", (c.error or "").strip(), "```", ""]
    return "\n".join(parts)


def show(cells: list[Cell], meta: dict[str, Any], console: Any) -> None:
    """The tables on the terminal: rich tables, or plain markdown text when not a terminal."""
    tables = all_tables(cells)
    goals = targets(cells)
    if goals:
        tables.append(Table("Targets from the issues (reported, not asserted)",
                            ["target", "figures", "verdict"], goals))
    if not console.is_terminal:
        for t in tables:
            print(f"\n{t.title}\n{_md_table(t.headers, t.rows)}")
        return
    from rich.table import Table as RichTable

    for t in tables:
        rt = RichTable(title=t.title, title_justify="left")
        for i, h in enumerate(t.headers):
            rt.add_column(h, justify="left" if i < 2 else "right")
        for r in t.rows:
            rt.add_row(*r)
        console.print(rt)
    for c in cells:
        if c.status == "failed":
            console.print(f"[red]FAILED[/red] {c.name} (traceback in report.md)")


def charts(cells: list[Cell], out: Path) -> list[str]:
    """PNG charts when matplotlib is importable (it is in benchmarks/.venv); else none."""
    try:
        from . import charts as drawing
    except ImportError:
        return []
    return drawing.draw(cells, out)
