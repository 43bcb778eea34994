"""The report: tables (markdown and terminal), the targets, charts, failures.

Ratios are always "lograph x": above 1 means lograph is better (more steps/s, less
time, fewer bytes) than LangGraph in the same cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._results import MACHINE, Cell, find
from .targets import Target, targets

__all__ = ["charts", "markdown", "show", "tables", "targets"]


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class Column:
    label: str
    value: Callable[[dict[str, Any]], Any]  # from a cell's metrics
    fmt: Callable[[Any], str]
    higher: bool | None  # which way is better; None: no ratio column
    lograph_only: bool = False


# -- formatting -------------------------------------------------------------------------


def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def _ms(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return _num(x, 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0)


def _ratio(x: Any) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _pair(x: Any) -> str:
    return "-" if x is None else f"{_ms(x[0])} / {_ms(x[1])}"


def _signed_ms(x: Any) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _metric(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda m: m.get(name)


def _latency(m: dict[str, Any]) -> Any:
    return (m["p50_ms"], m["p99_ms"]) if "p50_ms" in m and "p99_ms" in m else None


def _better(lo: Any, lg: Any, *, higher: bool) -> float | None:
    """lograph's advantage: lo/lg when higher is better, lg/lo when lower is better."""
    if not isinstance(lo, int | float) or not isinstance(lg, int | float) or lo <= 0 or lg <= 0:
        return None
    return lo / lg if higher else lg / lo


def _shown(cell: Cell | None, col: Column) -> str:
    if cell is None:
        return "-"
    if cell.status != "ok":
        return "FAILED"
    return col.fmt(col.value(cell.metrics))


def _value(cell: Cell | None, col: Column) -> Any:
    return col.value(cell.metrics) if cell is not None and cell.status == "ok" else None


def _groups(cells: list[Cell], workload: str) -> list[tuple[str, str]]:
    return list(dict.fromkeys((c.store, c.mode) for c in cells if c.workload == workload))


def _compared(cells: list[Cell]) -> bool:
    return any(c.engine == "langgraph" for c in cells)


# -- tables -----------------------------------------------------------------------------


def floor_table(cells: list[Cell]) -> Table | None:
    rows = [[c.store, c.mode, _shown(c, Column("", _metric("commits_per_s"), _num, None))]
            for c in cells if c.workload == "floor" and c.engine == MACHINE]
    if not rows:
        return None
    return Table("Storage floor: single-row durable commits", ["store", "setting", "commits/s"], rows,
                 "SQLite: raw sqlite3, WAL, INSERT+COMMIT per row. PostgreSQL: asyncpg autocommit "
                 "INSERT per row, fsync on; N connections writing at once. Measured in rounds "
                 "alternating with the chain's sync cells on the same store; medians.")


def wide_table(cells: list[Cell], workload: str, title: str, columns: list[Column],
               note: str = "") -> Table | None:
    """A row per (store, mode); per column: lograph, then LangGraph and the ratio."""
    groups = _groups(cells, workload)
    if not groups:
        return None
    lg = _compared(cells)
    headers = ["store", "mode"]
    for col in columns:
        headers.append(f"lograph {col.label}" if lg else col.label)
        if lg and not col.lograph_only:
            headers.append(f"LangGraph {col.label}")
            if col.higher is not None:
                headers.append("lograph x")
    rows = []
    for store, mode in groups:
        a = find(cells, workload, store, mode, "lograph")
        b = find(cells, workload, store, mode, "langgraph")
        row = [store, mode]
        for col in columns:
            row.append(_shown(a, col))
            if lg and not col.lograph_only:
                row.append(_shown(b, col))
                if col.higher is not None:
                    row.append(_ratio(_better(_value(a, col), _value(b, col), higher=col.higher)))
        rows.append(row)
    return Table(title, headers, rows, note)


def long_table(cells: list[Cell], workload: str, title: str, columns: list[Column],
               note: str = "") -> Table | None:
    """A row per (store, mode, measure): lograph, LangGraph, ratio."""
    groups = _groups(cells, workload)
    if not groups:
        return None
    lg = _compared(cells)
    headers = ["store", "mode", "measure", "lograph"] + (["LangGraph", "lograph x"] if lg else [])
    rows = []
    for store, mode in groups:
        a = find(cells, workload, store, mode, "lograph")
        b = find(cells, workload, store, mode, "langgraph")
        for col in columns:
            if _value(a, col) is None and _value(b, col) is None and (a is None or a.status == "ok"):
                continue  # not measured on this store (cold reads in memory)
            row = [store, mode, col.label, _shown(a, col)]
            if lg:
                ratio = None if col.higher is None else _better(_value(a, col), _value(b, col),
                                                                higher=col.higher)
                row += [_shown(b, col), _ratio(ratio)]
            rows.append(row)
    return Table(title, headers, rows, note)


LATENCY = Column("p50 / p99 ms", _latency, _pair, None)
TXNS = Column("txns / appends", lambda m: (m.get("transactions"), m.get("appends"))
              if "transactions" in m else None,
              lambda x: "-" if x is None else f"{_num(x[0])} / {_num(x[1])}", None, lograph_only=True)


def tables(cells: list[Cell]) -> list[Table]:
    steps = Column("steps/s", _metric("steps_per_s"), _num, True)
    found = [
        floor_table(cells),
        wide_table(cells, "chain", "chain: 10 nodes, fresh thread per invoke, sequential",
                   [steps, LATENCY],
                   "steps/s = 10 x invokes / wall time, the median of the rounds; p50/p99 per invoke."),
        wide_table(cells, "iochain", "iochain: the chain with sync nodes blocking 2 ms each",
                   [Column("p50 ms", _metric("p50_ms"), _ms, False),
                    Column("vs exit", _metric("vs_exit"), _ratio, None),
                    Column("added ms/step", _metric("added_ms_per_step"), _signed_ms, None)],
                   "Each invoke in the mode is paired with one in exit on the same saver: 'vs exit' "
                   "= the median over the pairs of (latency / its exit pair's) (in the exit rows: "
                   "exit vs exit, the noise); 'added ms/step' = the median of the pairs' "
                   "differences / 10."),
        wide_table(cells, "concurrent", "concurrent: the chain from 64 threads at once",
                   [steps, LATENCY, TXNS],
                   "steps/s over the whole task group, the median of the rounds; txns/appends: "
                   "lograph's store transactions vs the appends they carried (group commit)."),
        wide_table(cells, "fanout", "fanout: one node, 8 parallel nodes, a join",
                   [steps, LATENCY],
                   "steps/s counts node executions: 10 per invoke (3 supersteps)."),
        wide_table(cells, "functional", "functional: an @entrypoint awaiting 10 @task calls",
                   [Column("tasks/s", _metric("tasks_per_s"), _num, True), LATENCY],
                   "tasks/s = 10 x invokes / wall time, the median of the rounds."),
        wide_table(cells, "chat", "chat: one thread, ~300-byte replies",
                   [Column("early ms", _metric("first_ms"), _ms, False),
                    Column("late ms", _metric("last_ms"), _ms, False),
                    Column("late/early", _metric("growth"), _ratio, None),
                    Column("B/turn", _metric("bytes_per_turn"), _num, False)],
                   "early: the first chat_edge turns of a new thread; late: as many turns on the long "
                   "thread (after chat_turns turns), the two alternating; medians. B/turn: the "
                   "store's growth over the chat_turns turns / chat_turns (memory: not measured)."),
        long_table(cells, "history", "history: reads on a long chat thread, and a fork",
                   [Column("get_state warm, ms", _metric("get_state_warm_ms"), _ms, False),
                    Column("get_state cold (new process: open + read), ms",
                           _metric("get_state_cold_ms"), _ms, False),
                    Column("cold: whole new process incl. imports, ms",
                           _metric("get_state_cold_process_ms"), _ms, False),
                    Column("per request (open a saver, compile, get_state, close), ms",
                           _metric("open_read_close_ms"), _ms, False),
                    Column("get_state_history (full list), ms", _metric("history_ms"), _ms, False),
                    Column("get_state_history(limit=5), ms", _metric("history_limit5_ms"), _ms, False),
                    Column("get_state_history cold (new process: open + full list), ms",
                           _metric("history_cold_ms"), _ms, False),
                    Column("history entries", _metric("history_len"), _num, None),
                    Column("fork at the middle turn, ms", _metric("fork_ms"), _ms, False),
                    Column("get_state cold after the fork, ms",
                           _metric("get_state_cold_after_fork_ms"), _ms, False)],
                   "Medians of the repeats. Cold: a new process opens the store and reads the head "
                   "(no cold read for memory: nothing survives the process). History entries differ "
                   "in exit mode: LangGraph keeps one checkpoint per run there, lograph every step's."),
        wide_table(cells, "store", "store: the long-term memory Store over 10,000 items",
                   [Column("puts/s", _metric("put_per_s"), _num, True),
                    Column("gets/s", _metric("get_per_s"), _num, True),
                    Column("searches/s, one namespace", _metric("search_ns_per_s"), _num, True),
                    Column("searches/s, all items", _metric("search_all_per_s"), _num, True)],
                   "The async API, one call at a time: aput of each item (100 namespaces), then "
                   "aget of random items and asearch with filter={'kind': 'b'}, limit 10, in one "
                   "user's namespace (100 items) or over all of them; medians of the rounds."),
        wide_table(cells, "runs", "runs: durable runs and `lograph worker` processes",
                   [Column("takeover s, median / max", lambda m: (m["takeover_median_s"],
                           m["takeover_max_s"]) if "takeover_max_s" in m else None,
                           lambda x: "-" if x is None else f"{x[0]:.2f} / {x[1]:.2f}", None,
                           lograph_only=True),
                    Column("lease s", _metric("lease_s"), lambda x: _num(x, 1), None,
                           lograph_only=True),
                    Column("runs/s, 1 worker", _metric("runs_per_s_1"), lambda x: _num(x, 1), None,
                           lograph_only=True),
                    Column("runs/s, 2 workers", _metric("runs_per_s_2"), lambda x: _num(x, 1), None,
                           lograph_only=True)],
                   "Takeover: two worker processes (poll 0.2 s); the one running a run's third "
                   "node SIGKILLs itself there; seconds from the kill to the other worker's start "
                   "of that node (the first two nodes are in the log), over the repeats. Runs/s: "
                   "tests/runs_graph.py's 4-node sync chain (0.01 s per node), one run per thread, "
                   "submitted while the workers serve, timed from the first submission to the "
                   "last run's end. lograph only (LangGraph's open-source runtime has no "
                   "workers)."),
    ]
    return [t for t in found if t is not None]


# -- rendering --------------------------------------------------------------------------


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _environment(meta: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    sizes = ", ".join(f"{k}={v}" for k, v in meta["sizes"].items())
    pg = meta.get("langgraph_postgres")
    lg = f" LangGraph's PostgreSQL saver set-up: {pg} (LANGGRAPH_PG)." if pg else ""
    return (
        f"Run {meta['started']} ({meta['seconds']} s), `python -m benchmarks {' '.join(meta['argv'])}`\n\n"
        f"Python {meta['python']} on {meta['platform']}, {meta.get('cpus')} CPUs, load average "
        f"at the end {meta.get('load_average_at_end')} (other work on the machine skews figures; "
        f"ratios are steadier than absolutes because the engines' rounds alternate); "
        f"SQLite {meta['sqlite']}; {versions}.{lg}\n\n"
        f"Sizes: {sizes}."
    )


TARGET_HEADERS = ["target", "measured", "needed", "verdict"]


def markdown(cells: list[Cell], meta: dict[str, Any], charts: list[str], goals: list[Target]) -> str:
    parts = ["# lograph benchmarks", "", _environment(meta), "",
             "Ratios (\"lograph x\") above 1 mean lograph is better than LangGraph in that cell "
             "(more per second, less time, fewer bytes).", ""]
    if goals:
        missed = sum(1 for g in goals if g.verdict.startswith("MISS"))
        parts += ["## Targets (reported, not asserted)", "",
                  f"{len(goals) - missed} of {len(goals)} PASS, {missed} MISS.", "",
                  _md_table(TARGET_HEADERS, [g.row for g in goals]), ""]
    for t in tables(cells):
        parts += [f"## {t.title}", "", _md_table(t.headers, t.rows), ""]
        if t.note:
            parts += [t.note, ""]
    if charts:
        parts += ["## Charts", ""] + [f"![{Path(c).stem}]({c})" for c in charts] + [""]
    profiled = [c for c in cells if c.profile]
    if profiled:
        parts += ["## Profiles (cProfile, lograph cells; timings above were taken with it on)", ""]
        for c in profiled:
            parts += [f"### {c.name}", "", "```", (c.profile or "").strip(), "```", ""]
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        parts += ["## Failures", ""]
        for c in failed:
            parts += [f"### {c.name}", "", "```", (c.error or "").strip(), "```", ""]
    return "\n".join(parts)


def show(cells: list[Cell], goals: list[Target], console: Any) -> None:
    """The tables on the terminal: rich tables, or plain markdown text when not a terminal."""
    shown = tables(cells)
    if goals:
        shown.append(Table("Targets (reported, not asserted)", TARGET_HEADERS, [g.row for g in goals]))
    if not console.is_terminal:
        for t in shown:
            print(f"\n{t.title}\n{_md_table(t.headers, t.rows)}")
        return
    from rich.table import Table as RichTable

    for t in shown:
        rt = RichTable(title=t.title, title_justify="left")
        for i, h in enumerate(t.headers):
            rt.add_column(h, justify="left" if i < 2 else "right")
        for r in t.rows:
            style = "red" if r[-1].startswith("MISS") else "green" if r[-1] == "PASS" else None
            rt.add_row(*r, style=style)
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
