"""The issues' targets, checked against a run's cells: PASS or MISS, with the figure.

Targets are reported, never asserted (the machine is shared and noisy). A target that
compares with LangGraph needs ``--compare langgraph``; without it those rows are left
out. A target whose cell failed or did not run says ``n/a``. Ratios are "lograph x":
above 1 means lograph is better (more per second, less time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ._results import MACHINE, Cell, find

KiB = 1024
DURABLE = ("sqlite", "postgres")
HISTORY_READS = (("warm", "get_state_warm_ms"), ("cold", "get_state_cold_ms"),
                 ("open+read+close", "open_read_close_ms"),
                 ("history", "history_ms"), ("history cold", "history_cold_ms"),
                 ("fork", "fork_ms"))
# durable stores only: a new process, or a saver opened on what the store keeps
COLD_READS = ("cold", "open+read+close", "history cold")


@dataclass
class Target:
    target: str
    measured: str
    needed: str
    verdict: str  # PASS | MISS by N% | n/a
    value: float | None = None

    @property
    def row(self) -> list[str]:
        return [self.target, self.measured, self.needed, self.verdict]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def verdict(value: float | None, op: str, needed: float) -> str:
    """PASS, or MISS with how far off the value is, relative to what is needed."""
    if value is None:
        return "n/a"
    if op == ">=":
        return "PASS" if value >= needed else f"MISS by {(1 - value / needed) * 100:.0f}%"
    return "PASS" if value <= needed else f"MISS by {(value / needed - 1) * 100:.0f}%"


class _Cells:
    def __init__(self, cells: list[Cell]) -> None:
        self.cells = cells
        self.compared = any(c.engine == "langgraph" for c in cells)

    def cell(self, workload: str, store: str, mode: str, engine: str = "lograph") -> Cell | None:
        return find(self.cells, workload, store, mode, engine)

    def ran(self, workload: str, store: str, mode: str) -> bool:
        return self.cell(workload, store, mode) is not None

    def get(self, workload: str, store: str, mode: str, metric: str, engine: str = "lograph") -> Any:
        c = self.cell(workload, store, mode, engine)
        return c.get(metric) if c is not None else None

    def ratio(self, workload: str, store: str, mode: str, metric: str, *, higher: bool) -> float | None:
        lo = self.get(workload, store, mode, metric)
        lg = self.get(workload, store, mode, metric, "langgraph")
        if not lo or not lg:
            return None
        return lo / lg if higher else lg / lo

    def modes(self, workload: str, store: str) -> list[str]:
        return list(dict.fromkeys(c.mode for c in self.cells
                                  if c.workload == workload and c.store == store))

    def stores(self, workload: str) -> list[str]:
        return list(dict.fromkeys(c.store for c in self.cells if c.workload == workload))


def _vs_langgraph(c: _Cells, out: list[Target], workload: str, stores: tuple[str, ...] | list[str],
                  modes: tuple[str, ...] | None, metric: str, needed: float, what: str) -> None:
    for store in stores:
        for mode in c.modes(workload, store):
            if modes is not None and mode not in modes:
                continue
            r = c.ratio(workload, store, mode, metric, higher=True)
            out.append(Target(f"{store} {what} {mode}: >= {needed:g}x LangGraph", _x(r),
                              f">= {needed:g}x", verdict(r, ">=", needed), r))


def _floor(c: _Cells, out: list[Target]) -> None:
    if not c.ran("chain", "sqlite", "sync") or find(c.cells, "floor", "sqlite", "FULL", MACHINE) is None:
        return
    steps = c.get("chain", "sqlite", "sync", "steps_per_s")
    commits = c.get("floor", "sqlite", "FULL", "commits_per_s", MACHINE)
    r = steps / commits if steps and commits else None
    measured = f"{_x(r)} ({steps or 0:,.0f} steps/s vs {commits or 0:,.0f} commits/s)"
    out.append(Target("sqlite chain sync steps/s >= 0.5x raw SQLite FULL commits/s", measured,
                      ">= 0.5x", verdict(r, ">=", 0.5), r))


def _chat(c: _Cells, out: list[Target]) -> None:
    for store in c.stores("chat"):
        for mode in c.modes("chat", store):
            if store in DURABLE:
                b = c.get("chat", store, mode, "bytes_per_turn")
                out.append(Target(f"{store} chat {mode}: storage <= 2 KiB per turn",
                                  "-" if b is None else f"{b:,.0f} B/turn", "<= 2,048 B/turn",
                                  verdict(b, "<=", 2 * KiB), b))
            g = c.get("chat", store, mode, "growth")
            out.append(Target(f"{store} chat {mode}: late/early turn latency <= 1.1 (medians)",
                              _x(g), "<= 1.10x", verdict(g, "<=", 1.1), g))


def _history(c: _Cells, out: list[Target]) -> None:
    for store in c.stores("history"):
        for mode in c.modes("history", store):
            reads = [(n, m) for n, m in HISTORY_READS if store in DURABLE or n not in COLD_READS]
            rs = [c.ratio("history", store, mode, m, higher=False) for _, m in reads]
            worst = None if any(r is None for r in rs) else min(r for r in rs if r is not None)
            measured = ", ".join(f"{n} {_x(r)}" for (n, _), r in zip(reads, rs, strict=True))
            names = "/".join(n for n, _ in reads)
            out.append(Target(f"{store} history {mode}: {names} no slower than LangGraph", measured,
                              ">= 1x each", verdict(worst, ">=", 1.0), worst))


def _iochain(c: _Cells, out: list[Target]) -> None:
    for store in c.stores("iochain"):
        if c.ran("iochain", store, "async"):
            r = c.get("iochain", store, "async", "vs_exit")
            lg = c.get("iochain", store, "async", "vs_exit", "langgraph")
            extra = f" (LangGraph {_x(lg)})" if lg is not None else ""
            out.append(Target(f"{store} iochain: async latency <= 1.05x exit", _x(r) + extra,
                              "<= 1.05x", verdict(r, "<=", 1.05), r))
    if not c.compared:
        return
    for store in DURABLE:
        if not c.ran("iochain", store, "sync"):
            continue
        lo = c.get("iochain", store, "sync", "added_ms_per_step")
        lg = c.get("iochain", store, "sync", "added_ms_per_step", "langgraph")
        ok = None if lo is None or lg is None else lo < lg
        measured = "-" if ok is None else f"lograph {lo:+.3f} ms, LangGraph {lg:+.3f} ms"
        v = "n/a" if ok is None else "PASS" if ok else f"MISS by {lo - lg:.3f} ms/step"
        out.append(Target(f"{store} iochain: sync adds less per step (vs exit) than LangGraph's",
                          measured, "< LangGraph's", v, lo))


def _runs(c: _Cells, out: list[Target]) -> None:
    """Issue 21: a dead worker's run resumed by another within the lease plus one second."""
    if not c.ran("runs", "postgres", "-"):
        return
    took, lease = c.get("runs", "postgres", "-", "takeover_max_s"), c.get("runs", "postgres", "-", "lease_s")
    needed = None if lease is None else lease + 1.0
    out.append(Target(
        f"postgres runs: SIGKILL to another worker's first step of the run <= lease + 1 s "
        f"(lease {lease or 0:g} s; the slowest takeover)",
        "-" if took is None else f"{took:.2f} s", "-" if needed is None else f"<= {needed:g} s",
        "n/a" if needed is None else verdict(took, "<=", needed), took))


def targets(cells: list[Cell]) -> list[Target]:
    """Every target the run's cells allow checking, in the issue's order."""
    c = _Cells(cells)
    out: list[Target] = []
    if c.compared:
        _vs_langgraph(c, out, "chain", ["memory"], None, "steps_per_s", 3, "chain")
        _vs_langgraph(c, out, "chain", list(DURABLE), ("sync",), "steps_per_s", 4, "chain")
    _floor(c, out)
    if c.compared:
        # group commit: the issues set it for the stores on disk (memory has no commit)
        _vs_langgraph(c, out, "concurrent", [s for s in c.stores("concurrent") if s in DURABLE],
                      ("sync",), "steps_per_s", 10, "concurrent (64 threads)")
    _chat(c, out)
    if c.compared:
        _history(c, out)
        _vs_langgraph(c, out, "functional", ["sqlite"], None, "tasks_per_s", 3, "functional")
    _iochain(c, out)
    if c.compared:
        for metric, what in (("put_per_s", "puts"), ("get_per_s", "gets"),
                             ("search_ns_per_s", "searches (one namespace)"),
                             ("search_all_per_s", "searches (all items)")):
            _vs_langgraph(c, out, "store", c.stores("store"), None, metric, 1, f"store {what}")
    _runs(c, out)
    return out
