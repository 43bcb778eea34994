"""``SqliteStore`` (alias ``AsyncSqliteStore``): the Store in a SQLite file.

Its tables (``store_items``, ``store_vectors``, ``store_schema_version``) may share a
file with the event log's (a SqliteSaver's) or have one of their own. It runs on one
``sqlite3`` connection (WAL, ``synchronous`` FULL by default) guarded by a lock:

- sync calls run on the caller's thread, as LangGraph's SqliteStore does;
- async calls that only read run on the caller's thread too when the connection is
  idle (a read in WAL mode never waits for a writer, and costs less than handing it
  to a thread); a batch that writes, or a read while the connection is busy, runs
  on a worker thread (``anyio.to_thread``), so a commit's fsync or another process's
  lock never stalls the event loop.

A batch that writes is one ``BEGIN IMMEDIATE`` transaction; reads of one batch share
one read transaction, so they see one state.

On an ``aiosqlite.Connection`` its owner passed (LangGraph's ``AsyncSqliteStore(conn)``),
every call runs on that connection's own thread instead, through aiosqlite: async calls
from its event loop (or, on trio, through the bridge), sync calls from any other thread
by waiting for that loop; a sync call on the loop's own thread would wait for itself,
so it raises and names the async method.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aiosqlite
import anyio
import anyio.to_thread

from lograph.eventlog import SchemaVersionError, StoreUnavailableError
from lograph.runtime.lowlevel import StoreIndexer as Indexer
from lograph.runtime.lowlevel import StoreSweeper as Sweeper
from lograph.runtime.lowlevel import in_event_loop
from lograph.runtime.lowlevel import store_rules as rules
from lograph.runtime.store import (
    BaseStore,
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    Op,
    Result,
    SearchOp,
    TTLConfig,
)

from . import _sqlite_sql
from ._bridge import Bridge
from ._store_sql import (
    FIRST_PAGE,
    item_of,
    keep,
    page_of,
    sqlite_path,
    to_blob,
    touched,
    with_vectors,
)

__all__ = ["AsyncSqliteStore", "SqliteStore"]

T = TypeVar("T")
SCHEMA_VERSION = 1
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS store_items (
        ns      TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,  -- JSON
        created REAL NOT NULL,  -- seconds since the epoch
        updated REAL NOT NULL,
        expires REAL,           -- NULL: never
        ttl     REAL,           -- minutes
        seq     INTEGER NOT NULL,
        PRIMARY KEY (ns, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS store_items_seq ON store_items (seq)",
    "CREATE INDEX IF NOT EXISTS store_items_expires ON store_items (expires) WHERE expires IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS store_vectors (
        ns    TEXT NOT NULL,
        key   TEXT NOT NULL,
        field TEXT NOT NULL,
        vec   BLOB NOT NULL,  -- float64, little-endian
        norm  REAL NOT NULL,
        PRIMARY KEY (ns, key, field)
    ) WITHOUT ROWID""",
]
_COLUMNS = "ns, key, value, created, updated, ttl, seq"
_LIVE = "(expires IS NULL OR expires > ?)"
_UPSERT = (
    "INSERT INTO store_items (ns, key, value, created, updated, expires, ttl, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, updated = excluded.updated, "
    "expires = excluded.expires, ttl = excluded.ttl, seq = excluded.seq, "
    "created = CASE WHEN store_items.expires IS NOT NULL AND store_items.expires <= excluded.updated "
    "THEN excluded.created ELSE store_items.created END"
)


def _prefix_sql(prefix: tuple[str, ...], column: str = "ns") -> tuple[str, list[Any]]:
    bounds = rules.prefix_range(prefix)
    if bounds is None:
        return "1", []
    exact, low, high = bounds
    # one index range [exact, high), then the exact-or-under check on what it finds
    return (f"{column} >= ? AND {column} < ? AND ({column} = ? OR {column} >= ?)",
            [exact, high, exact, low])


def _filter_sql(op: SearchOp, column: str = "value") -> tuple[str, list[Any]]:
    parts: list[str] = []
    args: list[Any] = []
    for key, name, operand in rules.pushdown(op.filter):
        path = sqlite_path(key)
        if path is None:
            continue
        if name == "$eq" and operand is None:
            parts.append(f"json_extract({column}, ?) IS NULL")
            args.append(path)
            continue
        sql_op = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[name]
        parts.append(f"json_extract({column}, ?) {sql_op} ?")
        args += [path, int(operand) if isinstance(operand, bool) else operand]
    return "".join(f" AND {p}" for p in parts), args


class SqliteStore(Sweeper, BaseStore):
    """The Store in a SQLite file, sync and async (see also :class:`AsyncSqliteStore`).

    ``SqliteStore(conn)`` uses a ``sqlite3.Connection`` you own (open it with
    ``check_same_thread=False`` for async use or use from several threads) or an
    ``aiosqlite.Connection`` (see the module); closing the store leaves it open.
    ``SqliteStore.from_conn_string(path)`` opens and closes one (``with`` or
    ``async with``). The tables are created on first use (``setup()`` does it now).
    """

    supports_ttl = True

    def __init__(self, conn: sqlite3.Connection | aiosqlite.Connection, *,
                 index: IndexConfig | None = None, ttl: TTLConfig | None = None,
                 path: str | None = None) -> None:
        self._aio: aiosqlite.Connection | None = None
        if isinstance(conn, aiosqlite.Connection):
            self._aio, self._bridge = conn, Bridge.here()
            self.conn: sqlite3.Connection = None  # type: ignore[assignment] # its thread's, once started
        elif isinstance(conn, sqlite3.Connection):
            self.conn = conn
        else:
            raise TypeError(
                f"{type(self).__name__}(conn) takes a sqlite3 or aiosqlite connection, not "
                f"{type(conn).__name__}; to open a file use `{type(self).__name__}.from_conn_string(path)`")
        self.path = path or f"(a{'n aiosqlite' if self._aio else ' sqlite3'} connection)"
        self.index_config = index
        self._indexer = Indexer(index) if index is not None else None
        self.embeddings = self._indexer.embeddings if self._indexer else None
        self.ttl_config = ttl
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False
        self._owned = False

    # -- opening and closing ---------------------------------------------------------------

    @classmethod
    def from_conn_string(cls, conn_string: str | os.PathLike[str], *, index: IndexConfig | None = None,
                         ttl: TTLConfig | None = None, synchronous: str = "FULL",
                         busy_timeout: float = 5.0) -> _Opener:
        """A context manager (``with`` or ``async with``) opening the store at a path,
        ``":memory:"`` or a ``file:`` URI, and closing it on exit."""
        mode = _sqlite_sql.check_options(synchronous, busy_timeout)
        return _Opener(lambda: cls._open(os.fspath(conn_string), index, ttl, mode, busy_timeout))

    @classmethod
    def _open(cls, path: str, index: IndexConfig | None, ttl: TTLConfig | None,
              synchronous: str, busy_timeout: float) -> SqliteStore:
        try:
            conn = sqlite3.connect(path, uri=path.startswith("file:"), isolation_level=None,
                                   check_same_thread=False, timeout=busy_timeout)
        except sqlite3.Error as e:
            raise _sqlite_sql.store_error(e, path, busy_timeout) from e
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            store = cls(conn, index=index, ttl=ttl, path=path)
            store._owned = True
            store._locked(lambda: None)  # creates the tables
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection if this store opened it (``from_conn_string``). Safe twice."""
        self._stop(timeout=1.0)
        with self._lock:
            if not self._closed and self._owned:
                self.conn.close()
            self._closed = True

    async def aclose(self) -> None:
        if self._aio is not None:  # nothing to close, and no thread to wait on
            self.close()
            return
        await anyio.to_thread.run_sync(self.close)

    def setup(self) -> Any:
        """Create the store's tables if missing (idempotent; also done on first use)."""
        self._run(lambda: None)
        return None

    async def asetup(self) -> None:
        await self._arun(lambda: None)

    # -- where a call runs -------------------------------------------------------------------

    def _run(self, fn: Callable[[], T], method: str = "setup") -> T:
        """``fn`` under the lock, from sync code: here, or on an aiosqlite connection's thread."""
        if self._aio is None:
            return self._locked(fn)
        if self._bridge.is_home():
            raise RuntimeError(
                f"{type(self).__name__}.{method}() was called on the event loop that runs its "
                "aiosqlite connection, where it would wait for itself; await the async form "
                f"there (`await store.a{method}(...)`; `aput`, `aget`, `asearch`, ...)")
        submitted = contextvars.Context().run(  # (see _store_pg's _blocking)
            asyncio.run_coroutine_threadsafe, self._on_aio(fn), self._bridge.home)
        return submitted.result()

    async def _arun(self, fn: Callable[[], T]) -> T:
        """``fn`` under the lock, from async code: on a worker thread, or on an aiosqlite
        connection's thread."""
        if self._aio is None:
            return await anyio.to_thread.run_sync(self._locked, fn)
        return await self._bridge.run(self._on_aio, fn)

    async def _on_aio(self, fn: Callable[[], T]) -> T:
        aio: Any = self._aio  # its private _execute runs a function on its thread (see sqlite.py)
        if self._closed:
            raise StoreUnavailableError(f"the SQLite store {self.path!r} is closed; open it again")
        if aio._connection is None:
            await aio
        self.conn = aio._conn
        result: T = await aio._execute(self._locked, fn)
        return result

    def _setup(self) -> None:
        if self._ready:
            return
        with self._translated():
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS store_schema_version (version INTEGER PRIMARY KEY)")
                version = conn.execute("SELECT coalesce(max(version), 0) FROM store_schema_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"the SQLite store {self.path!r} has store schema {version}, written by a "
                        f"newer lograph (this one knows up to {SCHEMA_VERSION}): upgrade lograph")
                if version < SCHEMA_VERSION:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("INSERT INTO store_schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._ready = True

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise _sqlite_sql.store_error(e, self.path, 5.0) from e

    def _locked(self, fn: Callable[[], T], *, wait: bool = True) -> T:
        if not self._lock.acquire(blocking=wait):
            raise _Busy
        try:
            if self._closed:
                raise StoreUnavailableError(f"the SQLite store {self.path!r} is closed; open it again")
            self._setup()
            with self._translated():
                return fn()
        finally:
            self._lock.release()

    # -- batches ---------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ready = rules.plan(ops, self._indexer).embed(self._indexer)
        return self._run(lambda: self._execute(ready), "batch")

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ready = await rules.plan(ops, self._indexer).aembed(self._indexer)
        if self._aio is not None:
            return await self._arun(lambda: self._execute(ready))
        if not ready.writes:
            try:  # a read: here, if the connection is idle
                return self._locked(lambda: self._execute(ready, refresh_later=True), wait=False)
            except _Refresh as later:
                keys, results = later.keys, later.results
                await anyio.to_thread.run_sync(self._locked, lambda: self._refresh(keys, ready.at))
                return results
            except _Busy:
                pass
        return await anyio.to_thread.run_sync(self._locked, lambda: self._execute(ready))

    def _execute(self, p: rules.Plan, *, refresh_later: bool = False) -> list[Result]:
        conn = self.conn
        results: list[Result] = [None] * p.size
        refresh: list[tuple[str, str]] = []
        if p.writes:
            conn.execute("BEGIN IMMEDIATE")
        elif len(p.reads) > 1 or any(isinstance(op, SearchOp) for _, op in p.reads):
            conn.execute("BEGIN")
        try:
            for i, op in p.reads:
                if isinstance(op, GetOp):
                    results[i] = self._get(op, p, refresh)
                elif isinstance(op, SearchOp):
                    results[i] = self._search(op, p, refresh)
                else:
                    results[i] = self._list(op, p.at)
            if p.writes:
                self._write(p)
            elif refresh and refresh_later:
                raise _Refresh(refresh, results)
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if refresh and not p.writes:  # (a batch that writes refreshed inside its transaction)
            self._refresh(refresh, p.at)
        return results

    def _get(self, op: GetOp, p: rules.Plan, refresh: list[tuple[str, str]]) -> Result:
        ns = rules.text_of(op.namespace)
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM store_items WHERE ns = ? AND key = ? AND {_LIVE}",
            (ns, op.key, p.at)).fetchone()
        if row is None:
            return None
        if op.refresh_ttl and row[5] is not None:
            refresh.append((ns, op.key))
            if p.writes:
                self._refresh([(ns, op.key)], p.at, begin=False)
        return item_of(op, row)

    def _search(self, op: SearchOp, p: rules.Plan, refresh: list[tuple[str, str]]) -> list[Any]:
        if not rules.searchable(op):
            return []
        where, args = _prefix_sql(op.namespace_prefix, "i.ns")
        filters, fargs = _filter_sql(op, "i.value")
        kept: list[rules.Found] = []
        if p.query_vector(op) is not None:
            joined = self.conn.execute(
                f"SELECT i.ns, i.key, i.value, i.created, i.updated, i.ttl, i.seq, v.vec, v.norm "
                f"FROM store_items i LEFT JOIN store_vectors v ON v.ns = i.ns AND v.key = i.key "
                f"WHERE {where}{filters} AND (i.expires IS NULL OR i.expires > ?) "
                f"ORDER BY i.seq DESC, v.field",
                (*args, *fargs, p.at))
            kept = with_vectors(joined, op)
        else:
            wanted = op.offset + op.limit
            size = max(FIRST_PAGE, wanted)
            after = None
            while len(kept) < wanted:
                rows = self.conn.execute(
                    f"SELECT i.ns, i.key, i.value, i.created, i.updated, i.ttl, i.seq FROM store_items i "
                    f"WHERE {where}{filters} AND (i.expires IS NULL OR i.expires > ?)"
                    f"{'' if after is None else ' AND i.seq < ?'} ORDER BY i.seq DESC LIMIT ?",
                    (*args, *fargs, p.at, *(() if after is None else (after,)), size)).fetchall()
                keep(rows, op, kept)
                if len(rows) < size:
                    break
                after, size = rows[-1][6], size * 2
            del kept[wanted:]
        page = page_of(p, op, kept)
        if op.refresh_ttl:
            keys = touched(page, kept)
            refresh.extend(keys)
            if p.writes and keys:
                self._refresh(keys, p.at, begin=False)
        return page

    def _list(self, op: ListNamespacesOp, at: float) -> list[tuple[str, ...]]:
        where, args = _prefix_sql(rules.literal_prefix(op))
        rows = self.conn.execute(
            f"SELECT DISTINCT ns FROM store_items WHERE {where} AND {_LIVE}", (*args, at))
        return rules.list_namespaces((rules.namespace_of(r[0]) for r in rows), op)

    def _refresh(self, keys: list[tuple[str, str]], at: float, *, begin: bool = True) -> None:
        statement = "UPDATE store_items SET expires = ? + ttl * 60.0 WHERE ns = ? AND key = ? AND ttl IS NOT NULL"
        if not begin:
            self.conn.executemany(statement, [(at, ns, key) for ns, key in keys])
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(statement, [(at, ns, key) for ns, key in keys])
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _write(self, p: rules.Plan) -> None:
        conn = self.conn
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM store_items").fetchone()[0]
        puts = []
        gone = []
        for w in p.writes:
            if w.doc is None:
                gone.append((w.ns, w.key))
            else:
                seq += 1
                expires = None if w.ttl is None else p.at + w.ttl * 60.0
                puts.append((w.ns, w.key, w.doc, p.at, p.at, expires, w.ttl, seq))
        if gone:
            conn.executemany("DELETE FROM store_items WHERE ns = ? AND key = ?", gone)
        if puts:
            conn.executemany(_UPSERT, puts)
        if p.indexed:
            conn.executemany("DELETE FROM store_vectors WHERE ns = ? AND key = ?",
                             [(w.ns, w.key) for w in p.writes])
            conn.executemany(
                "INSERT INTO store_vectors (ns, key, field, vec, norm) VALUES (?, ?, ?, ?, ?)",
                [(w.ns, w.key, f, to_blob(v), n) for w in p.writes for f, v, n in w.vectors])

    # -- TTL -------------------------------------------------------------------------------

    def _sweeper_of(self, at: float) -> Callable[[], int]:
        def sweep() -> int:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM store_vectors WHERE (ns, key) IN (SELECT ns, key FROM store_items "
                    "WHERE expires IS NOT NULL AND expires <= ?)", (at,))
                swept = conn.execute(
                    "DELETE FROM store_items WHERE expires IS NOT NULL AND expires <= ?", (at,)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return int(swept)

        return sweep

    def _sweep_now(self) -> int:
        return self._run(self._sweeper_of(rules.now()), "sweep_ttl")

    async def asweep_ttl(self) -> int:
        return await self._arun(self._sweeper_of(rules.now()))


class AsyncSqliteStore(SqliteStore):
    """LangGraph's ``AsyncSqliteStore``: the same store, whose ``setup()`` inside an event
    loop returns the coroutine of :meth:`asetup` (``await store.setup()``, as LangGraph's
    docs write it); in sync code it sets up at once."""

    def setup(self) -> Any:
        if in_event_loop():
            return self.asetup()
        return super().setup()


class _Busy(Exception):
    """The connection is in use: run the batch on a worker thread instead."""


class _Refresh(Exception):  # noqa: N818 - a signal, not an error
    """An inline read's results, whose TTL refresh (a write) must run on a worker thread."""

    def __init__(self, keys: list[tuple[str, str]], results: list[Result]) -> None:
        self.keys = keys
        self.results = results


class _Opener:
    """``from_conn_string``'s result: ``with`` or ``async with`` (opens once per entry)."""

    def __init__(self, open: Callable[[], SqliteStore]) -> None:
        self._open = open
        self._store: SqliteStore | None = None

    def __enter__(self) -> SqliteStore:
        self._store = self._open()
        return self._store

    def __exit__(self, *exc: object) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    async def __aenter__(self) -> SqliteStore:
        self._store = await anyio.to_thread.run_sync(self._open)
        return self._store

    async def __aexit__(self, *exc: object) -> None:
        store, self._store = self._store, None
        if store is not None:
            with anyio.CancelScope(shield=True):
                await store.aclose()
