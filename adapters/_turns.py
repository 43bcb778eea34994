"""A plain run's turn on its thread across processes, without a write (``Capability.TURNS``).

Rules:
- The turn is a lock that its holder's process loses when it dies, so a dead caller's
  thread is free at once. SQLite: a POSIX byte-range lock, one byte per thread, in a
  file beside the database (``<database>-turns``). PostgreSQL: a session advisory lock
  on a connection the log keeps for its turns (``PgTurns``).
- Both are re-entrant for their owner (a process; a session), so this process keeps a
  registry of the keys it holds (``Held``): a second holder in the process is ``busy``.
- A thread's key is the first 62 bits of its BLAKE2b digest (SQLite), or
  ``hashtextextended('lograph.turn:<schema>:<thread>', 0)`` (PostgreSQL, computed by the
  server in ``try_turn`` and in the runs tier's statements alike).
- The runs tier's writes that start a recorded run take the key for the length of their
  transaction (SQLite: ``FileTurns.momentary`` around the write; PostgreSQL:
  ``pg_try_advisory_xact_lock``), and leave a thread whose key is taken alone. A turn's
  holder looks for an active run only after it holds the key, so the two never run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

#: what ``try_turn`` answers: its state, and with ``"taken"`` the thread's head (seq, hash)
#: read after the turn was taken (the run's first read)
Turn = tuple[str, "tuple[int, bytes] | None"]
BUSY: Turn = ("busy", None)
QUEUED: Turn = ("queued", None)

__all__ = ["BUSY", "QUEUED", "FileTurns", "Held", "PgTurns", "Turn", "file_turns", "pg_turn_key", "thread_key"]

#: the suffix of the file beside a SQLite database that holds its threads' turns
SUFFIX = "-turns"


def thread_key(thread: str) -> int:
    """A thread's byte in the turns file (62 bits: any ``off_t`` holds it)."""
    return int.from_bytes(hashlib.blake2b(thread.encode(), digest_size=8).digest()) >> 2


class Held:
    """The keys this process holds, under a lock any thread may take."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[object] = set()

    def take(self, key: object) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def give(self, key: object) -> None:
        with self._lock:
            self._keys.discard(key)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._keys)


class FileTurns:
    """A SQLite database's turns file, shared by every log on that file in this process
    (a POSIX lock belongs to the process, and closing any descriptor of the file would
    drop them all: one descriptor, open while a log on the database is)."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: a database in this process's memory (the registry serves)
        self._fd: int | None = None
        self._opening = threading.Lock()
        self.held = Held()
        self._users = 0  # open logs on the database: the file is closed when none is left

    def attach(self) -> None:
        with self._opening:
            self._users += 1

    def detach(self) -> None:
        """A log on the database closed: the last one closes the file (so that the file
        system can be unmounted or made read-only; no turn is held then)."""
        with self._opening:
            self._users -= 1
            if self._users <= 0 and self._fd is not None and not self.held:
                os.close(self._fd)
                self._fd = None

    def _file(self) -> int:
        assert self.path is not None
        with self._opening:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            return self._fd

    def take(self, key: int) -> bool:
        """Hold ``key`` unless this process or another holds it; whether it did."""
        if not self.held.take(key):
            return False
        if self.path is None:
            return True
        try:
            fcntl.lockf(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, key)
        except OSError as e:
            self.held.give(key)
            if e.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        return True

    def give(self, key: int) -> None:
        try:
            if self.path is not None:
                fcntl.lockf(self._file(), fcntl.LOCK_UN, 1, key)
        finally:
            self.held.give(key)

    @contextmanager
    def momentary(self) -> Iterator[_Taking]:
        """For a write that starts runs: ``taking.free(thread)`` holds the thread's key
        (False: its turn is held) until the block ends, after the write's commit."""
        taking = _Taking(self)
        try:
            yield taking
        finally:
            for key in taking.keys:
                self.give(key)


class _Taking:
    def __init__(self, turns: FileTurns) -> None:
        self.turns = turns
        self.keys: list[int] = []

    def free(self, thread: str) -> bool:
        key = thread_key(thread)
        if key in self.keys:
            return True
        if not self.turns.take(key):
            return False
        self.keys.append(key)
        return True


_files: dict[str, FileTurns] = {}
_files_lock = threading.Lock()


def file_turns(database: str) -> FileTurns:
    """The turns of the SQLite database file ``database`` (``""``: a database in memory,
    whose turns are this process's registry alone)."""
    if not database:
        return FileTurns(None)
    database = os.path.realpath(database)
    with _files_lock:
        found = _files.get(database)
        if found is None:
            found = _files[database] = FileTurns(database + SUFFIX)
        return found


class PgTurns:
    """A PostgreSQL log's turns: session advisory locks on one connection it keeps from
    the pool (while the log lives if it owns the pool, else while it holds a turn), or
    on a pool of one connection or a borrowed one: that one, as lent per call, since it
    is always the same session. Every method but ``end_turn``
    runs on the pool's home loop; a lost connection loses its locks with it (their runs'
    appends are still checked against the head: a second run fails, it never forks)."""

    def __init__(self, pool: Any, prefix: str, runs: str, events: str, *, dedicated: bool,
                 keep: bool) -> None:
        self._pool = pool
        self.prefix = prefix  # ``lograph.turn:<schema>:``, the thread's name follows
        # The turn in one round trip: a function of the session (``pg_temp``, made on
        # its connection), whose look at the queue is a statement of its own, so its
        # snapshot is taken after the lock (a run whose start committed just before the
        # lock was free is seen; one statement's snapshot would predate the lock). It
        # reads the thread's head too: the run's first read, which it then skips.
        self._function = _FUNCTION.replace("{runs}", runs).replace("{events}", events)
        self._made = False
        self._dedicated = dedicated
        self._keep = keep  # the log owns the pool: the connection stays while it is open
        self._unlocks: list[str] = []  # turns given back, not yet unlocked (``end_turn``)
        self._pending = 0  # turns given back from another thread, not yet in ``_unlocks``
        self._counting = threading.Lock()
        self._flushing = False
        self._conn: Any = None
        self._lock: asyncio.Lock | None = None  # one statement at a time on ``_conn``
        self._closed = False
        self.held = Held()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._dedicated:
                async with self._pool.acquire() as conn:
                    if not self._made:  # (the one connection: made once for its session)
                        await conn.execute(self._function)
                        self._made = True
                    yield conn
                return
            if self._conn is not None and _dead(self._conn):
                await self._give_back()
            if self._conn is None:
                conn = await self._pool.acquire()
                try:
                    await conn.execute(self._function)
                except BaseException:
                    await self._pool.release(conn)
                    raise
                self._conn = conn
            try:
                yield self._conn
            except BaseException:
                if _dead(self._conn):  # cut: its locks went with it
                    await self._give_back()
                raise
            finally:
                # A pool its caller owns gets the connection back while this process
                # holds no turn (its owner may close the pool without closing the log).
                if (not self._keep and self._conn is not None and not self.held
                        and not self._unlocks and not self._pending):
                    await self._give_back()

    async def try_turn(self, thread: str) -> Turn:
        if self._closed:
            raise RuntimeError("the log is closed")
        if not self.held.take(thread):
            return BUSY
        taken = False
        try:
            async with self._session() as conn:
                unlocks, self._unlocks = self._unlocks, []
                try:
                    row = await conn.fetchrow(_TURN, self.prefix + thread, thread, unlocks)
                except BaseException:
                    # (its lock may be held even so: unlocking one not held is harmless;
                    # a cut connection dropped them all anyway)
                    self._unlocks[:0] = [*unlocks, self.prefix + thread]
                    raise
                if row[0] != "taken":  # (given back before the session's end looks)
                    self.held.give(thread)
            if row[0] != "taken":
                return BUSY if row[0] == "busy" else QUEUED
            taken = True
            return "taken", (0, b"") if row[1] is None else (int(row[1]), bytes(row[2]))
        except asyncpg.ReadOnlySQLTransactionError:
            # A read-only database (a standby; default_transaction_read_only) cannot make
            # the function, nor take any write: the run goes on, to be refused by its first
            # append, as on a store without turns.
            return "taken", None
        finally:
            if not taken:
                self.held.give(thread)

    def unlocking(self) -> bool:
        """Whether turns given back wait to be unlocked (from any thread)."""
        return bool(self._unlocks) or self._pending > 0

    async def flush(self) -> None:
        """Send the unlocks no turn's statement took along meanwhile."""
        await asyncio.sleep(0)  # (``end_turn``'s callbacks already on their way, first)
        try:
            async with self._session() as conn:
                unlocks, self._unlocks = self._unlocks, []
                if unlocks:
                    await conn.execute(_UNLOCK, unlocks)
        except Exception:  # noqa: BLE001 - a cut connection dropped the locks already
            pass

    def end_turn(self, home: asyncio.AbstractEventLoop, thread: str) -> None:
        """From any thread: the unlock goes with the next turn's statement on the home
        loop if one comes within ``UNLOCK_DELAY``, else alone (other processes poll for a
        turn at longer intervals); nobody waits for it."""
        def later() -> None:
            with self._counting:
                self._pending -= 1
            self._unlocks.append(self.prefix + thread)
            self.held.give(thread)
            if not self._flushing:
                self._flushing = True
                home.call_later(UNLOCK_DELAY, start)

        def start() -> None:
            self._flushing = False
            _background.add(task := home.create_task(self.flush()))
            task.add_done_callback(_background.discard)

        with self._counting:
            self._pending += 1
        try:
            if asyncio._get_running_loop() is home:
                # at once: the caller's next call on this thread (often its very next
                # statement) finds the turn free instead of waiting a poll for it
                later()
            else:
                home.call_soon_threadsafe(later)
        except RuntimeError:  # the home loop is closed: the connection went with it
            with self._counting:
                self._pending -= 1
            self.held.give(thread)

    async def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def close(self) -> None:
        """On the home loop: give the connection back (its locks go with its session)."""
        self._closed = True
        if self._conn is not None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.execute("SELECT pg_advisory_unlock_all()")
                    await self._give_back()


# (``client_min_messages``: unlocking a lock not held, after a failed call, only warns)
_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.lograph_unlock(done text[]) RETURNS void
LANGUAGE sql VOLATILE SET client_min_messages = error AS $f$
    SELECT pg_advisory_unlock(hashtextextended(d, 0)) FROM unnest(done) AS d
$f$;
CREATE OR REPLACE FUNCTION pg_temp.lograph_turn(
    k bigint, t text, done text[], OUT state text, OUT head bigint, OUT digest bytea)
LANGUAGE plpgsql VOLATILE SET client_min_messages = error AS $f$
BEGIN
    IF cardinality(done) > 0 THEN  -- (inline: a nested function call costs ~40 us)
        PERFORM pg_advisory_unlock(hashtextextended(d, 0)) FROM unnest(done) AS d;
    END IF;
    IF NOT pg_try_advisory_lock(k) THEN
        state := 'busy';
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM {runs} r WHERE r.thread = t AND r.status IN ('pending', 'running'))
    THEN
        PERFORM pg_advisory_unlock(k);
        state := 'queued';
        RETURN;
    END IF;
    state := 'taken';
    SELECT e.seq, e.hash INTO head, digest FROM {events} e WHERE e.thread = t
        ORDER BY e.seq DESC LIMIT 1;
END $f$"""


def _dead(conn: Any) -> bool:
    """Whether a connection kept from the pool is cut (or the pool took it back)."""
    try:
        return bool(conn.is_closed())
    except Exception:  # noqa: BLE001 - asyncpg: released back to the pool (it was terminated)
        return True


_TURN = "SELECT * FROM pg_temp.lograph_turn(hashtextextended($1, 0), $2, $3::text[])"
_UNLOCK = "SELECT pg_temp.lograph_unlock($1::text[])"
#: seconds a given-back turn waits for a turn's statement to carry its unlock
UNLOCK_DELAY = 0.05
_background: set[asyncio.Task[None]] = set()


def pg_turn_key(prefix: str, thread_sql: str) -> str:
    """SQL for a thread's turn key, ``thread_sql`` naming the thread (a parameter or a
    column), as ``PgTurns`` computes it."""
    return f"hashtextextended('{prefix.replace(chr(39), chr(39) * 2)}' || {thread_sql}, 0)"
