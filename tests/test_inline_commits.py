"""Inline commits: when a commit runs on the caller's thread, and that it is safe there.

The log writer asks for an inline append only when its caller waits for it and no other
thread is being worked on in the process (nothing could join the transaction); the
SQLite store then runs it on the caller's thread only while the connection is idle and
writes are fast, and never lets SQLite wait on that thread for another process's lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import anyio
import pytest

from lograph.adapters import _sqlite_sql
from lograph.adapters.sqlite import SqliteLog, SqliteSaver
from lograph.eventlog import Append, Capability, MemoryLog
from lograph.eventlog.testing import chain
from lograph.runtime import END, START, StateGraph
from lograph.runtime.lowlevel import Checkpointer

anyio_mark = pytest.mark.anyio


# --- the SQLite store: where an append runs -------------------------------------------


@pytest.fixture
def ran_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread ident of every append the SQLite store runs."""
    seen: list[int] = []
    inner = _sqlite_sql.append_batch

    def spy(conn: sqlite3.Connection, batch: Sequence[Append], *rest: Any) -> Any:
        seen.append(threading.get_ident())
        return inner(conn, batch, *rest)

    monkeypatch.setattr(_sqlite_sql, "append_batch", spy)
    return seen


@pytest.fixture
def fast_disk(monkeypatch: pytest.MonkeyPatch) -> float:
    """Every real write counts as cheap: what a test that expects inline commits needs on
    a machine whose disk is busy (a commit over the budget rightly goes to the worker)."""
    monkeypatch.setattr(SqliteLog, "INLINE_BUDGET", 5.0)
    return SqliteLog.INLINE_BUDGET


def _one(thread: str, n: int = 1, head: int = 0) -> list[Append]:
    events = chain(head + n)[head:]
    return [Append(thread, tuple(events), head)]


@anyio_mark
async def test_an_inline_append_runs_on_the_callers_thread_while_that_is_cheap(
    tmp_path: Path, ran_on: list[int], fast_disk: float
) -> None:
    here = threading.get_ident()
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        assert await log.append_batch(_one("a"), inline=True) == [None]
        assert await log.append_batch(_one("b")) == [None]
        assert ran_on == [here, ran_on[1]] and ran_on[1] != here  # asked for / not asked for

        # a slow disk: appends go to the driver's thread, so the event loop never stalls
        log._write_cost = 2 * fast_disk
        assert await log.append_batch(_one("c"), inline=True) == [None]
        assert ran_on[-1] != here
        # ... until writes are fast again (the moving average comes down)
        for i in range(40):
            await log.append_batch(_one(f"d{i}"))
        assert log._write_cost < SqliteLog.INLINE_BUDGET
        await log.append_batch(_one("e"), inline=True)
        assert ran_on[-1] == here
        assert [await log.head(t) for t in ("a", "b", "c", "e")] == [1, 1, 1, 1]


@anyio_mark
async def test_an_inline_append_waits_for_a_connection_in_use(tmp_path: Path, ran_on: list[int]) -> None:
    here = threading.get_ident()
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        log._driver.acquire()  # as if the worker thread were in the middle of a call
        threading.Timer(0.2, log._driver.release).start()
        started = anyio.current_time()
        assert await log.append_batch(_one("a"), inline=True) == [None]
        assert anyio.current_time() - started >= 0.15  # it waited, on the worker's thread
        assert ran_on == [ran_on[0]] and ran_on[0] != here
        assert await log.read("a") == chain(1)


@anyio_mark
async def test_an_inline_append_never_waits_for_another_process_on_the_event_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path, busy_timeout=5) as log:
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        threading.Timer(0.3, lambda: (holder.execute("COMMIT"), holder.close())).start()
        ticks = 0
        done = anyio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            assert await log.append_batch(_one("a"), inline=True) == [None]
            done.set()
        assert ticks >= 10  # the loop ran on while the append waited for the lock
        assert await log.read("a") == chain(1)


@anyio_mark
async def test_a_closed_store_refuses_an_inline_append_as_it_refuses_any(tmp_path: Path) -> None:
    from lograph.eventlog import StoreUnavailableError

    log = await SqliteLog.open(tmp_path / "store.db")
    await log.aclose()
    with pytest.raises(StoreUnavailableError, match="closed"):
        await log.append_batch(_one("a"), inline=True)
    with pytest.raises(StoreUnavailableError, match="closed"):
        await log.head("a")


# --- the log writer: when it asks for an inline append ---------------------------------


class RecordingLog(MemoryLog):
    """A memory log that says it can append inline and records what it was asked."""

    capabilities = frozenset({Capability.INLINE_APPENDS})

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, bool]] = []

    async def append_batch(self, batch: Sequence[Append], *, inline: bool = False) -> list[BaseException | None]:
        for item in batch:
            self.asked.append((item.thread, inline))
        return await super().append_batch(batch)


class S(TypedDict):
    n: int


def _graph(saver: Any, pause: float = 0.0) -> Any:
    async def step(s: S) -> dict[str, int]:
        if pause:
            await anyio.sleep(pause)
        return {"n": s["n"] + 1}

    b = StateGraph(S)
    b.add_node("one", step)
    b.add_node("two", step)
    b.add_edge(START, "one")
    b.add_edge("one", "two")
    b.add_edge("two", END)
    return b.compile(checkpointer=saver)


@anyio_mark
async def test_a_run_alone_in_sync_mode_commits_inline() -> None:
    log = RecordingLog()
    graph = _graph(Checkpointer(log))
    assert await graph.ainvoke({"n": 0}, {"configurable": {"thread_id": "t"}}, durability="sync") == {"n": 2}
    assert len(log.asked) == 3 and all(inline for _, inline in log.asked)
    exit_log = RecordingLog()
    await _graph(Checkpointer(exit_log)).ainvoke({"n": 0}, {"configurable": {"thread_id": "t"}}, durability="exit")
    assert exit_log.asked == [("t", True)]


@anyio_mark
async def test_runs_side_by_side_never_commit_inline() -> None:
    log = RecordingLog()
    graph = _graph(Checkpointer(log), pause=0.02)
    async with anyio.create_task_group() as tg:
        for thread in ("a", "b"):
            tg.start_soon(lambda t=thread: graph.ainvoke({"n": 0}, {"configurable": {"thread_id": t}},
                                                         durability="sync"))
    def flags(thread: str) -> list[bool]:
        return [inline for t, inline in log.asked if t == thread]

    # each run's middle commit comes while both are under way (the first and the last
    # may come while the other has not started or has finished: either way is right)
    assert len(flags("a")) == len(flags("b")) == 3
    assert flags("a")[1] is False and flags("b")[1] is False


@anyio_mark
async def test_an_async_runs_background_flushes_are_never_inline() -> None:
    log = RecordingLog()
    graph = _graph(Checkpointer(log), pause=0.02)
    await graph.ainvoke({"n": 0}, {"configurable": {"thread_id": "t"}}, durability="async")
    assert [inline for _, inline in log.asked][:-1] == [False] * (len(log.asked) - 1)
    assert len(log.asked) >= 2
    assert log.asked[-1] == ("t", True)  # the last flush: the run is waiting for it


@anyio_mark
async def test_sqlite_sync_runs_commit_on_the_callers_thread(
    tmp_path: Path, ran_on: list[int], fast_disk: float
) -> None:
    async with SqliteSaver.from_conn_string(tmp_path / "store.db") as saver:
        graph = _graph(saver)
        here = threading.get_ident()
        assert await graph.ainvoke({"n": 0}, {"configurable": {"thread_id": "t"}}, durability="sync") == {"n": 2}
        assert ran_on == [here] * 3
        state = await graph.aget_state({"configurable": {"thread_id": "t"}})
        assert state.values == {"n": 2}


@anyio_mark
async def test_small_reads_run_on_the_callers_thread_and_large_ones_on_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    inner = _sqlite_sql.read

    def spy(conn: sqlite3.Connection, *args: Any) -> Any:
        seen.append(threading.get_ident())
        return inner(conn, *args)

    monkeypatch.setattr(_sqlite_sql, "read", spy)
    here = threading.get_ident()
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        await log.append("t", chain(3), 0)
        assert await log.read("t", after=1, upto=3) == chain(3)[1:]  # a fold's few events
        assert seen[-1] == here
        assert await log.read("t") == chain(3)  # unbounded: the worker
        assert seen[-1] != here
        assert await log.read("t", after=0, upto=SqliteLog.INLINE_ROWS + 1) == chain(3)
        assert seen[-1] != here
        log._driver.acquire()  # the connection busy: even a small read waits on the worker
        threading.Timer(0.1, log._driver.release).start()
        assert await log.read("t", after=0, upto=2) == chain(2)
        assert seen[-1] != here


@anyio_mark
async def test_wal_checkpoints_run_on_the_worker_never_inside_an_inline_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []
    inner = _sqlite_sql.checkpoint

    def spy(conn: sqlite3.Connection) -> None:
        ran.append(threading.get_ident())
        inner(conn)

    monkeypatch.setattr(_sqlite_sql, "checkpoint", spy)
    monkeypatch.setattr(SqliteLog, "CHECKPOINT_EVERY", 4)
    path = tmp_path / "store.db"
    here = threading.get_ident()
    async with await SqliteLog.open(path) as log:
        # SQLite never checkpoints inside a commit on this connection (it may be inline)
        assert await log._call(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
        for i in range(8):
            assert await log.append_batch(_one(f"t{i}"), inline=True) == [None]
        with anyio.fail_after(5):
            while len(ran) < 2:  # noqa: ASYNC110 - queued to the worker thread, not awaited
                await anyio.sleep(0.01)
        assert here not in ran
        # what was checkpointed is in the database file: readable with the WAL gone
        await log._call(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    assert sqlite3.connect(path).execute("SELECT count(*) FROM events").fetchone()[0] == 8


class Counting:
    """A user's wrapper written against the port (``append_batch(batch)``), passing every
    other attribute on to the store it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches = 0

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self.batches += 1
        return await self.inner.append_batch(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@anyio_mark
async def test_a_wrapper_that_passes_attributes_on_is_never_asked_for_an_inline_append(
    tmp_path: Path,
) -> None:
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        wrapped = Counting(log)
        assert Capability.INLINE_APPENDS in wrapped.capabilities  # what it passes on ...
        graph = _graph(Checkpointer(wrapped))
        out = await graph.ainvoke({"n": 0}, {"configurable": {"thread_id": "t"}}, durability="sync")
        assert out == {"n": 2} and wrapped.batches == 3  # ... is not taken as its own


@anyio_mark
async def test_short_lived_writers_leave_their_wal_checkpointed(tmp_path: Path) -> None:
    """SQLite's own checkpoints are off on lograph's connections: one that closes
    copies what it wrote into the file, even while another connection stays open."""
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path) as staying:
        for i in range(5):
            async with await SqliteLog.open(path) as writer:
                assert await writer.append_batch(_one(f"w{i}", 3), inline=True) == [None]
        # the database file alone (no -wal beside it) holds every writer's events
        alone = tmp_path / "copy.db"
        alone.write_bytes(path.read_bytes())
        assert sqlite3.connect(alone).execute("SELECT count(*) FROM events").fetchone()[0] == 15
        assert [await staying.head(f"w{i}") for i in range(5)] == [3] * 5


class _InterruptAfterBegin:
    """A connection whose first BEGIN IMMEDIATE is interrupted right after it took effect
    (KeyboardInterrupt lands on the main thread, where inline calls run)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.fired = False

    def execute(self, statement: str, *args: Any) -> Any:
        cursor = self.conn.execute(statement, *args)
        if statement == "BEGIN IMMEDIATE" and not self.fired:
            self.fired = True
            raise KeyboardInterrupt
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


@anyio_mark
async def test_an_interrupted_inline_append_leaves_no_transaction_and_no_lock(tmp_path: Path) -> None:
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        real = log._conn
        log._conn = _InterruptAfterBegin(real)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            await log.append_batch(_one("a"), inline=True)
        log._conn = real
        assert not real.in_transaction and not log._driver.locked()
        assert await log.append_batch(_one("a"), inline=True) == [None]  # nothing half-done
        assert await log.read("a") == chain(1)


# --- per event loop: the writer's lanes and the actors' locks ----------------------------


def test_a_saver_keeps_a_lane_and_a_lock_per_event_loop_and_drops_them_with_the_loop() -> None:
    """A lock or a queue made on one event loop is never used from another: the writer
    keeps one lane, and each actor one lock, per loop (keyed through anyio's run
    variables), and a loop's go when the loop does."""
    import gc
    import weakref

    from lograph.runtime._sync import loop_key

    saver = Checkpointer(RecordingLog())
    graph = _graph(saver)
    config = {"configurable": {"thread_id": "t"}}
    assert graph.invoke({"n": 0}, config, durability="sync") == {"n": 2}  # the portal's loop
    actor = saver.actor("t")
    assert len(saver.writer._lanes) == len(actor._locks) == 1
    keys: list[weakref.ref[object]] = []

    async def on_another_loop() -> None:
        key = loop_key()
        assert loop_key() is key  # one key for the loop's whole life
        keys.append(weakref.ref(key))
        assert await graph.ainvoke({"n": 0}, config, durability="sync") == {"n": 2}
        assert len(saver.writer._lanes) == len(actor._locks) == 2

    for backend in ("asyncio", "trio", "asyncio"):
        anyio.run(on_another_loop, backend=backend)
        gc.collect()  # the loop is gone, and what was kept for it
        assert len(saver.writer._lanes) == len(actor._locks) == 1  # the portal's, still running
        assert keys[-1]() is None
