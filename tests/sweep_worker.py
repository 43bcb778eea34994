"""The crash-point sweep's graphs, its scenario driver, its trace, and a fork server.

Shared by tests/test_reliability_sweep.py (which imports the scenarios and checks the
traces) and by the worker processes it kills. Run as a program, this module is a *fork
server*::

    python tests/sweep_worker.py

It imports lograph and the drivers once, prints ``ready``, then reads one JSON job a
line from stdin. For each job it forks a child that opens the store, arms a SIGKILL
hook on the store log's ``append_batch`` and drives the scenario; the server waits for
the child and answers one JSON line: ``{"signal": 9}`` when the hook killed it,
``{"code": 0}`` when the scenario ran to its end (the kill point was never reached).
The server itself never starts a thread or an event loop, so forking it is safe, and a
crash costs a fork instead of an interpreter start-up.

The hook kills at append_batch number ``kill_at`` (counting from 1):

- ``before``: before the transaction starts (nothing of the batch is stored);
- ``during`` (SQLite only): inside the transaction, after the rows are inserted and
  before COMMIT (SQLite must roll the open transaction back when the file is reopened);
- ``after``: after the commit, before the writer hears of it (crash after commit,
  before acknowledge).

Everything the test needs to check the crash is appended to the job's *trace* file,
one line each, in the order it happened: ``start NAME`` / ``end NAME`` from node and
task bodies, ``batch N HASHES NAMES`` before append_batch N reaches the store, ``ack N``
once it returned, ``kill WHEN N`` just before the kill, ``done JSON`` at the end.
O_APPEND writes of a line are atomic and survive SIGKILL (they are in the kernel).
"""

from __future__ import annotations

import gc
import json
import operator
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import anyio.lowlevel

if __name__ == "__main__":  # run as a script: make `tests.*` importable as in pytest
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lograph.eventlog import Append, Event, Kind, decode
from lograph.runtime import (
    END,
    START,
    Checkpointer,
    Command,
    StateGraph,
    entrypoint,
    interrupt,
    task,
)

BEFORE, DURING, AFTER = "before", "during", "after"
MODES = ("sync", "async", "exit")
SNAPSHOT_EVERY = 7  # small: resumes load from snapshots as well as from scratch


# --- the trace ----------------------------------------------------------------------------


class Recorder:
    """Appends trace lines to a file (one ``write`` per line: atomic, survives SIGKILL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def line(self, text: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)

    def start(self, name: str) -> None:
        self.line(f"start {name}")

    def end(self, name: str) -> None:
        self.line(f"end {name}")

    def batch(self, n: int, batch: Sequence[Append]) -> None:
        events = [e for item in batch for e in item.events]
        hashes = ",".join(e.hash.hex() for e in events) or "-"
        self.line(f"batch {n} {hashes} {','.join(sorted(result_names(events))) or '-'}")

    def ack(self, n: int, results: Sequence[BaseException | None]) -> None:
        if all(r is None for r in results):
            self.line(f"ack {n}")
        else:
            self.line(f"refused {n} {[repr(r) for r in results]!r}")


def result_names(events: Sequence[Event]) -> set[str]:
    """Nodes and tasks whose result is among ``events`` (START excluded)."""
    names: set[str] = set()
    for e in events:
        if e.kind == Kind.NODE_WRITES:
            names.add(decode(e.body)["name"])
        elif e.kind == Kind.TASK_RESULT:
            body = decode(e.body)
            if body["ok"]:
                names.add(body["name"])
    return names - {START}


@dataclass
class Trace:
    """A trace file, parsed."""

    lines: list[str]
    started: Counter[str] = field(default_factory=Counter)
    ended: Counter[str] = field(default_factory=Counter)
    batches: dict[int, tuple[list[str], set[str]]] = field(default_factory=dict)
    acked: list[int] = field(default_factory=list)
    killed: tuple[str, int] | None = None
    done: Any = None
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> Trace:
        p = Path(path)
        return cls.parse(p.read_text().splitlines() if p.exists() else [])

    @classmethod
    def parse(cls, lines: list[str]) -> Trace:
        t = cls(lines)
        for line in lines:
            word, _, rest = line.partition(" ")
            if word == "start":
                t.started[rest] += 1
            elif word == "end":
                t.ended[rest] += 1
            elif word == "batch":
                n, hashes, names = rest.split(" ")
                t.batches[int(n)] = (
                    [] if hashes == "-" else hashes.split(","),
                    set() if names == "-" else set(names.split(",")),
                )
            elif word == "ack":
                t.acked.append(int(rest))
            elif word == "kill":
                when, n = rest.split(" ")
                t.killed = (when, int(n))
            elif word == "done":
                t.done = json.loads(rest)
            else:  # "refused", "error": the checks report them
                t.errors.append(line)
        return t


# --- the graphs ---------------------------------------------------------------------------


class LinState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    total: int


def build_linear(saver: Checkpointer, rec: Recorder) -> Any:
    """START -> a -> b -> c -> d -> END; a and c sync (worker thread), b and d async."""

    def sync_node(name: str) -> Callable[[LinState], dict[str, Any]]:
        def node(state: LinState) -> dict[str, Any]:
            rec.start(name)
            out = {"log": [name], "total": state.get("total", 0) + len(state["log"])}
            rec.end(name)
            return out

        return node

    def async_node(name: str) -> Callable[[LinState], Any]:
        async def node(state: LinState) -> dict[str, Any]:
            rec.start(name)
            await anyio.lowlevel.checkpoint()
            rec.end(name)
            return {"log": [name], "total": state.get("total", 0) * 2}

        return node

    b = StateGraph(LinState)
    b.add_node("a", sync_node("a"))
    b.add_node("b", async_node("b"))
    b.add_node("c", sync_node("c"))
    b.add_node("d", async_node("d"))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", "d")
    b.add_edge("d", END)
    return b.compile(checkpointer=saver)


def build_parallel(saver: Checkpointer, rec: Recorder) -> Any:
    """START -> a -> (b, c, d in parallel, finishing in that order) -> join e -> END."""

    def make(name: str, delay: float) -> Callable[[LinState], Any]:
        async def node(state: LinState) -> dict[str, Any]:
            rec.start(name)
            await anyio.sleep(delay)
            rec.end(name)
            return {"log": [f"{name}{len(state['log'])}"]}

        return node

    b = StateGraph(LinState)
    for name, delay in (("a", 0.0), ("b", 0.0), ("c", 0.003), ("d", 0.006), ("e", 0.0)):
        b.add_node(name, make(name, delay))
    b.add_edge(START, "a")
    for name in ("b", "c", "d"):
        b.add_edge("a", name)
    b.add_edge(["b", "c", "d"], "e")
    b.add_edge("e", END)
    return b.compile(checkpointer=saver)


def build_tasks(saver: Checkpointer, rec: Recorder) -> Any:
    """An @entrypoint awaiting @task calls: two in sequence, then two in parallel."""

    @task
    async def fetch(x: int) -> int:
        rec.start("fetch")
        await anyio.lowlevel.checkpoint()
        rec.end("fetch")
        return x + 1

    @task
    def square(x: int) -> int:  # a sync task: runs in a worker thread
        rec.start("square")
        rec.end("square")
        return x * x

    @task
    async def left(x: int) -> str:
        rec.start("left")
        await anyio.sleep(0.001)
        rec.end("left")
        return f"L{x}"

    @task
    async def right(x: int) -> str:
        rec.start("right")
        await anyio.sleep(0.004)
        rec.end("right")
        return f"R{x}"

    @entrypoint(checkpointer=saver)
    async def flow(n: int) -> dict[str, Any]:
        rec.start("flow")
        a = await fetch(n)
        b = await square(a)
        fl, fr = left(b), right(b)
        out = {"a": a, "b": b, "l": await fl, "r": await fr}
        rec.end("flow")
        return out

    return flow


class AskState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    answers: Annotated[list, operator.add]


def build_interrupt(saver: Checkpointer, rec: Recorder) -> Any:
    """START -> prep -> (ask_x, ask_y: two interrupt() each) -> join done, with a
    breakpoint before done. Four invocations: input, two resumes, then None."""

    def asker(name: str) -> Callable[[AskState], dict[str, Any]]:
        def node(state: AskState) -> dict[str, Any]:
            rec.start(name)
            first = interrupt(f"{name}-1")
            second = interrupt(f"{name}-2")
            rec.end(name)
            return {"answers": [f"{name}:{first}:{second}"]}

        return node

    async def prep(state: AskState) -> dict[str, Any]:
        rec.start("prep")
        rec.end("prep")
        return {"log": ["prep"]}

    async def done(state: AskState) -> dict[str, Any]:
        rec.start("done")
        rec.end("done")
        return {"log": [f"done:{len(state['answers'])}"]}

    b = StateGraph(AskState)
    b.add_node("prep", prep)
    b.add_node("ask_x", asker("ask_x"))
    b.add_node("ask_y", asker("ask_y"))
    b.add_node("done", done)
    b.add_edge(START, "prep")
    b.add_edge("prep", "ask_x")
    b.add_edge("prep", "ask_y")
    b.add_edge(["ask_x", "ask_y"], "done")
    b.add_edge("done", END)
    return b.compile(checkpointer=saver, interrupt_before=["done"])


class SubState(TypedDict, total=False):
    n: int
    trail: str


class ParentState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    n: int
    trail: str


def build_subgraph(saver: Checkpointer, rec: Recorder) -> Any:
    """START -> a -> sub -> c -> END, where sub is a compiled graph (x -> y) used as a
    node, over the parent's keys ``n`` and ``trail``."""

    def step(name: str) -> Callable[[SubState], Any]:
        async def node(state: SubState) -> dict[str, Any]:
            rec.start(name)
            await anyio.lowlevel.checkpoint()
            rec.end(name)
            return {"n": state.get("n", 0) * 3 + 1, "trail": f"{state.get('trail', '')}{name}"}

        return node

    inner = StateGraph(SubState)
    inner.add_node("x", step("x"))
    inner.add_node("y", step("y"))
    inner.add_edge(START, "x")
    inner.add_edge("x", "y")
    inner.add_edge("y", END)
    sub = inner.compile()

    def outer(name: str) -> Callable[[ParentState], dict[str, Any]]:
        def node(state: ParentState) -> dict[str, Any]:
            rec.start(name)
            rec.end(name)
            return {"log": [f"{name}:{state.get('n', 0)}:{state.get('trail', '')}"]}

        return node

    b = StateGraph(ParentState)
    b.add_node("a", outer("a"))
    b.add_node("sub", sub)
    b.add_node("c", outer("c"))
    b.add_edge(START, "a")
    b.add_edge("a", "sub")
    b.add_edge("sub", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver)


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[Checkpointer, Recorder], Any]
    input: Any
    names: tuple[str, ...]  # every body whose runs are counted
    needs: dict[str, tuple[str, ...]]  # a body's start depends on these results


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("linear", build_linear, {"log": ["in"]}, ("a", "b", "c", "d"),
                 {"b": ("a",), "c": ("b",), "d": ("c",)}),
        Scenario("parallel", build_parallel, {"log": ["in"]}, ("a", "b", "c", "d", "e"),
                 {"b": ("a",), "c": ("a",), "d": ("a",), "e": ("b", "c", "d")}),
        Scenario("tasks", build_tasks, 3, ("flow", "fetch", "square", "left", "right"),
                 {"square": ("fetch",), "left": ("square",), "right": ("square",)}),
        Scenario("interrupt", build_interrupt, {"log": ["in"]}, ("prep", "ask_x", "ask_y", "done"),
                 {"ask_x": ("prep",), "ask_y": ("prep",), "done": ("ask_x", "ask_y")}),
        Scenario("subgraph", build_subgraph, {"log": ["in"], "n": 1, "trail": ""},
                 ("a", "x", "y", "c"), {"x": ("a",), "y": ("x",), "c": ("y",)}),
    )
}


def answer(value: Any) -> str:
    """The human's answer to an interrupt: a function of its value, so every replay agrees."""
    return f"ans({value})"


async def drive(graph: Any, scenario: Scenario, config: dict[str, Any], mode: str) -> Any:
    """Take the thread from wherever it stands to the scenario's end; return the last output.

    No checkpoint yet: invoke with the input. Pending interrupts: answer them all.
    Tasks planned (a killed run, a breakpoint): ``invoke(None)``. Nothing left: done.
    Returns None when nothing was left to run.
    """
    out: Any = None
    for _ in range(20):
        state = await graph.aget_state(config)
        if state.created_at is None:
            out = await graph.ainvoke(scenario.input, config, durability=mode)
        elif state.interrupts:
            resume = {i.id: answer(i.value) for i in state.interrupts}
            out = await graph.ainvoke(Command(resume=resume), config, durability=mode)
        elif state.next:
            out = await graph.ainvoke(None, config, durability=mode)
        else:
            return out
    raise AssertionError(f"scenario {scenario.name!r} did not finish in 20 invocations")


# --- the fork server ----------------------------------------------------------------------


def _kill(rec: Recorder, when: str, n: int) -> None:
    rec.line(f"kill {when} {n}")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(30)  # never reached


def arm(log: Any, rec: Recorder, kill_at: int | None, when: str) -> None:
    """Trace every append_batch of ``log`` (the store's own object) and kill at one."""
    inner = log.append_batch
    calls = 0
    during = [False]
    if when == DURING:
        from lograph.adapters import _sqlite_sql

        insert = _sqlite_sql._append_all

        def insert_then_die(conn: Any, batch: Sequence[Append], *rest: Any) -> Any:
            result = insert(conn, batch, *rest)
            if during[0]:  # rows inserted, transaction open: die before COMMIT
                _kill(rec, DURING, calls)
            return result

        _sqlite_sql._append_all = insert_then_die  # this child process only

    async def append_batch(batch: Sequence[Append], **how: Any) -> list[BaseException | None]:
        nonlocal calls
        calls += 1
        n = calls
        rec.batch(n, batch)
        if n == kill_at and when == BEFORE:
            _kill(rec, BEFORE, n)
        during[0] = n == kill_at and when == DURING
        results: list[BaseException | None] = await inner(batch, **how)
        if n == kill_at and when == AFTER:
            _kill(rec, AFTER, n)
        rec.ack(n, results)
        return results

    log.append_batch = append_batch


async def open_store(store: str, target: str, schema: str) -> Any:
    if store == "sqlite":
        from lograph.adapters.sqlite import SqliteLog

        return await SqliteLog.open(target)
    from lograph.adapters.postgres import PostgresLog

    return await PostgresLog.open(target, schema=schema, max_size=2)


async def run_job(job: dict[str, Any]) -> None:
    rec = Recorder(job["trace"])
    scenario = SCENARIOS[job["scenario"]]
    log = await open_store(job["store"], job["target"], job["schema"])
    try:
        arm(log, rec, job.get("kill_at"), job.get("when", BEFORE))
        saver = Checkpointer(log, snapshot_every=SNAPSHOT_EVERY)
        graph = scenario.build(saver, rec)
        config = {"configurable": {"thread_id": job["thread"]}}
        out = await drive(graph, scenario, config, job["mode"])
        rec.line(f"done {json.dumps(out, default=repr)}")
    finally:
        await log.aclose()


def child(job: dict[str, Any]) -> int:
    try:
        anyio.run(run_job, job, backend=job.get("backend", "asyncio"))
    except BaseException:  # noqa: BLE001 - reported through the trace
        Recorder(job["trace"]).line("error " + traceback.format_exc().replace("\n", " | "))
        return 1
    return 0


def warm() -> None:
    """Import up front what every child needs, so a fork does not pay for it each time."""
    import importlib

    for module in ("anyio._backends._asyncio", "anyio._backends._trio", "trio", "asyncpg",
                   "aiosqlite", "lograph.adapters.sqlite", "lograph.adapters.postgres",
                   "lograph.adapters._sqlite_sql"):
        importlib.import_module(module)
    gc.freeze()  # children do not copy the server's objects when they collect


def serve() -> None:
    warm()
    print("ready", flush=True)
    for raw in sys.stdin:
        job = json.loads(raw)
        pid = os.fork()
        if pid == 0:  # the child: never returns into the server's loop
            code = 1
            try:
                code = child(job)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            reply = {"signal": os.WTERMSIG(status)}
        else:
            reply = {"code": os.WEXITSTATUS(status)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    serve()
