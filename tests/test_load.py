"""Load: many threads at once with flat memory and no errors; two processes racing on
one thread, one winning and one getting the conflict error, every time.

Default size: 50 threads for a few seconds per store and backend, 6 race rounds per mode.
``LOGRAPH_RELIABILITY=full``: 200 threads for two minutes on SQLite and on PostgreSQL
(each backend), 60 race rounds per mode.

Memory is this process's resident set (VmRSS from /proc), sampled while the load runs;
after a warm-up its growth must stay under a bound (the queues to the writer are
bounded and idle threads hold only their cached fold, so it must not grow with the
number of runs).
"""

from __future__ import annotations

import operator
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Append, ConflictError, Kind, decode, fold
from lograph.runtime import END, START, Checkpointer, StateGraph, task
from tests import _store_postgres as pg
from tests._reliability import TIMEOUT, record, rss_kib, scale, tally
from tests._stores import open_log
from tests.faults import finished, verify_chain

THREADS = scale(50, 200)
SECONDS = scale(2.5, 120.0)
ROUNDS = scale(6, 60)
# RSS growth allowed after the warm-up: a little slack, plus a few bytes per run (a leak
# of a journal per run, ~3 KiB, grows it by MiBs and fails; a clean run grows < 0.5 MiB)
RSS_SLACK_KIB = 3 * 1024
RSS_PER_RUN_BYTES = 256
MODES = ("sync", "async", "exit")
ROOT = Path(__file__).resolve().parent.parent


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# --- many threads at once ------------------------------------------------------------------------


class Work(TypedDict, total=False):
    count: Annotated[int, operator.add]
    last: str


def load_graph(saver: Checkpointer) -> Any:
    """START -> think -> act (which calls a @task) -> END; a constant-size state."""

    @task
    async def lookup(n: int) -> int:
        await anyio.lowlevel.checkpoint()
        return n * 2

    async def think(state: Work) -> dict[str, Any]:
        await anyio.sleep(0.001 * (state.get("count", 0) % 3))
        return {"count": 1, "last": "think"}

    async def act(state: Work) -> dict[str, Any]:
        doubled = await lookup(state["count"])
        return {"count": 1, "last": f"act{doubled}"}

    b = StateGraph(Work)
    b.add_node("think", think)
    b.add_node("act", act)
    b.add_edge(START, "think")
    b.add_edge("think", "act")
    b.add_edge("act", END)
    return b.compile(checkpointer=saver)


@asynccontextmanager
async def real_log(store: str, tmp_path: Path) -> AsyncIterator[Any]:
    if store == "postgres":
        from lograph.adapters.postgres import PostgresLog

        async with await PostgresLog.open(await pg.dsn(), schema=pg.fresh_schema(), max_size=8) as log:
            await log.setup()
            yield log
    else:
        async with open_log(store, tmp_path) as log:
            yield log


@pytest.mark.anyio
@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_many_threads_at_once_hold_flat_memory_and_make_no_errors(
    anyio_backend: str, store: str, tmp_path: Path
) -> None:
    async with real_log(store, tmp_path) as log:
        saver = Checkpointer(log, snapshot_every=50)
        graph = load_graph(saver)
        runs: Counter[str] = Counter()
        errors: list[str] = []
        samples: list[tuple[float, int, int]] = []  # (seconds, RSS KiB, runs so far)
        queue_peak = 0
        started = time.monotonic()
        deadline = started + SECONDS

        async def client(i: int) -> None:
            thread = f"load-{i}"
            k = i
            while time.monotonic() < deadline:
                try:
                    await graph.ainvoke({"count": 0}, cfg(thread), durability=MODES[k % 3])
                except Exception as e:  # noqa: BLE001 - every error counts against the load
                    errors.append(f"{thread}: {e!r}")
                else:
                    runs[thread] += 1
                k += 1

        async def sample() -> None:
            nonlocal queue_peak
            while time.monotonic() < deadline:
                samples.append((time.monotonic() - started, rss_kib(), sum(runs.values())))
                queue_peak = max(queue_peak, saver.writer.queued)
                await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            for i in range(THREADS):
                tg.start_soon(client, i)
        elapsed = time.monotonic() - started
        samples.append((elapsed, rss_kib(), sum(runs.values())))

        assert not errors, f"{len(errors)} errors under load, first: {errors[:3]}"
        assert len(runs) == THREADS, "a thread never finished a run"
        # memory: after the first third (imports, caches, pools warm), no growth with runs
        _, warm, warm_runs = next(s for s in samples if s[0] >= SECONDS / 3)
        end, end_runs = samples[-1][1], samples[-1][2]
        peak = max(kib for _, kib, _ in samples)
        bound = RSS_SLACK_KIB + (end_runs - warm_runs) * RSS_PER_RUN_BYTES // 1024
        assert end - warm < bound, (
            f"RSS grew {(end - warm) / 1024:.1f} MiB over {end_runs - warm_runs} runs after the "
            f"warm-up ({warm} -> {end} KiB; allowed {bound / 1024:.1f} MiB)"
        )
        assert queue_peak <= THREADS, f"the writer's queue held {queue_peak} appends"

        # nothing lost: every thread's log is whole and its state counts every run
        fresh = load_graph(Checkpointer(log))
        for thread, n in runs.items():
            events = await log.read(thread)
            verify_chain(events)
            assert finished(events) == ["done"] * n, thread
            state = await fresh.aget_state(cfg(thread))
            assert state.values["count"] == 2 * n, (thread, state.values, n)
            assert fold(None, events).values == state.values
        total = sum(runs.values())
        tally(f"load_{store}", runs=total, node_steps=2 * total, errors=len(errors))
        record(f"load_{store}_{anyio_backend}", threads=THREADS, seconds=round(elapsed, 1),
              runs=total, runs_per_second=round(total / elapsed), errors=len(errors),
              rss_start_kib=samples[0][1], rss_warm_kib=warm, rss_end_kib=end, rss_peak_kib=peak,
              runs_after_warm_up=end_runs - warm_runs, rss_bound_kib=bound,
              writer_queue_peak=queue_peak, transactions=saver.writer.transactions)


# --- two processes on one thread ------------------------------------------------------------------


class Racer:
    """A tests/race_worker.py process."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "error", str(ROOT / "tests" / "race_worker.py"), name, *argv],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "ready", f"{name} did not start: {line!r}"

    def go(self, thread: str, mode: str, round_: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"go {thread} {mode} {round_}\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

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


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def racers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Racer], Any]]:
    store = str(request.param)
    if store == "sqlite":
        target = str(tmp_path_factory.mktemp("race") / "race.db")
        argv = ["sqlite", target]
    else:
        target, schema = pg.server().dsn, pg.fresh_schema()

        async def setup() -> None:
            from lograph.adapters.postgres import PostgresLog

            async with await PostgresLog.open(target, schema=schema) as log:
                await log.setup()

        anyio.run(setup)
        argv = ["postgres", target, schema]
    procs = [Racer("p1", argv), Racer("p2", argv)]
    try:
        yield store, procs, argv
    finally:
        for p in procs:
            p.close()


def read_thread(argv: list[str], thread: str) -> Any:
    async def go() -> Any:
        if argv[0] == "sqlite":
            from lograph.adapters.sqlite import SqliteLog

            log: Any = await SqliteLog.open(argv[1])
        else:
            from lograph.adapters.postgres import PostgresLog

            log = await PostgresLog.open(argv[1], schema=argv[2], max_size=1)
        async with log:
            return await log.read(thread)

    return anyio.run(go)




@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("mode", MODES)
def test_two_processes_on_one_thread_take_turns_every_time(
    racers: tuple[str, list[Racer], Any], mode: str
) -> None:
    """Two plain calls at once from two processes: each holds the thread's turn in turn
    (``_turns``), so both runs are applied whole, one after the other, and neither fails.
    (Without turns the append's optimism decides: the step-by-step race below.)"""
    store, procs, argv = racers
    thread = f"shared-{mode}"
    seen: Counter[str] = Counter()
    for r in range(ROUNDS):
        for p in procs:
            p.go(thread, mode, r)
        answers = {p.name: p.answer() for p in procs}
        seen.update(answers.values())
        assert list(answers.values()) == ["ok", "ok"], f"{store}/{mode} round {r}: {answers}"
        events = read_thread(argv, thread)
        verify_chain(events)
        log = fold(None, events).values["log"]
        for p in procs:  # each run whole: its input, its step, its end, not interleaved
            at = log.index(f"{p.name}-{r}")
            assert log[at + 1].startswith("step") and log[at + 2] == "done", f"round {r}: {log[-6:]}"
        assert len(log) == 6 * (r + 1) and log[-1] == "done" and finished(events)[-1] == "done"
    tally("two_process_race", rounds=ROUNDS, runs=seen["ok"], conflicts=seen["conflict"])


# --- the race, step by step --------------------------------------------------------------------


class Gated:
    """A view of a shared log whose append_batch number n first waits for ``gates[n]``."""

    def __init__(self, inner: Any, gates: dict[int, anyio.Event]) -> None:
        self.inner = inner
        self.gates = gates
        self.calls = 0
        self.returned = {n: anyio.Event() for n in range(1, 4)}

    async def append_batch(self, batch: list[Append]) -> list[BaseException | None]:
        self.calls += 1
        n = self.calls
        if n in self.gates:
            await self.gates[n].wait()
        try:
            results: list[BaseException | None] = await self.inner.append_batch(batch)
            return results
        finally:
            if n in self.returned:
                self.returned[n].set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def one_step(saver: Checkpointer) -> Any:
    b = StateGraph(Work)
    b.add_node("work", lambda s: {"count": 1})
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b.compile(checkpointer=saver)


@pytest.mark.anyio
async def test_the_loser_of_a_race_never_breaks_the_chain(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """Both runs read head 0; the winner's first step commits; the loser's first append
    conflicts and it finishes its run while the winner waits to append its second batch."""
    async with open_log(store_kind, tmp_path) as log:
        loser_done = anyio.Event()
        winner_log = Gated(log, {2: loser_done})
        loser_log = Gated(log, {1: winner_log.returned[1]})
        winner, loser = one_step(Checkpointer(winner_log)), one_step(Checkpointer(loser_log))
        outcomes: dict[str, str] = {}

        async def run(name: str, graph: Any) -> None:
            try:
                await graph.ainvoke({"count": 1}, cfg("t"), durability="sync")
                outcomes[name] = "ok"
            except ConflictError:
                outcomes[name] = "conflict"
            finally:
                if name == "loser":
                    loser_done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "loser", loser)
            await anyio.sleep(0.05)  # the loser has read head 0 and waits at its first append
            tg.start_soon(run, "winner", winner)
        events = await log.read("t")
        verify_chain(events)
        assert outcomes == {"loser": "conflict", "winner": "ok"}
        runs = {e.run_id for e in events}
        assert len(runs) == 1, "the loser wrote into the winner's thread"
        assert [decode(e.body)["status"] for e in events if e.kind == Kind.RUN_FINISHED] == ["done"]
