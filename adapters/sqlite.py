"""The SQLite store: one file, the embedded default.

Usage::

    with SqliteSaver.from_conn_string("./lograph.db") as saver:          # sync code
        ...
    async with SqliteSaver.from_conn_string("./lograph.db") as saver:    # asyncio or trio
        ...

What survives what (the file runs in WAL mode; ``synchronous`` is set at open):

- ``synchronous="FULL"`` (the default): a committed append is fsynced before the call
  returns; it survives a process kill and a power loss or OS crash.
- ``synchronous="NORMAL"``: a committed append survives a process kill, but the last
  commits before a power loss or OS crash may be lost (the WAL is synced only at
  checkpoints). The file is never corrupted either way. Several times faster.
- ``"OFF"`` and ``"EXTRA"`` are accepted and mean what SQLite says.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction holding SQLite's write
lock, and an append checks the thread's head inside it, so two processes on one file
are safe: appends to different threads both commit; two appends to one thread at the
same head cannot both win (the loser gets ConflictError and wrote nothing). A lock held
by another connection is waited for up to ``busy_timeout`` seconds (default 5), then
reported as StoreUnavailableError; SQLite's own errors never reach the caller.

How it runs: aiosqlite keeps one ``sqlite3`` connection on a worker thread, and that
driver belongs to the asyncio loop it was opened on (its home, see ``_bridge.py``):
on a trio host or from the sync facade every call is submitted to the home loop.
Each operation is ONE call on the worker thread (a whole group commit included; see
``_sqlite_sql.py``): one round trip per transaction, and a cancelled caller never
leaves a transaction half-done on the connection.

Some calls skip the round trip and run on the caller's own thread: small reads (a
thread's head, the snapshots and events a fold starts from: at most
``INLINE_ROWS`` rows, less work than folding them afterwards), and an append the
log writer marks ``inline`` (its caller waits for it, and no other thread is being
worked on in the process, so there is nothing to group it with). A hand-off to the
worker thread and back costs about as much as the commit itself. They run inline
only while that is cheap and safe: the connection is idle (a lock the worker holds
for every call; a busy connection sends them to the worker), recent writes took
under ``INLINE_BUDGET`` (after a slow write, a slow disk sends appends to the
worker, so it cannot keep stalling the caller's event loop), and SQLite never waits on the caller's thread: its
busy handler is off, and a lock held by another process (BUSY) sends the call to
the worker, which waits for it (``_sqlite_sql.retrying``). Nor does SQLite copy its
write-ahead log into the file there: automatic checkpoints are off on this connection,
and the worker runs one every ``CHECKPOINT_EVERY`` appends and when the store closes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import aiosqlite
import anyio
import anyio.lowlevel

from lograph.eventlog import (
    Append,
    Capability,
    Event,
    Lease,
    NewRun,
    RunRecord,
    RunWatch,
    StoreUnavailableError,
    ThreadInfo,
    check_append,
)
from lograph.eventlog.lowlevel import (
    CheckedAppend,
    RunSignals,
    check_graph,
    check_limit,
    check_new_run,
    signals_for,
)
from lograph.runtime.lowlevel import Checkpointer

from . import _sqlite_runs as runs
from . import _sqlite_sql as sql
from ._bridge import Bridge, call_in
from ._cache_sqlite import SqliteCache
from ._opening import Opening

if TYPE_CHECKING:
    from ._store_sqlite import AsyncSqliteStore, SqliteStore
from ._turns import BUSY, QUEUED, FileTurns, Turn, file_turns, thread_key

__all__ = [
    "AsyncSqliteSaver", "AsyncSqliteStore", "SqliteCache", "SqliteLog", "SqliteSaver", "SqliteSaverOpener",
    "SqliteStore",
]

# aiosqlite has no public "run this function on the connection's thread"; its own
# Cursor uses ``Connection._execute`` for exactly that. Fail at import, not mid-run.
if not callable(getattr(aiosqlite.Connection, "_execute", None)):  # pragma: no cover
    raise ImportError(
        f"lograph's SQLite store needs aiosqlite's Connection._execute, which aiosqlite "
        f"{getattr(aiosqlite, '__version__', '?')} lacks: install aiosqlite>=0.20,<1"
    )


@contextmanager
def _translated(path: str, busy_timeout: float) -> Iterator[None]:
    """The one place where driver errors become lograph errors."""
    try:
        yield
    except sqlite3.Error as e:
        raise sql.store_error(e, path, busy_timeout) from e


def _location(path: str | os.PathLike[str]) -> tuple[str, bool]:
    name = os.fspath(path)
    return name, name.startswith("file:")


def _daemonize(db: Any) -> None:
    """Make the driver's worker thread a daemon, before it starts.

    aiosqlite's thread is not a daemon, so a store someone forgot to close would hang
    the interpreter at exit (Python joins such threads before running atexit hooks).
    Abandoning it is safe: every transaction is one call on that thread, and SQLite
    ignores a transaction whose commit never completed; a caller that got no answer
    was promised nothing. (aiosqlite < 0.21 made the Connection the Thread itself.)
    """
    thread = getattr(db, "_thread", db)
    if isinstance(thread, threading.Thread) and not thread.is_alive():
        thread.daemon = True


def _check_shareable(conn: sqlite3.Connection) -> None:
    """TypeError unless ``conn`` may be used from lograph's driver thread (and is open)."""
    failed: list[sqlite3.Error] = []

    def probe() -> None:
        try:
            conn.execute("SELECT 1").fetchall()
        except sqlite3.Error as e:
            failed.append(e)

    thread = threading.Thread(target=probe, name="lograph-sqlite-probe")
    thread.start()
    thread.join()
    if failed and "thread" in str(failed[0]):
        raise TypeError(
            "SqliteSaver(conn) runs the connection on lograph's driver thread: make it with "
            "sqlite3.connect(path, check_same_thread=False), as LangGraph's docs do"
        )
    if failed:
        raise TypeError(f"SqliteSaver(conn) cannot use this connection: {failed[0]}")


def _try_open(name: str, uri: bool) -> None:
    # An existing regular file this process may read and write opens (most opens:
    # skipping the trial saves an open and a close of the file).
    if not uri and os.path.isfile(name) and os.access(name, os.R_OK | os.W_OK):
        return
    if not uri and name != ":memory:" and not os.path.lexists(name):
        # a new store is private to its owner: conversations are in it. SQLite creates
        # the -wal and -shm files with the database file's permissions.
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError:
            pass  # sqlite3 says why below (a missing directory, no access)
    sqlite3.connect(name, uri=uri).close()


async def _connect(name: str, uri: bool, synchronous: str, busy_timeout: float) -> Any:
    """On the home loop: open the driver and set the file up; close it if that fails."""
    # When sqlite3.connect itself fails, aiosqlite stops its worker thread with a
    # future nobody awaits, and the thread later crashes on the closed loop. Surface
    # "cannot open" here first, on a plain thread, so that path is never taken.
    _try_open(name, uri)  # opening a file: cheaper inline than a thread pool's first use
    # check_same_thread=False: inline calls use the connection from the caller's thread,
    # never at the same time as the worker (see SqliteLog._now).
    failed: list[BaseException] = []

    def connect_and_set_up() -> sqlite3.Connection:
        # One hop to the driver's thread for both; a failed set-up is handed back, not
        # raised there (the connector's errors take aiosqlite's path described above).
        conn = sqlite3.connect(name, uri=uri, isolation_level=None, timeout=busy_timeout,
                               check_same_thread=False)
        try:
            sql.setup(conn, name, synchronous, busy_timeout)
        except BaseException as e:  # noqa: BLE001 - raised on the home loop below
            failed.append(e)
        return conn

    db: Any = aiosqlite.Connection(connect_and_set_up, 64)
    _daemonize(db)
    await db
    if failed:
        await db.close()
        raise failed[0]
    return db


_DECLINED: Any = object()  # _now: "run it on the worker thread instead"


class SqliteLog:
    """The :class:`~lograph.eventlog.EventLog` port on one SQLite file. Open with :meth:`open`.

    An async context manager; ``aclose()`` closes the connection on its home loop and is
    safe to call twice. After ``aclose()`` every call raises StoreUnavailableError.
    """

    #: appends may run on the caller's thread (the log writer passes ``inline=True``):
    #: the ``InlineAppender`` tier of the port; run records (``_sqlite_runs``): the
    #: ``RunQueue`` tier
    capabilities = frozenset({Capability.INLINE_APPENDS, Capability.RUNS, Capability.TURNS})
    #: an inline append blocks its caller's event loop: only while writes take less
    #: than this (a moving average), so a slow disk stalls the loop once, not on and on
    INLINE_BUDGET = 0.001
    #: reads of at most this many rows may run on the caller's thread (a read of the
    #: events since a snapshot, a chain of snapshots): less work than folding them after
    INLINE_ROWS = 512
    #: appends between two WAL checkpoints, which run on the worker thread: SQLite's own
    #: (inside a commit, so possibly inline) is off on this connection
    CHECKPOINT_EVERY = 128

    def __init__(
        self, db: Any, bridge: Bridge, path: str, busy_timeout: float, *,
        owner: str = "log", synchronous: str | None = None,
    ) -> None:
        self._db = db
        self._conn: sqlite3.Connection = db._connection
        self._bridge = bridge
        self.path = path
        self.busy_timeout = busy_timeout
        #: who closes what: "log" (the log opened the connection and closes it),
        #: "thread" (the caller owns the sqlite3 connection; the log stops only the
        #: driver thread it started), "caller" (the caller owns the aiosqlite connection)
        self._owner = owner
        #: set to the mode when the file is set up on first use (a borrowed connection)
        self._pending = synchronous
        self._starting: asyncio.Lock | None = None  # made and used on the home loop only
        #: calls may run on the caller's thread (see ``_now``): not before the set-up, nor
        #: on an aiosqlite connection someone else made (it may refuse other threads)
        self._inline = synchronous is None
        #: names the file for folds kept across savers (``Checkpointer.store_key``)
        self.identity: tuple[str, int, int] | None = None
        self._closed = False
        self._driver = threading.Lock()  # held by whoever uses the connection: worker or inline
        self._write_cost = 0.0  # seconds, a moving average of recent appends
        self._wrote = False  # this connection wrote: closing copies its WAL into the file
        self._appends = 0
        self._run_signals: RunSignals | None = None
        self._turns: FileTurns | None = None  # (``_turn_keeper``)

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
    ) -> SqliteLog:
        """Open (creating if needed) and migrate the store at ``path``.

        ``path`` is a file path, ``":memory:"``, or a ``file:`` URI. Raises ValueError
        for a bad option (nothing touched), StoreUnavailableError when the file cannot
        be opened for writing, SchemaVersionError when a newer lograph wrote it.
        """
        mode = sql.check_options(synchronous, busy_timeout)
        name, uri = _location(path)
        bridge = Bridge.here()
        # Shielded: a cancellation must not strand an opened driver nobody can close.
        with anyio.CancelScope(shield=True), _translated(name, busy_timeout):
            db = await bridge.run(_connect, name, uri, mode, busy_timeout)
        log = cls(db, bridge, name, busy_timeout)
        found = None if uri or name == ":memory:" else sql.file_identity(name)
        log.identity = None if found is None else ("sqlite", *found)
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            await log.aclose()
            raise
        return log

    @classmethod
    def borrow(
        cls, conn: sqlite3.Connection | aiosqlite.Connection, *, synchronous: str = "FULL",
        busy_timeout: float = 5.0,
    ) -> SqliteLog:
        """A log on a connection its caller owns and closes (LangGraph's ``SqliteSaver(conn)``
        and ``AsyncSqliteSaver(conn)``); ``aclose()`` leaves the connection open.

        The connection is set up as :meth:`open` sets a file up (WAL, ``synchronous``,
        the schema), on first use. lograph runs its own transactions on it (never leave
        one open on it while lograph works), from its driver thread: a ``sqlite3``
        connection must be made with ``check_same_thread=False`` (TypeError otherwise),
        and its driver thread's home is the sync facade's loop, so that sync and async
        callers can both use it. An ``aiosqlite`` connection is used as it is, with the
        calling event loop as its home.
        """
        mode = sql.check_options(synchronous, busy_timeout)
        if isinstance(conn, sqlite3.Connection):
            _check_shareable(conn)
            db: Any = aiosqlite.Connection(lambda: conn, 64)
            _daemonize(db)
            return cls(db, Bridge.of_sync_facade(), "(a sqlite3 connection)", busy_timeout,
                       owner="thread", synchronous=mode)
        if isinstance(conn, aiosqlite.Connection):
            return cls(conn, Bridge.here(), "(an aiosqlite connection)", busy_timeout,
                       owner="caller", synchronous=mode)
        raise TypeError(
            f"SqliteLog.borrow takes a sqlite3 or aiosqlite connection, not {type(conn).__name__}")

    async def _start(self) -> None:
        """On the home loop: start the driver if need be and set the file up, once."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            mode = self._pending
            if mode is None:
                return
            if self._db._connection is None:
                await self._db
            conn = self._db._connection
            self.path = await self._db._execute(sql.database_file, conn)
            await self._db._execute(sql.setup, conn, self.path, mode, self.busy_timeout)
            self._conn, self._pending = conn, None
            self._inline = self._owner != "caller"

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SqliteLog {self.path!r} {state}>"

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(connection, *args)`` on the driver's thread, on the driver's home loop."""
        if self._closed:
            raise StoreUnavailableError(f"the SQLite store {self.path!r} is closed; open it again")
        with _translated(self.path, self.busy_timeout):
            if self._pending is not None:
                await self._bridge.run(self._start)
            return await self._bridge.run(self._db._execute, self._on_worker, fn, *args)

    def _on_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        while not self._driver.acquire(timeout=0.05):  # an inline call holds it for a moment
            if self._closed:  # closing holds it for good
                raise StoreUnavailableError(f"the SQLite store {self.path!r} is closed; open it again")
        try:
            return sql.retrying(self.busy_timeout, fn, self._conn, *args)
        finally:
            self._driver.release()

    def _checkpoint_soon(self) -> None:
        """Queue a WAL checkpoint on the worker thread, not waited for (see ``_sqlite_sql``)."""
        home = self._bridge.home
        if self._closed or home.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._db._execute(self._on_worker, sql.checkpoint), home)
        except RuntimeError:  # the home loop stopped meanwhile: closing the file checkpoints
            pass

    def _now(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` on the caller's thread, once, if the connection is idle;
        ``_DECLINED`` if it is busy or SQLite answers BUSY (then use :meth:`_call`).

        The caller's thread may be the main one, where KeyboardInterrupt lands: however
        this is left, the connection is released with no transaction open.
        """
        if self._closed or not self._inline:
            return _DECLINED
        held = False
        try:
            held = self._driver.acquire(blocking=False)
            if not held:
                return _DECLINED
            with _translated(self.path, self.busy_timeout):
                try:
                    return fn(self._conn, *args)
                except sqlite3.OperationalError as e:
                    if sql.is_busy(e):
                        return _DECLINED
                    raise
        finally:
            if held:
                sql.end_transaction(self._conn)
                self._driver.release()

    def _timed_append(self, conn: sqlite3.Connection, batch: list[Append], ended: sql.Ended,
                      ) -> list[BaseException | None]:
        started = time.perf_counter()
        self._wrote = True
        try:
            return sql.append_batch(conn, batch, ended)
        finally:
            self._write_cost += (time.perf_counter() - started - self._write_cost) / 4
            self._appends += 1
            if self._appends % self.CHECKPOINT_EVERY == 0:
                self._checkpoint_soon()

    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` inside one BEGIN IMMEDIATE ... COMMIT."""
        self._wrote = True
        return await self._call(sql.write, fn, *args)

    # --- the EventLog port -----------------------------------------------------------

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        """A batch of one; raises its ValueError or ConflictError (nothing was written)."""
        (error,) = await self.append_batch([Append(thread, tuple(events), expect_head)])
        if error is not None:
            raise error

    async def append_batch(
        self, batch: Sequence[Append], *, inline: bool = False
    ) -> list[BaseException | None]:
        """One BEGIN IMMEDIATE transaction for every item (see the port for the contract).

        Shapes are checked first: an invalid item gets its ValueError and touches
        nothing. If the caller is cancelled while the transaction is under way, it still
        completes or rolls back as a whole on the driver's thread: read the head to
        learn which. ``inline``: the caller waits for this and nothing could join it, so
        run it on the caller's thread if that is cheap now (see the module docstring).
        """
        results: list[BaseException | None] = [None] * len(batch)
        valid: list[int] = []
        for i, item in enumerate(batch):
            try:
                if type(item) is not CheckedAppend:  # (the log writer's are checked already)
                    check_append(item.thread, item.events, item.expect_head)
            except ValueError as e:
                results[i] = e
            else:
                valid.append(i)
        if valid:
            cheap = inline and self._write_cost < self.INLINE_BUDGET
            call = self._here_or_worker if cheap else self._call
            ended: sql.Ended = {}
            done = await call(self._timed_append, [batch[i] for i in valid], ended)
            for j, (i, outcome) in enumerate(zip(valid, done, strict=True)):
                results[i] = outcome
                item = batch[i]
                if outcome is not None or item.lease is None:
                    continue
                if item.drops_run:
                    self._dropped(item.lease)
                elif item.ends_run is not None:  # (committed: ``ended`` holds how)
                    item.ends_run.record, waits = ended[j]
                    self._signals.changed(item.ends_run.record, next_waits=waits)
        return results

    async def _here_or_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """On the caller's thread if the connection is idle, else on the worker (see the module)."""
        found = self._now(fn, *args)
        return await self._call(fn, *args) if found is _DECLINED else found

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        small = upto is not None and upto - after <= self.INLINE_ROWS
        events: list[Event] = await (self._here_or_worker if small else self._call)(sql.read, thread, after, upto)
        return events

    async def head(self, thread: str) -> int:
        seq: int = await self._here_or_worker(sql.head, thread)
        return seq

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        found: tuple[int, bytes] = await self._here_or_worker(sql.head_event, thread)
        return found

    async def threads(self) -> list[ThreadInfo]:
        infos: list[ThreadInfo] = await self._call(sql.threads)
        return infos

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        await self._write(sql.put_snapshot, thread, seq, data)

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        found: tuple[int, bytes] | None = await self._here_or_worker(sql.latest_snapshot, thread, upto)
        return found

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        call = self._here_or_worker if limit <= self.INLINE_ROWS else self._call
        found: list[tuple[int, bytes]] = await call(sql.recent_snapshots, thread, upto, limit)
        return found

    async def snapshots(self, thread: str) -> list[int]:
        seqs: list[int] = await self._call(sql.snapshots, thread)
        return seqs

    async def delete_snapshots(self, thread: str) -> None:
        await self._write(sql.delete_snapshots, thread)

    async def delete_thread(self, thread: str) -> None:
        await self._write(sql.delete_thread, thread)

    # --- the runs tier (``_sqlite_runs``: claims and fences under BEGIN IMMEDIATE) --------

    @property
    def _signals(self) -> RunSignals:
        """Wake-ups of this process's waiters on this file (other processes poll)."""
        if self._run_signals is None:
            self._run_signals = signals_for(self.identity, lambda: RunSignals(call_in=call_in))
        return self._run_signals

    def watch_runs(self, run_id: str | None = None) -> AbstractAsyncContextManager[RunWatch]:
        return self._signals.watch(run_id)

    async def create_run(self, new: NewRun) -> tuple[RunRecord, bool]:
        check_new_run(new)
        found: tuple[RunRecord, bool] = await self._write(runs.create, new)
        if found[1]:
            self._signals.created()
        return found

    async def get_run(self, run_id: str) -> RunRecord | None:
        found: RunRecord | None = await self._here_or_worker(runs.get, run_id)
        return found

    async def list_runs(
        self, *, thread: str | None = None, status: str | Iterable[str] | None = None,
        since: float | None = None, until: float | None = None,
        metadata: Mapping[str, Any] | None = None, limit: int = 100, graph: str | None = None,
    ) -> list[RunRecord]:
        check_graph(graph)
        found: list[RunRecord] = await self._call(
            runs.list_runs, thread, status, since, until, metadata, limit, graph)
        return found

    async def run_counts(self) -> dict[str, int]:
        found: dict[str, int] = await self._call(runs.counts)
        return found

    async def claim_run(self, worker: str, lease: float, *, limit: int | None = None,
                        graph: str | None = None) -> tuple[RunRecord, Lease] | None:
        check_limit(limit)
        check_graph(graph)
        self._wrote = True
        # committed without waiting for the disk (see ``RunQueue.claim_run``), on the
        # caller's thread when the connection is idle, as ``enter_run``
        with (await self._turn_keeper()).momentary() as taking:
            found: tuple[RunRecord, Lease] | None = await self._here_or_worker(
                sql.relaxed, runs.claim, worker, lease, limit, graph, taking.free)
        return found

    async def renew_lease(self, lease: Lease, seconds: float) -> RunRecord:
        found: RunRecord = await self._write(runs.renew, lease, seconds)
        return found

    async def finish_run(
        self, lease: Lease, status: str, *, result: bytes | None = None, error: str | None = None,
    ) -> RunRecord:
        found: RunRecord
        found, waits = await self._write(runs.finish, lease, status, result, error)
        self._signals.changed(found, next_waits=waits)
        return found

    async def stop_run(self, run_id: str, stop: str = "cancel") -> RunRecord | None:
        found: RunRecord | None = await self._write(runs.stop, run_id, stop)
        if found is not None:
            self._signals.changed(found)
        return found

    async def enter_run(self, new: NewRun, holder: str, seconds: float) -> tuple[RunRecord, Lease]:
        check_new_run(new, in_process=True)
        self._wrote = True
        # on the caller's thread when the connection is idle, as a small read (no disk wait)
        with (await self._turn_keeper()).momentary() as taking:
            found: tuple[RunRecord, Lease] = await self._here_or_worker(
                sql.relaxed, runs.enter, new, holder, seconds, taking.free)
        return found

    async def take_run(self, lease: Lease, seconds: float) -> RunRecord:
        with (await self._turn_keeper()).momentary() as taking:
            found: RunRecord = await self._write(runs.take, lease, seconds, taking.free)
        return found

    # --- a plain run's turn (``_turns``) ---------------------------------------------

    async def _turn_keeper(self) -> FileTurns:
        """The turns of this log's database file (found on first use)."""
        if self._turns is None:
            found: str = await self._here_or_worker(sql.database_file)
            turns = file_turns("" if found == ":memory:" else found)
            if self._turns is None:  # (another call may have found it meanwhile)
                turns.attach()
                self._turns = turns
        return self._turns

    async def try_turn(self, thread: str) -> Turn:
        turns, key = await self._turn_keeper(), thread_key(thread)
        if not turns.take(key):
            return BUSY
        try:
            head = await self._here_or_worker(runs.turn_view, thread)
        except BaseException:
            turns.give(key)
            raise
        if head is not None:
            return "taken", head
        turns.give(key)
        return QUEUED

    def end_turn(self, thread: str) -> None:
        assert self._turns is not None, "end_turn without try_turn"
        self._turns.give(thread_key(thread))

    async def drop_run(self, lease: Lease) -> None:
        self._wrote = True
        await self._call(sql.relaxed, runs.drop, lease)
        self._dropped(lease)

    def _dropped(self, lease: Lease) -> None:
        self._signals.notify(lease.run_id)
        self._signals.notify(None)  # its thread's next run may be claimable now

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._turns is not None:
            self._turns.detach()
        if self._owner == "caller":
            return  # its owner closes it (and SQLite copies the WAL into the file then)
        with anyio.CancelScope(shield=True), _translated(self.path, self.busy_timeout):
            if self._owner == "thread":  # stop the driver thread; the owner closes the connection
                if not self._bridge.home.is_closed():
                    await self._bridge.run(self._release)
            elif self._bridge.home.is_closed():
                # The loop that owned the driver is gone: stop its thread directly.
                self._db.stop()
            else:
                await self._bridge.run(self._shut)

    def drives_this_loop(self) -> bool:
        """Whether the driver's home is the event loop running in this thread."""
        return self._bridge.is_home()

    async def _release(self) -> None:
        """On the home loop: stop the driver thread without closing the connection."""
        if self._db._connection is None:
            return  # never started
        self._db._connection = None  # aiosqlite's stop() then closes nothing
        stopped = self._db.stop()
        if stopped is not None:
            await stopped

    async def _shut(self) -> None:
        """On the home loop: close the connection on the driver's thread, stop the thread."""
        await self._db._execute(self._close_out)
        await self._release()

    def _close_out(self) -> None:
        # The worker takes the connection for good first (an inline call from another
        # thread can no longer start), then closes it. A connection that wrote copies the
        # WAL into the file first, so that short-lived writers beside a connection that
        # stays open (SQLite checkpoints only when the last one closes) do not grow it
        # without bound; one that only read (a request reading a thread) leaves it.
        if self._driver.acquire(timeout=max(self.busy_timeout, 1.0)) and self._wrote:
            sql.checkpoint(self._conn)
        self._conn.close()

    async def __aenter__(self) -> SqliteLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SqliteSaver(Checkpointer):
    """A checkpointer on one SQLite file (alias ``AsyncSqliteSaver``).

    Open with ``SqliteSaver.from_conn_string(path)`` as ``with`` (sync code) or
    ``async with`` (asyncio or trio); or, as LangGraph's docs do, on a connection you own
    and close: ``SqliteSaver(sqlite3.connect(path, check_same_thread=False))`` or
    ``AsyncSqliteSaver(aiosqlite_connection)`` (see :meth:`SqliteLog.borrow`:
    ``synchronous`` and ``busy_timeout`` apply to those); or wrap an opened
    :class:`SqliteLog`.
    """

    log: SqliteLog

    def __init__(
        self, conn: SqliteLog | sqlite3.Connection | aiosqlite.Connection, *,
        snapshot_every: int = 200, synchronous: str | None = None,
        busy_timeout: float | None = None, chain_key: bytes | str | None = None,
        store_id: str | None = None,
    ) -> None:
        if isinstance(conn, SqliteLog):
            if synchronous is not None or busy_timeout is not None:
                raise TypeError(
                    "synchronous= and busy_timeout= are set when a SqliteLog opens, not here")
            log = conn
        elif isinstance(conn, sqlite3.Connection | aiosqlite.Connection):
            log = SqliteLog.borrow(conn, synchronous=synchronous or "FULL",
                                   busy_timeout=5.0 if busy_timeout is None else busy_timeout)
        else:
            raise TypeError(
                f"{type(self).__name__}(conn) takes a sqlite3 or aiosqlite connection or an "
                f"opened SqliteLog, not {type(conn).__name__}; to open a file use "
                f"`{type(self).__name__}.from_conn_string(path)`"
            )
        super().__init__(log, snapshot_every=snapshot_every, chain_key=chain_key, store_id=store_id,
                         store_key=log.identity)

    @classmethod
    def from_conn_string(
        cls,
        conn_string: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
        snapshot_every: int = 200,
        chain_key: bytes | str | None = None,
        store_id: str | None = None,
    ) -> Opening[SqliteSaver]:
        """A context manager opening the store at ``conn_string`` (a path, ``":memory:"``
        or a ``file:`` URI): ``with`` in sync code, ``async with`` in async code.

        Bad options raise ValueError here, before anything is opened. ``chain_key`` and
        ``store_id``: see :class:`~lograph.runtime.lowlevel.Checkpointer`.
        """
        sql.check_options(synchronous, busy_timeout)

        async def open_saver() -> SqliteSaver:
            log = await SqliteLog.open(conn_string, synchronous=synchronous, busy_timeout=busy_timeout)
            return cls(log, snapshot_every=snapshot_every, chain_key=chain_key, store_id=store_id)

        return Opening(cls.__name__, open_saver, once=True)

    def drives_this_loop(self) -> bool:
        return self.log.drives_this_loop()

    def setup(self) -> None:
        """Nothing to do: the schema was created or migrated when the store opened.

        Kept (idempotent) so code written for LangGraph's savers runs unchanged.
        """

    async def asetup(self) -> None:
        """Nothing to do: see :meth:`setup`."""


AsyncSqliteSaver = SqliteSaver


# What ``SqliteSaver.from_conn_string`` returns (kept under this name for annotations).
SqliteSaverOpener = Opening


def __getattr__(name: str) -> Any:
    """The Stores load on first use: a saver alone does not import them."""
    if name not in ("AsyncSqliteStore", "SqliteStore"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _store_sqlite

    value = globals()[name] = getattr(_store_sqlite, name)
    return value
