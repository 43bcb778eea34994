"""The crash-point sweep: nothing is lost and nothing is redone, at every append.

For five graphs (linear; parallel with a join; functional with @task calls; interrupt()
and a breakpoint over four invocations; a subgraph), in each durability mode, a run is
killed at every append_batch of its whole scenario, then a new process drives the thread
to the scenario's end. Two ways to die:

- a real SIGKILL (tests/sweep_worker.py forks a worker per crash point and kills it from
  a hook on the store log's append_batch: before the transaction, inside it before
  COMMIT (SQLite), or after the commit before the writer hears of it), on SQLite and
  PostgreSQL; the resume runs in this process on a freshly opened saver;
- the in-process fault wrapper (tests/faults.py ``FaultyLog``: crash before commit,
  crash after commit before acknowledge), on memory, SQLite and PostgreSQL.

Invariants (every crash point; see ``check_killed`` and ``check_resumed``):
- the store holds exactly the batches that were committed: every acknowledged event,
  nothing half-written, nothing of a batch that never reached COMMIT; the hash chain
  verifies; in ``exit`` mode every run in the log is whole (started and finished);
- ``sync``: no body started before the results it depends on were acknowledged (checked
  on the order of the trace), so no recorded node or task runs twice;
- after resuming: the final state and output equal the uncrashed run's; a node or task
  whose result was in the log at the crash did not run again, any other ran exactly once
  more; the resume only appended to the log.

Default size: the asyncio and trio runs of a test take alternate crash points, then an
even spread of at most 6 (SIGKILL) or 3 (in-process) of them. ``LOGRAPH_RELIABILITY=full``:
every crash point on both backends.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import Append, Event, Kind, fold
from lograph.runtime import Checkpointer
from tests._reliability import TIMEOUT, scale, spread, tally
from tests._stores import open_log
from tests.faults import (
    AFTER,
    BEFORE,
    Crash,
    FaultyLog,
    finished,
    is_crash,
    recorded_results,
    verify_chain,
)
from tests.sweep_worker import (
    DURING,
    MODES,
    SCENARIOS,
    SNAPSHOT_EVERY,
    Recorder,
    Scenario,
    Trace,
    drive,
)

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("sweep_worker.py")
ROOT = WORKER.parent.parent
BACKENDS = ("asyncio", "trio")
#: crash points per test in the default size (each backend; full size: all of them)
SIGKILL_POINTS = 6
IN_PROCESS_POINTS = 3
RESUMED = 1001  # batches of the resumed process are numbered from here in the trace



def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def mine(points: list[Any], backend: str, keep: int) -> list[Any]:
    """The crash points this backend's run takes: all in full size; by default every other
    one (the two backends share the points), then at most ``keep`` of those, spread."""
    if scale(False, True):
        return points
    return spread(points[BACKENDS.index(backend)::2], keep)


# --- tracing wrappers ---------------------------------------------------------------------


class TracingLog:
    """An EventLog that traces every append_batch (``batch`` before, ``ack`` after)."""

    def __init__(self, inner: Any, rec: Recorder, *, first: int = 1) -> None:
        self.inner = inner
        self.rec = rec
        self.next = first

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        n, self.next = self.next, self.next + 1
        self.rec.batch(n, batch)
        results: list[BaseException | None] = await self.inner.append_batch(batch)
        self.rec.ack(n, results)
        return results

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        (error,) = await self.append_batch([Append(thread, tuple(events), expect_head)])
        if error is not None:
            raise error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TracingFaultyLog(FaultyLog):
    """tests/faults.py's FaultyLog, tracing like the SIGKILL hook does."""

    def __init__(self, inner: Any, rec: Recorder, *, at: int, when: str) -> None:
        super().__init__(inner, at=at, when=when)
        self.rec = rec

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self._alive()
        n = self.calls + 1
        self.rec.batch(n, batch)
        try:
            results = await super().append_batch(batch)
        except Crash:
            self.rec.line(f"kill {self.when} {n}")
            raise
        self.rec.ack(n, results)
        return results




# --- the checks -----------------------------------------------------------------------------


def check_order(trace: Trace, sc: Scenario, where: str, recovered: AbstractSet[str] = frozenset()) -> None:
    """``sync``: every body started only after the results it needs were acknowledged.

    ``recovered``: the results in the store at the crash, which the resumed process reads
    back (acknowledged by recovery from the ``kill`` line on).
    """
    acked: set[str] = set()
    for line in trace.lines:
        word, _, rest = line.partition(" ")
        if word == "ack":
            acked |= trace.batches[int(rest)][1]
        elif word == "kill":
            acked |= recovered
        elif word == "start":
            missing = [n for n in sc.needs.get(rest, ()) if n not in acked]
            assert not missing, f"{where}: {rest!r} started before {missing} were acknowledged"


def check_killed(trace: Trace, events: list[Event], sc: Scenario, mode: str, where: str) -> set[str]:
    """The store right after the crash. Returns the bodies whose results it holds."""
    assert not trace.errors, f"{where}: {trace.errors}"
    assert trace.killed is not None, f"{where}: no kill in the trace"
    when, k = trace.killed
    assert trace.acked == list(range(1, k)), f"{where}: acknowledged batches {trace.acked}"
    committed = [h for n in trace.acked for h in trace.batches[n][0]]
    if when == AFTER:  # committed; the writer never heard back
        committed += trace.batches[k][0]
    stored = [e.hash.hex() for e in events]
    missing = [h for h in committed if h not in stored]
    assert not missing, f"{where}: {len(missing)} acknowledged events are missing from the store"
    assert stored == committed, (
        f"{where}: the store holds {len(stored)} events, whole committed batches make "
        f"{len(committed)}: something was half-written"
    )
    verify_chain(events)
    for e in events:  # every stored body decodes: nothing torn
        fold(None, [e])
    if mode == "sync":
        check_order(trace, sc, where)
    if mode == "exit":  # a run is written whole or not at all
        started = {e.run_id for e in events if e.kind == Kind.RUN_STARTED}
        ended = {e.run_id for e in events if e.kind == Kind.RUN_FINISHED}
        assert started == ended, f"{where}: exit mode left a run half-written"
    return recorded_results(events)


async def check_resumed(
    log: Any, graph: Any, thread: str, sc: Scenario, mode: str, where: str, *,
    at_kill: Trace, after: Trace, events: list[Event], recorded: set[str],
    out: Any, ref: Reference,
) -> None:
    assert not after.errors, f"{where}: {after.errors}"
    state = await graph.aget_state(cfg(thread))
    assert state.values == ref.values, f"{where}: the resumed state differs from the uncrashed run's"
    assert not state.next and not state.interrupts, f"{where}: the scenario did not finish"
    if out is not None:
        assert _plain(out) == ref.output, f"{where}: the resumed output differs"
    final = await log.read(thread)
    verify_chain(final)
    assert final[: len(events)] == events, f"{where}: the resume rewrote the log"
    assert finished(final)[-1] == "done", f"{where}: {finished(final)}"
    assert fold(None, final).values == ref.folded, f"{where}: fold(log) differs"
    for name in sc.names:
        again = after.ended[name] - at_kill.ended[name]
        want = 0 if name in recorded else 1
        assert again == want, (
            f"{where}: {name!r} ran {again} more time(s) after the crash, expected {want} "
            f"(recorded at the crash: {sorted(recorded)})"
        )
    if mode == "sync":
        check_order(after, sc, where, recorded)


def _plain(value: Any) -> Any:
    """What a value looks like after a JSON round trip (the worker reports outputs as JSON)."""
    return json.loads(json.dumps(value, default=repr))


class Reference:
    """The uncrashed run of a scenario: its batches, final state, fold and output."""

    def __init__(self, batches: int, values: Any, folded: Any, output: Any) -> None:
        self.batches = batches
        self.values = values
        self.folded = folded
        self.output = output


def bury_dead_process() -> None:
    """Collect what a crashed in-process run left (see tests/test_durability.py)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# --- SIGKILL through the fork server --------------------------------------------------------


class ForkServer:
    """tests/sweep_worker.py as a server: one job a line in, one reply a line out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "error", str(WORKER)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )
        self._lock = threading.Lock()
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()
        assert ready == "ready", f"the fork server did not start: {ready!r}"

    def run(self, **job: Any) -> dict[str, Any]:
        with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
        assert reply, f"the fork server died (exit {self.proc.poll()})"
        result: dict[str, Any] = json.loads(reply)
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def forks() -> Iterator[ForkServer]:
    server = ForkServer()
    try:
        yield server
    finally:
        server.close()


@asynccontextmanager
async def real_store(store: str, tmp_path: Path) -> AsyncIterator[tuple[Any, dict[str, str]]]:
    """An opened log on a real store, and where a worker process finds the same store."""
    if store == "sqlite":
        from lograph.adapters.sqlite import SqliteLog

        target = str(tmp_path / "sweep.db")
        async with await SqliteLog.open(target) as log:
            yield log, {"store": store, "target": target, "schema": ""}
        return
    from lograph.adapters.postgres import PostgresLog
    from tests import _store_postgres as pg

    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema, max_size=2) as log:
        await log.setup()
        yield log, {"store": store, "target": dsn, "schema": schema}


def whens(store: str) -> tuple[str, ...]:
    return (BEFORE, DURING, AFTER) if store == "sqlite" else (BEFORE, AFTER)


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_sigkill_at_every_append(
    anyio_backend: str, store: str, mode: str, scenario: str, tmp_path: Path, forks: ForkServer
) -> None:
    sc = SCENARIOS[scenario]
    async with real_store(store, tmp_path) as (log, where_store):

        async def fork(**job: Any) -> dict[str, Any]:
            job = {**where_store, "scenario": scenario, "mode": mode, "backend": anyio_backend, **job}
            return await anyio.to_thread.run_sync(lambda: forks.run(**job))

        ref_trace = tmp_path / "ref.trace"
        reply = await fork(thread="ref", trace=str(ref_trace), kill_at=None)
        reference = Trace.read(ref_trace)
        assert reply == {"code": 0} and not reference.errors, (reply, reference.errors)
        graph = sc.build(Checkpointer(log), Recorder(tmp_path / "unused.trace"))
        ref = Reference(
            len(reference.batches), (await graph.aget_state(cfg("ref"))).values,
            fold(None, await log.read("ref")).values, reference.done,
        )
        points = [(at, when) for at in range(1, ref.batches + 1) for when in whens(store)]
        swept = killed = 0
        for at, when in mine(points, anyio_backend, SIGKILL_POINTS):
            thread = f"{when}-{at}"
            where = f"{store}/{mode}/{scenario}: SIGKILL {when} commit #{at}"
            path = tmp_path / f"{thread}.trace"
            reply = await fork(thread=thread, trace=str(path), kill_at=at, when=when)
            swept += 1
            at_kill = Trace.read(path)
            if reply == {"code": 0}:  # batching varies (async mode): fewer batches this time
                assert at_kill.killed is None and not at_kill.errors, where
                assert at_kill.done == ref.output, where
                continue
            assert reply == {"signal": 9}, f"{where}: {reply} {at_kill.errors}"
            events = await log.read(thread)
            recorded = check_killed(at_kill, events, sc, mode, where)
            rec = Recorder(path)
            saver = Checkpointer(TracingLog(log, rec, first=RESUMED), snapshot_every=SNAPSHOT_EVERY)
            resumed = sc.build(saver, rec)
            out = await drive(resumed, sc, cfg(thread), mode)
            await check_resumed(
                log, resumed, thread, sc, mode, where, at_kill=at_kill, after=Trace.read(path),
                events=events, recorded=recorded, out=out, ref=ref,
            )
            killed += 1
        assert killed >= 1 or not points, f"{store}/{mode}/{scenario}: no crash point was hit"
        first = anyio_backend == BACKENDS[0]  # count the store's boundaries once
        tally("sweep_sigkill", commit_boundaries=ref.batches if first else 0,
              crash_points=len(points) if first else 0, crash_points_tried=swept,
              crashes_survived=killed)


# --- the in-process fault wrapper ------------------------------------------------------------


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("mode", MODES)
async def test_in_process_crash_at_every_append(
    anyio_backend: str, store_kind: str, mode: str, scenario: str, tmp_path: Path
) -> None:
    sc = SCENARIOS[scenario]
    async with open_log(store_kind, tmp_path) as inner:
        ref_path = tmp_path / "ref.trace"
        rec = Recorder(ref_path)
        graph = sc.build(Checkpointer(TracingLog(inner, rec), snapshot_every=SNAPSHOT_EVERY), rec)
        output = await drive(graph, sc, cfg("ref"), mode)
        reference = Trace.read(ref_path)
        ref = Reference(
            len(reference.batches), (await graph.aget_state(cfg("ref"))).values,
            fold(None, await inner.read("ref")).values, _plain(output),
        )
        assert all(reference.ended[n] == 1 for n in sc.names), reference.ended
        points = [(at, when) for at in range(1, ref.batches + 1) for when in (BEFORE, AFTER)]
        chosen = mine(points, anyio_backend, IN_PROCESS_POINTS)
        crashes = 0
        for at, when in chosen:
            thread = f"{when}-{at}"
            where = f"{store_kind}/{mode}/{scenario}: crash {when} commit #{at}"
            path = tmp_path / f"{thread}.trace"
            rec = Recorder(path)
            faulty = TracingFaultyLog(inner, rec, at=at, when=when)
            crashed = sc.build(Checkpointer(faulty, snapshot_every=SNAPSHOT_EVERY), rec)
            try:
                out = await drive(crashed, sc, cfg(thread), mode)
            except BaseException as e:
                if not is_crash(e):
                    raise
                if mode == "async":
                    bury_dead_process()
            else:  # fewer batches this time (batching varies): nothing to recover
                assert not faulty.dead, where
                assert _plain(out) == ref.output, where
                continue
            at_kill = Trace.read(path)
            events = await inner.read(thread)
            recorded = check_killed(at_kill, events, sc, mode, where)
            saver = Checkpointer(TracingLog(inner, rec, first=RESUMED), snapshot_every=SNAPSHOT_EVERY)
            resumed = sc.build(saver, rec)
            out = await drive(resumed, sc, cfg(thread), mode)
            await check_resumed(
                inner, resumed, thread, sc, mode, where, at_kill=at_kill, after=Trace.read(path),
                events=events, recorded=recorded, out=out, ref=ref,
            )
            crashes += 1
        assert crashes >= 1 or not chosen, f"{store_kind}/{mode}/{scenario}: no crash point was hit"
        first = anyio_backend == BACKENDS[0]
        tally("sweep_in_process", commit_boundaries=ref.batches if first else 0,
              crash_points=len(points) if first else 0, crash_points_tried=len(chosen),
              crashes_survived=crashes)


async def test_sync_last_sibling_commits_with_the_boundary(store_kind: str, tmp_path: Path) -> None:
    """A slow commit: c's barrier waits behind b's while d, the last sibling, finishes.
    d's writes must go in the step boundary's commit, not in c's: else a crash before the
    boundary leaves a step whose tasks all wrote (live ``next == ()``: looks finished)."""
    sc = SCENARIOS["parallel"]
    async with open_log(store_kind, tmp_path) as inner:
        rec = Recorder(tmp_path / "t.trace")
        graph = sc.build(Checkpointer(FaultyLog(inner, at=5, when=BEFORE, delay=0.01)), rec)
        with pytest.raises(BaseException) as caught:
            await drive(graph, sc, cfg("t"), "sync")
        assert is_crash(caught.value)
        # a, b and whichever of c and d finished first (trio may wake them in either order)
        assert len(recorded_results(await inner.read("t"))) == 3
        resumed = sc.build(Checkpointer(inner), rec)
        assert len((await resumed.aget_state(cfg("t"))).next) == 1
        await drive(resumed, sc, cfg("t"), "sync")
        assert (await resumed.aget_state(cfg("t"))).values["log"][-1] == "e5"
