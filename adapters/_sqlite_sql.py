"""The SQLite store's SQL: plain functions of a ``sqlite3.Connection``, no async.

Every function here runs on the driver's worker thread as ONE unit (see
``adapters/sqlite.py``): a write transaction is begun, done and committed (or rolled
back) inside one call, so a cancelled caller can never leave the connection inside a
transaction, and a group commit costs one round trip to the driver whatever its size.

Rules:
- The connection is in autocommit mode (``isolation_level=None``); writes open their
  transaction explicitly with ``BEGIN IMMEDIATE``, which takes SQLite's write lock at
  once. Everything between BEGIN and COMMIT therefore sees no other writer: the head
  check of an append is race-free.
- ``(thread, seq)`` is the primary key: it is the backstop of the head check.
- The schema is versioned in ``meta``; forward migrations run at open inside one write
  transaction; a file from a newer lograph is refused, never misread or changed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from lograph.eventlog import (
    Append,
    ConflictError,
    Event,
    LogError,
    RowRefusedError,
    RunRecord,
    SchemaVersionError,
    StoreUnavailableError,
    ThreadInfo,
)
from lograph.eventlog.lowlevel import RowMapper

from . import _sqlite_runs as _runs

T = TypeVar("T")

#: SQLite 3.37 brought STRICT tables.
MIN_SQLITE = (3, 37, 0)

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

#: MIGRATIONS[v] takes a store from schema version v to v + 1. Append only; never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            thread  TEXT    NOT NULL,
            seq     INTEGER NOT NULL,
            parent  INTEGER NOT NULL,
            kind    TEXT    NOT NULL,
            run_id  TEXT    NOT NULL,
            step    INTEGER NOT NULL,
            task_id TEXT    NOT NULL,
            ns      TEXT    NOT NULL,
            ts      REAL    NOT NULL,
            body    BLOB    NOT NULL,
            hash    BLOB    NOT NULL,
            PRIMARY KEY (thread, seq)
        ) STRICT, WITHOUT ROWID""",
        """CREATE TABLE snapshots (
            thread TEXT    NOT NULL,
            seq    INTEGER NOT NULL,
            data   BLOB    NOT NULL,
            PRIMARY KEY (thread, seq)
        ) STRICT, WITHOUT ROWID""",
    ),
    # 2: a body or snapshot may be stored compressed (lowlevel.RowMapper). Nothing
    # changes in the tables; the version tells an older lograph to refuse the file.
    (),
    # 3: run records and their leases (the runs tier, ``_sqlite_runs``)
    _runs.MIGRATION,
    # 4: a thread's runs in order, ended ones too (a claim reads the run before it)
    _runs.MIGRATION_THREAD_ORDER,
    # 5: the name of the graph each run is for (limits per graph)
    _runs.MIGRATION_GRAPH,
)
SCHEMA_VERSION = len(MIGRATIONS)

_META = (
    "CREATE TABLE IF NOT EXISTS meta ("
    "key TEXT PRIMARY KEY NOT NULL, value ANY NOT NULL) STRICT, WITHOUT ROWID"
)
_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_HEAD = "SELECT max(seq) FROM events WHERE thread = ?"
_HEAD_EVENT = "SELECT seq, hash FROM events WHERE thread = ? ORDER BY seq DESC LIMIT 1"
_HASH_AT = "SELECT hash FROM events WHERE thread = ? AND seq = ?"
_READ = (
    "SELECT seq, parent, kind, run_id, step, task_id, ns, ts, body, hash FROM events "
    "WHERE thread = ? AND seq > ? AND seq <= ? ORDER BY seq"
)
# One min/max aggregate: SQLite takes the bare column ``ts`` from the row holding max(seq).
_THREADS = (
    "SELECT thread, max(seq), count(*), sum(length(body)), ts FROM events "
    "GROUP BY thread ORDER BY thread"
)
_MAX_SEQ = 2**63 - 1
_ROWS = RowMapper()  # events.kind is TEXT: the kind's tag

# SQLite primary result codes (extended codes carry them in their low byte).
_PERM = 3
_BUSY = 5
_LOCKED = 6
_READONLY = 8
_IOERR = 10
_CORRUPT = 11
_FULL = 13
_CANTOPEN = 14
_NOTADB = 26
_CONSTRAINT_PRIMARYKEY = 1555


# --- errors ------------------------------------------------------------------------


def _code(e: sqlite3.Error) -> int:
    code = getattr(e, "sqlite_errorcode", None)
    return -1 if code is None else code & 0xFF


def is_busy(e: sqlite3.Error) -> bool:
    return _code(e) in (_BUSY, _LOCKED)


def store_error(e: sqlite3.Error, path: str, busy_timeout: float) -> StoreUnavailableError:
    """What a driver error means to the caller. The adapter's one translation table."""
    code = _code(e)
    where = f"the SQLite store {path!r}"
    if code in (_BUSY, _LOCKED):
        return StoreUnavailableError(
            f"{where} stayed locked by another connection for more than {busy_timeout:g} s "
            f"({e}): another process holds a long write transaction; retry later, or open "
            "the store with a larger busy_timeout"
        )
    if code == _READONLY:
        return StoreUnavailableError(
            f"{where} is read-only ({e}): lograph must write to it; make the file and its "
            "directory writable (the WAL needs the -wal and -shm files beside it), or copy "
            "it somewhere writable"
        )
    if code in (_CANTOPEN, _PERM):
        parent = Path(path).parent if path != ":memory:" else Path(".")
        return StoreUnavailableError(
            f"cannot open {where} ({e}): check that the directory {str(parent)!r} exists "
            "and is writable, and that the path names a file, not a directory"
        )
    if code in (_NOTADB, _CORRUPT):
        return StoreUnavailableError(
            f"{where} is not a readable SQLite database ({e}): point lograph at a new file, "
            "or restore the store from a backup"
        )
    if code == _FULL:
        return StoreUnavailableError(f"{where}: the disk is full ({e}); free space and retry")
    if code == _IOERR:
        return StoreUnavailableError(f"{where}: disk I/O error ({e}); check the disk")
    return StoreUnavailableError(f"{where} failed: {e} ({type(e).__name__})")


#: what a row itself can make the insert raise (the key, a column's type, a value longer
#: than SQLite's length limit, a number or a string the driver cannot bind)
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, OverflowError, UnicodeEncodeError)


def _item_error(e: Exception, item: Append, head: int) -> BaseException:
    """A refusal of one append's rows: the primary key means another writer won."""
    if not isinstance(e, sqlite3.IntegrityError):
        return RowRefusedError(
            f"thread {item.thread!r}: SQLite refused a row of this append ({type(e).__name__}: "
            f"{e}); nothing of it was written: make the value smaller or storable"
        )
    if getattr(e, "sqlite_errorcode", None) == _CONSTRAINT_PRIMARYKEY:
        return ConflictError(item.thread, item.expect_head, head)
    return ValueError(
        f"thread {item.thread!r}: an event has a field of the wrong type for the store ({e}); "
        "build events with lograph.eventlog.make_event"
    )


# --- opening -------------------------------------------------------------------------


def check_options(synchronous: str, busy_timeout: float) -> str:
    """Validate the open options before any I/O; return the PRAGMA value."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        need = ".".join(map(str, MIN_SQLITE))
        raise StoreUnavailableError(
            f"lograph's SQLite store needs SQLite {need} or newer (STRICT tables); this "
            f"Python links SQLite {sqlite3.sqlite_version}: use a newer Python build"
        )
    mode = str(synchronous).upper()
    if mode not in SYNCHRONOUS:
        raise ValueError(f"synchronous={synchronous!r}: use one of {', '.join(SYNCHRONOUS)}")
    if not busy_timeout >= 0:
        raise ValueError(f"busy_timeout={busy_timeout!r}: use a number of seconds >= 0")
    return mode


#: files this process has set up (journal mode and schema), by (device, inode): a later
#: connection to one only configures itself. A file deleted and made again is another.
_SET_UP: set[tuple[int, int]] = set()


def file_identity(path: str) -> tuple[int, int] | None:
    """The file's (device, inode), or None for an in-memory or not yet existing database."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def setup(conn: sqlite3.Connection, path: str, synchronous: str, busy_timeout: float) -> None:
    """Configure a fresh connection and bring the schema up to date (idempotent).

    The file's set-up (write-ahead logging and the schema, a write transaction) is done
    once per process and file; the first open of a file in a process therefore still
    finds a read-only file or one a newer lograph wrote. Every connection configures
    itself (``synchronous``, its busy handler, checkpoints), which costs no I/O.
    """
    identity = file_identity(path) if path != ":memory:" else None
    if identity is None or identity not in _SET_UP or not retrying(busy_timeout, _current, conn, path):
        _set_up_file(conn, path, busy_timeout)
        if identity is not None:
            _SET_UP.add(identity)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA busy_timeout = 0")  # from now on lograph waits itself: see retrying()
    # A checkpoint inside a commit (SQLite's automatic one, every 1000 WAL pages) writes
    # and fsyncs the database file: several milliseconds. Commits may run on the
    # caller's thread (its event loop), so this connection leaves checkpoints to
    # checkpoint(), which the adapter runs on its worker thread.
    conn.execute("PRAGMA wal_autocheckpoint = 0")


def _current(conn: sqlite3.Connection, path: str) -> bool:
    """Whether the file's schema is this lograph's. The version row is rewritten as it is
    and rolled back: nothing reaches the disk, yet a file that cannot be written fails
    here, at open, as the set-up's write would. A file migrated by a newer lograph, or
    deleted and made again under a reused inode, answers False and is set up as new."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
        return _version(conn, path) == SCHEMA_VERSION
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):  # not set up
            return False
        raise
    finally:
        end_transaction(conn)


def _set_up_file(conn: sqlite3.Connection, path: str, busy_timeout: float) -> None:
    """Write-ahead logging and the schema, brought up to date: the file's part of setup."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")  # for the set-up only
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
    if mode not in ("wal", "memory"):
        raise StoreUnavailableError(
            f"the SQLite store {path!r} cannot use write-ahead logging (journal mode stays "
            f"{mode!r}); put it on a local file system"
        )
    # The setup transaction needs no fsync: if it is lost, the next open does it again
    # (and it rewrites the same version row when nothing migrates). Opening a store is
    # then about a millisecond cheaper on a disk with slow fsync.
    conn.execute("PRAGMA synchronous = OFF")
    retrying(busy_timeout, write, conn, _migrate, path)


def database_file(conn: sqlite3.Connection) -> str:
    """The file of ``conn``'s main database (``":memory:"`` for an in-memory one)."""
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file) or ":memory:"
    return ":memory:"  # pragma: no cover - every connection has a main database


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    version = _version(conn, path) if "meta" in tables else 0
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the SQLite store {path!r} has schema version {version}, but this lograph knows "
            f"versions up to {SCHEMA_VERSION}: it was written by a newer lograph; upgrade "
            "lograph to open it (the file was not changed)"
        )
    if version == 0 and tables & {"events", "snapshots"}:
        raise StoreUnavailableError(
            f"the SQLite store {path!r} has tables {sorted(tables)} but no lograph schema "
            "version: it was not made by lograph; use another file"
        )
    conn.execute(_META)
    for step in MIGRATIONS[version:]:
        for statement in step:
            conn.execute(statement)
    # Always a write, even when nothing migrated: a read-only store fails here, at open.
    conn.execute(
        "INSERT INTO meta VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (SCHEMA_VERSION,),
    )


def _version(conn: sqlite3.Connection, path: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return 0
    if not isinstance(row[0], int) or row[0] < 0:
        raise SchemaVersionError(
            f"the SQLite store {path!r} records schema version {row[0]!r}, which no lograph "
            "writes: the file was edited by hand or by another program; use another file"
        )
    return row[0]


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0])


# --- transactions --------------------------------------------------------------------


def retrying(busy_timeout: float, fn: Callable[..., T], *args: object) -> T:
    """Call ``fn(*args)`` again while SQLite answers BUSY, with backoff, for ``busy_timeout`` s.

    The connection's own busy handler is off (``PRAGMA busy_timeout = 0``): SQLite never
    waits inside a statement, so a call made on the caller's thread (see
    ``adapters/sqlite.py``) never blocks it on another process's lock. Waiting happens
    here instead, on the driver's thread only. ``fn`` is one whole read or write
    transaction (a failed write is rolled back), so calling it again is always safe.
    The last BUSY error propagates once the time is spent.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            return fn(*args)
        except sqlite3.OperationalError as e:
            left = deadline - time.monotonic()
            if not is_busy(e) or left <= 0:
                raise
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)


def write(conn: sqlite3.Connection, fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(conn, *args)`` in one write transaction: all of it commits, or none.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock at once (BUSY if another connection
    holds it: see :func:`retrying`).
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        end_transaction(conn)
        raise
    return result


def relaxed(conn: sqlite3.Connection, fn: Callable[..., T], *args: object) -> T:
    """``fn(conn, *args)`` in one write transaction that does not wait for the disk: in WAL
    mode, ``synchronous=NORMAL`` for this commit (the WAL keeps commits in order, and the
    next synced commit syncs this one too). For an in-process run's place, whose loss in
    a power cut costs nothing: its process is gone too, and a place that comes back is
    ended by its lease."""
    (mode,) = conn.execute("PRAGMA synchronous").fetchone()
    (journal,) = conn.execute("PRAGMA journal_mode").fetchone()
    if mode <= 1 or str(journal).lower() != "wal":
        return write(conn, fn, *args)
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        return write(conn, fn, *args)
    finally:
        conn.execute(f"PRAGMA synchronous = {int(mode)}")


def end_transaction(conn: sqlite3.Connection) -> None:
    """Roll back whatever is still open on ``conn`` (after an error or an interrupt)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:  # the first error is the one to report
            pass


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy committed WAL pages into the database file, without waiting for readers.

    Best effort: what a reader or another writer holds up is copied by a later one.
    """
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass


def _head(conn: sqlite3.Connection, thread: str) -> int:
    row = conn.execute(_HEAD, (thread,)).fetchone()
    return 0 if row[0] is None else int(row[0])


def _rows(item: Append) -> list[tuple[object, ...]]:
    """The item's rows for ``_INSERT``: the thread, then each event's stored row."""
    return _ROWS.rows_of(item.events, (item.thread,))


class _Refused(Exception):
    """The primary key or a column type refused a row that the head check let through."""


#: the runs an append's items ended (``Append.ends_run``), by item: the ended record and
#: whether a run waits to be claimed (set in the transaction; true once it committed)
Ended = dict[int, tuple[RunRecord, bool]]


def append_batch(conn: sqlite3.Connection, batch: Sequence[Append], ended: Ended | None = None,
                 ) -> list[BaseException | None]:
    """Append every item whose head still matches, in one write transaction.

    Items are applied in order (a later item may build on an earlier one of the same
    thread); a mismatched head is a ConflictError for that item only. The accepted
    items' rows go in with one executemany. Should the primary key (the backstop) or a
    column type refuse a row anyway, that transaction is rolled back and a second one
    appends the items one by one, so the failure lands on its own item alone.
    ``ended``: filled with the runs the items end (``Append.ends_run``).
    """
    ended = {} if ended is None else ended
    try:
        return write(conn, _append_all, batch, ended)
    except _Refused:
        ended.clear()
        return write(conn, _append_one_by_one, batch, ended)


def _runs_part(conn: sqlite3.Connection, item: Append, i: int, ended: Ended) -> None:
    """What a fenced item that is written does to its run's record, in its transaction."""
    if item.drops_run:
        _runs.drop(conn, item.lease)
    elif item.ends_run is not None:
        ended[i] = _runs.end(conn, item.lease, item.ends_run)


Heads = dict[str, tuple[int, bytes]]  # a thread's head as this transaction has it: seq, hash


def _stale(
    conn: sqlite3.Connection, heads: Heads, item: Append,
    queued: dict[tuple[str, int], bytes] | None = None,
) -> LogError | None:
    """The item's conflict if its thread's head moved on, or if the event it follows is
    no longer the one its writer read (the thread was deleted and written again); its
    LeaseLostError if it carries a lease that no longer holds its run (the fence).
    ``queued``: hashes of the events this transaction accepted but has not inserted yet."""
    if item.lease is not None:
        lost = _runs.fence(conn, item.lease)
        if lost is not None:
            return lost
    found = heads.get(item.thread)
    if found is None:
        found = heads[item.thread] = head_event(conn, item.thread)
    head, digest = found
    if head != item.expect_head:
        return ConflictError(item.thread, item.expect_head, head)
    if item.checks_parent():
        parent = item.events[0].parent
        if parent != head:  # a fork's first event: its parent is below the head
            known = queued.get((item.thread, parent)) if queued else None
            if known is None:
                row = conn.execute(_HASH_AT, (item.thread, parent)).fetchone()
                known = row[0] if row is not None else b""
            digest = known
        if digest != item.parent_hash:
            return ConflictError(item.thread, item.expect_head, head)
    return None


def _append_all(conn: sqlite3.Connection, batch: Sequence[Append], ended: Ended,
                ) -> list[BaseException | None]:
    heads: Heads = {}
    results: list[BaseException | None] = []
    rows: list[tuple[object, ...]] = []
    queued: dict[tuple[str, int], bytes] = {}  # only needed when one thread has two items
    for i, item in enumerate(batch):
        conflict = _stale(conn, heads, item, queued)
        if conflict is not None:
            results.append(conflict)
            continue
        rows += _rows(item)
        if item.lease is not None:  # (undone with the rows if they fail)
            _runs_part(conn, item, i, ended)
        heads[item.thread] = (item.events[-1].seq, item.events[-1].hash)
        if len(batch) > 1:
            queued.update(((item.thread, e.seq), e.hash) for e in item.events)
        results.append(None)
    try:
        conn.executemany(_INSERT, rows)
    except _ROW_ERRORS as e:
        raise _Refused from e
    return results


def _append_one_by_one(
    conn: sqlite3.Connection, batch: Sequence[Append], ended: Ended,
) -> list[BaseException | None]:
    """The backstop path: each item inside its own savepoint, so one refusal undoes one item."""
    heads: Heads = {}
    results: list[BaseException | None] = []
    for i, item in enumerate(batch):
        conflict = _stale(conn, heads, item)
        if conflict is not None:
            results.append(conflict)
            continue
        conn.execute("SAVEPOINT item")
        try:
            conn.executemany(_INSERT, _rows(item))
        except _ROW_ERRORS as e:
            conn.execute("ROLLBACK TO item")
            conn.execute("RELEASE item")
            heads[item.thread] = head_event(conn, item.thread)
            results.append(_item_error(e, item, heads[item.thread][0]))
            continue
        if item.lease is not None:
            _runs_part(conn, item, i, ended)
        conn.execute("RELEASE item")
        heads[item.thread] = (item.events[-1].seq, item.events[-1].hash)
        results.append(None)
    return results


def put_snapshot(conn: sqlite3.Connection, thread: str, seq: int, data: bytes) -> None:
    conn.execute(
        "INSERT INTO snapshots VALUES (?, ?, ?) "
        "ON CONFLICT (thread, seq) DO UPDATE SET data = excluded.data",
        (thread, seq, _ROWS.stored_snapshot(data)),
    )


def delete_snapshots(conn: sqlite3.Connection, thread: str) -> None:
    conn.execute("DELETE FROM snapshots WHERE thread = ?", (thread,))


def delete_thread(conn: sqlite3.Connection, thread: str) -> None:
    conn.execute("DELETE FROM events WHERE thread = ?", (thread,))
    conn.execute("DELETE FROM snapshots WHERE thread = ?", (thread,))
    _runs.delete_thread(conn, thread)


# --- reads (each one statement, its own read transaction) ------------------------------


def read(conn: sqlite3.Connection, thread: str, after: int, upto: int | None) -> list[Event]:
    end = _MAX_SEQ if upto is None else min(upto, _MAX_SEQ)
    return _ROWS.events_of(conn.execute(_READ, (thread, after, end)))


def head(conn: sqlite3.Connection, thread: str) -> int:
    return _head(conn, thread)


def head_event(conn: sqlite3.Connection, thread: str) -> tuple[int, bytes]:
    row = conn.execute(_HEAD_EVENT, (thread,)).fetchone()
    return (0, b"") if row is None else (int(row[0]), bytes(row[1]))


def threads(conn: sqlite3.Connection) -> list[ThreadInfo]:
    return [
        ThreadInfo(thread, head, count, size or 0, ts)
        for thread, head, count, size, ts in conn.execute(_THREADS)
    ]


def recent_snapshots(
    conn: sqlite3.Connection, thread: str, upto: int, limit: int
) -> list[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT seq, data FROM snapshots WHERE thread = ? AND seq <= ? ORDER BY seq DESC LIMIT ?",
        (thread, min(upto, _MAX_SEQ), max(limit, 0)),
    ).fetchall()
    return [(int(seq), _ROWS.snapshot_of(data)) for seq, data in rows]


def latest_snapshot(conn: sqlite3.Connection, thread: str, upto: int) -> tuple[int, bytes] | None:
    row = conn.execute(
        "SELECT seq, data FROM snapshots WHERE thread = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
        (thread, min(upto, _MAX_SEQ)),
    ).fetchone()
    return None if row is None else (int(row[0]), _ROWS.snapshot_of(row[1]))


def snapshots(conn: sqlite3.Connection, thread: str) -> list[int]:
    rows = conn.execute("SELECT seq FROM snapshots WHERE thread = ? ORDER BY seq", (thread,))
    return [int(row[0]) for row in rows]
