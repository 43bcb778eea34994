"""``PostgresStore`` (alias ``AsyncPostgresStore``): the Store in PostgreSQL, on asyncpg.

Its tables (``store_items``, ``store_vectors``, ``store_schema_version`` and the
sequence ``store_seq``) live in a schema (``lograph`` by default, beside a
PostgresSaver's tables); ``setup()`` creates them (idempotent, under an advisory lock).
No extension is needed: vectors are stored as bytes and similarity is computed in
Python (``_store_sql``).

The pool belongs to the event loop it was opened on (its home, see ``_bridge.py``):
async calls from any loop (asyncio or trio) go through the bridge; sync calls from a
thread without a running loop, or from another loop's thread, wait for the home loop;
a sync call on the home loop's own thread would deadlock, so it raises and names the
async method. ``with PostgresStore.from_conn_string(...)`` opens the pool on lograph's
sync portal, so the store then serves sync calls inside a running loop (a notebook cell). Transient failures are retried for ``retry_for`` seconds
(``_pg_log._retrying``); driver errors become lograph's (``_pg_errors``).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import anyio
import asyncpg

from lograph.eventlog import SchemaVersionError, StoreUnavailableError
from lograph.runtime.lowlevel import StoreIndexer as Indexer
from lograph.runtime.lowlevel import StoreSweeper as Sweeper
from lograph.runtime.lowlevel import in_event_loop, on_portal_thread, portal
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

from ._bridge import Bridge
from ._pg_errors import not_a_connection
from ._pg_log import _loopback_without_tls, _no_reset, _PoolOfOne, _retrying, pool_sizes
from ._pg_sql import lock_key, quote_ident
from ._store_sql import FIRST_PAGE, item_of, keep, page_of, to_blob, touched, with_vectors

__all__ = ["AsyncPostgresStore", "PostgresStore"]

T = TypeVar("T")
Conn = Any
SCHEMA_VERSION = 1

_CMP = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class _Sql:
    """The statements for one schema, built once."""

    def __init__(self, schema: str) -> None:
        s = quote_ident(schema)
        self.schema = s
        self.version = f"SELECT coalesce(max(version), 0) FROM {s}.store_schema_version"
        self.migrate = [
            f"CREATE SCHEMA IF NOT EXISTS {s}",
            f"CREATE TABLE IF NOT EXISTS {s}.store_schema_version (version integer PRIMARY KEY)",
        ]
        self.tables = [
            f"""CREATE TABLE IF NOT EXISTS {s}.store_items (
                ns      text COLLATE "C" NOT NULL,
                key     text COLLATE "C" NOT NULL,
                value   json NOT NULL,              -- the JSON text as written
                created double precision NOT NULL,  -- seconds since the epoch
                updated double precision NOT NULL,
                expires double precision,           -- NULL: never
                ttl     double precision,           -- minutes
                seq     bigint NOT NULL,
                PRIMARY KEY (ns, key))""",
            f"CREATE SEQUENCE IF NOT EXISTS {s}.store_seq",
            f"CREATE INDEX IF NOT EXISTS store_items_seq ON {s}.store_items (seq)",
            f"CREATE INDEX IF NOT EXISTS store_items_expires ON {s}.store_items (expires) "
            "WHERE expires IS NOT NULL",
            f"""CREATE TABLE IF NOT EXISTS {s}.store_vectors (
                ns    text COLLATE "C" NOT NULL,
                key   text COLLATE "C" NOT NULL,
                field text NOT NULL,
                vec   bytea NOT NULL,               -- float64, little-endian
                norm  double precision NOT NULL,
                PRIMARY KEY (ns, key, field),
                FOREIGN KEY (ns, key) REFERENCES {s}.store_items (ns, key) ON DELETE CASCADE)""",
            f"INSERT INTO {s}.store_schema_version (version) VALUES ({SCHEMA_VERSION})",
        ]
        self.get = (f"SELECT ns, key, value, created, updated, ttl, seq FROM {s}.store_items "
                    "WHERE ns = $1 AND key = $2 AND (expires IS NULL OR expires > $3)")
        self.refresh = (f"UPDATE {s}.store_items SET expires = $1 + ttl * 60.0 FROM "
                        "unnest($2::text[], $3::text[]) AS t(ns, key) "
                        f"WHERE {s}.store_items.ns = t.ns AND {s}.store_items.key = t.key "
                        f"AND {s}.store_items.ttl IS NOT NULL")
        self.delete = (f"DELETE FROM {s}.store_items WHERE (ns, key) IN "
                       "(SELECT * FROM unnest($1::text[], $2::text[]))")
        self.upsert = f"""
            INSERT INTO {s}.store_items (ns, key, value, created, updated, expires, ttl, seq)
            SELECT t.ns, t.key, t.value, $4, $4, $4 + t.ttl * 60.0, t.ttl, nextval('{s}.store_seq')
            FROM unnest($1::text[], $2::text[], $3::json[], $5::float8[]) WITH ORDINALITY
                 AS t(ns, key, value, ttl, n)
            ORDER BY t.n
            ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, updated = EXCLUDED.updated,
                expires = EXCLUDED.expires, ttl = EXCLUDED.ttl, seq = EXCLUDED.seq,
                created = CASE WHEN {s}.store_items.expires IS NOT NULL
                                AND {s}.store_items.expires <= EXCLUDED.updated
                          THEN EXCLUDED.created ELSE {s}.store_items.created END"""
        self.upsert_one = f"""
            INSERT INTO {s}.store_items (ns, key, value, created, updated, expires, ttl, seq)
            VALUES ($1, $2, $3::json, $4, $4, $4 + $5::float8 * 60.0, $5::float8, nextval('{s}.store_seq'))
            ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, updated = EXCLUDED.updated,
                expires = EXCLUDED.expires, ttl = EXCLUDED.ttl, seq = EXCLUDED.seq,
                created = CASE WHEN {s}.store_items.expires IS NOT NULL
                                AND {s}.store_items.expires <= EXCLUDED.updated
                          THEN EXCLUDED.created ELSE {s}.store_items.created END"""
        self.drop_vectors = (f"DELETE FROM {s}.store_vectors WHERE (ns, key) IN "
                             "(SELECT * FROM unnest($1::text[], $2::text[]))")
        self.add_vectors = (f"INSERT INTO {s}.store_vectors (ns, key, field, vec, norm) SELECT * FROM "
                            "unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::float8[])")
        self.sweep = (f"DELETE FROM {s}.store_items WHERE expires IS NOT NULL AND expires <= $1")
        self.items = f"{s}.store_items"
        self.vectors = f"{s}.store_vectors"


def _prefix_sql(prefix: tuple[str, ...], args: list[Any], column: str = "i.ns") -> str:
    bounds = rules.prefix_range(prefix)
    if bounds is None:
        return "TRUE"
    exact, low, high = bounds
    args += [exact, high, low]
    n = len(args)
    return f"{column} >= ${n - 2} AND {column} < ${n - 1} AND ({column} = ${n - 2} OR {column} >= ${n})"


def _filter_sql(op: SearchOp, args: list[Any]) -> str:
    parts = []
    for key, name, operand in rules.pushdown(op.filter):
        args.append(key)
        k = len(args)
        if name == "$eq" and operand is None:
            parts.append(f"(i.value -> ${k} IS NULL OR (i.value -> ${k})::jsonb = 'null'::jsonb)")
        elif isinstance(operand, str) and name != "$eq":
            args.append(operand)
            parts.append(f'(i.value ->> ${k}) COLLATE "C" {_CMP[name]} ${len(args)}')
        else:
            args.append(json.dumps(operand))
            parts.append(f"(i.value -> ${k})::jsonb {_CMP[name]} ${len(args)}::jsonb")
    return "".join(f" AND {p}" for p in parts)


class PostgresStore(Sweeper, BaseStore):
    """The Store in PostgreSQL, sync and async (see also :class:`AsyncPostgresStore`).

    ``PostgresStore(conn)`` uses an asyncpg pool or connection you own (left open by
    ``close``; a connection serves one call at a time); a psycopg connection is refused
    with a message saying so (lograph runs on asyncpg and does not depend on psycopg).
    ``PostgresStore.from_conn_string(dsn)`` opens and closes a pool (``with`` or
    ``async with``). Call ``setup()`` once per database (idempotent); it blocks until
    done, as LangGraph's sync ``PostgresStore.setup()`` does.
    """

    supports_ttl = True

    def __init__(self, conn: asyncpg.Pool | asyncpg.Connection, *, schema: str = "lograph",
                 index: IndexConfig | None = None, ttl: TTLConfig | None = None,
                 retry_for: float = 10.0, bridge: Bridge | None = None,
                 owns_pool: bool = False) -> None:
        if not isinstance(conn, asyncpg.Pool | asyncpg.Connection):
            raise not_a_connection(conn, type(self).__name__)
        self._sql = _Sql(schema)
        self.schema = schema
        self.index_config = index
        self._indexer = Indexer(index) if index is not None else None
        self.embeddings = self._indexer.embeddings if self._indexer else None
        self.ttl_config = ttl
        self.retry_for = retry_for
        self._pool: Any = conn if isinstance(conn, asyncpg.Pool) else _PoolOfOne(conn)
        if bridge is None:
            loop = getattr(conn, "_loop", None)
            bridge = Bridge(loop) if isinstance(loop, asyncio.AbstractEventLoop) else Bridge.here()
        self._bridge = bridge
        self._owns_pool = owns_pool
        self._ready = False
        self._closed = False

    # -- opening and closing ---------------------------------------------------------------

    @classmethod
    def from_conn_string(cls, conn_string: str, *, schema: str = "lograph", index: IndexConfig | None = None,
                         ttl: TTLConfig | None = None, min_size: int = 1, max_size: int = 16,
                         retry_for: float = 10.0, **pool_kwargs: Any) -> _Opener:
        """A context manager (``with`` or ``async with``) connecting a pool to ``conn_string``
        and closing it on exit. Call ``setup()`` once per database."""
        _Sql(schema)
        if index is not None:
            Indexer(index)  # a bad configuration fails before connecting

        async def open_store() -> PostgresStore:
            bridge = Bridge.here()
            pool_kwargs.setdefault("reset", _no_reset)
            if _loopback_without_tls(conn_string, pool_kwargs):
                pool_kwargs["ssl"] = False
            settings = pool_kwargs["server_settings"] = dict(pool_kwargs.get("server_settings") or {})
            settings.setdefault("application_name", "lograph-store")
            # A search's plan depends on how much of the table its prefix range covers:
            # asyncpg's prepared statements would otherwise switch to one generic plan
            # after five runs (seen: a search over every item 30x slower).
            settings.setdefault("plan_cache_mode", "force_custom_plan")

            async def attempt(again: bool) -> asyncpg.Pool:
                return await asyncpg.create_pool(conn_string, max_size=max_size,
                                                 **pool_sizes(min_size), **pool_kwargs)

            async def connect() -> asyncpg.Pool:
                return await _retrying("connecting", schema, retry_for, attempt)

            with anyio.CancelScope(shield=True):
                pool = await bridge.run(connect)
            return cls(pool, schema=schema, index=index, ttl=ttl, retry_for=retry_for,
                       bridge=bridge, owns_pool=True)

        return _Opener(open_store)

    async def aclose(self) -> None:
        """Close the pool if this store opened it. Safe to call twice."""
        self._stop(timeout=1.0)
        if self._closed:
            return
        self._closed = True
        if self._owns_pool and not self._bridge.home.is_closed():
            with anyio.CancelScope(shield=True):
                await self._bridge.run(self._close_pool)

    async def _close_pool(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except Exception:  # noqa: BLE001 - the server is gone or slow: drop the sockets instead
            self._pool.terminate()

    def close(self) -> None:
        self._blocking(self.aclose, "close", "aclose")

    def setup(self) -> Any:
        """Create the tables if missing (idempotent), and wait until done."""
        self._blocking(self.asetup, "setup", "asetup")
        return None

    async def asetup(self) -> None:
        async def migrate(conn: Conn) -> None:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(self.schema + ".store"))
                for statement in self._sql.migrate:
                    await conn.execute(statement)
                version = await conn.fetchval(self._sql.version)
                self._refuse_newer(version)
                if version < SCHEMA_VERSION:
                    for statement in self._sql.tables:
                        await conn.execute(statement)
            self._ready = True

        await self._call("setting up the store", migrate, check=False)

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"PostgreSQL schema {self.schema!r} has store schema {version}, written by a newer "
                f"lograph (this one knows up to {SCHEMA_VERSION}): upgrade lograph")

    # -- the one path to the driver ------------------------------------------------------

    async def _call(self, what: str, fn: Callable[[Conn], Awaitable[T]], *, check: bool = True) -> T:
        if self._closed:
            raise StoreUnavailableError(f"the PostgreSQL store (schema {self.schema!r}) is closed")

        async def attempt(again: bool) -> T:
            async with self._pool.acquire() as conn:
                if check and not self._ready:
                    try:
                        version = await conn.fetchval(self._sql.version)
                    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                        version = 0
                    self._refuse_newer(version)
                    if version < SCHEMA_VERSION:
                        raise SchemaVersionError(
                            f"the PostgreSQL store (schema {self.schema!r}) is not set up: call "
                            "`store.setup()` (or `await store.asetup()`) once")
                    self._ready = True
                return await fn(conn)

        async def run() -> T:
            return await _retrying(what, self.schema, self.retry_for, attempt)

        return await self._bridge.run(run)

    def _blocking(self, fn: Callable[[], Awaitable[T]], method: str, amethod: str) -> T:
        """Run ``fn()`` on the pool's home loop from sync code, and wait for it."""
        home = self._bridge.home
        if self._bridge.is_home():
            raise RuntimeError(
                f"{type(self).__name__}.{method}() was called on the event loop that runs the "
                f"store's connections, where it would deadlock; use `await store.{amethod}(...)`")
        if home.is_closed() or not home.is_running():
            raise StoreUnavailableError(
                "the event loop that opened the PostgreSQL store is not running; open the store "
                "again (sync code: `with PostgresStore.from_conn_string(dsn)`)")
        # In an empty context: a caller's trio loop must not be what the home loop's
        # task sees as its async library (call_soon_threadsafe copies the caller's).
        submitted = contextvars.Context().run(asyncio.run_coroutine_threadsafe, _awaited(fn), home)
        return submitted.result()

    # -- batches ---------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ready = rules.plan(ops, self._indexer).embed(self._indexer)
        return self._blocking(lambda: self._execute(ready), "batch", "abatch")

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ready = await rules.plan(ops, self._indexer).aembed(self._indexer)
        return await self._execute(ready)

    async def _execute(self, p: rules.Plan) -> list[Result]:
        deletes = any(w.value is None for w in p.writes)
        puts = len(p.writes) - deletes if not deletes else any(w.value is not None for w in p.writes)
        statements = len(p.reads) + bool(deletes) + bool(puts) + (2 if p.indexed and puts else 0)

        async def run(conn: Conn) -> list[Result]:
            if statements > 1:  # one statement is atomic alone: no BEGIN/COMMIT round trips
                async with conn.transaction():
                    return await self._on(conn, p)
            return await self._on(conn, p)

        return await self._call("a store batch", run)

    async def _on(self, conn: Conn, p: rules.Plan) -> list[Result]:
        results: list[Result] = [None] * p.size
        refresh: list[tuple[str, str]] = []
        for i, op in p.reads:
            if isinstance(op, GetOp):
                row = await conn.fetchrow(self._sql.get, rules.text_of(op.namespace), op.key, p.at)
                if row is not None:
                    results[i] = item_of(op, row)
                    if op.refresh_ttl and row[5] is not None:
                        refresh.append((row[0], row[1]))
            elif isinstance(op, SearchOp):
                results[i] = await self._search(conn, op, p, refresh)
            else:
                results[i] = await self._list(conn, op, p.at)
        if refresh:
            await conn.execute(self._sql.refresh, p.at, [k[0] for k in refresh], [k[1] for k in refresh])
        if p.writes:
            await self._write(conn, p)
        return results

    async def _search(self, conn: Conn, op: SearchOp, p: rules.Plan, refresh: list[tuple[str, str]]) -> list[Any]:
        if not rules.searchable(op):
            return []
        args: list[Any] = []
        where = _prefix_sql(op.namespace_prefix, args)
        where += _filter_sql(op, args)
        args.append(p.at)
        where += f" AND (i.expires IS NULL OR i.expires > ${len(args)})"
        kept: list[rules.Found] = []
        if p.query_vector(op) is not None:
            rows = await conn.fetch(
                f"SELECT i.ns, i.key, i.value, i.created, i.updated, i.ttl, i.seq, v.vec, v.norm "
                f"FROM {self._sql.items} i LEFT JOIN {self._sql.vectors} v "
                f"ON v.ns = i.ns AND v.key = i.key WHERE {where} ORDER BY i.seq DESC, v.field", *args)
            kept = with_vectors(rows, op)
        else:
            wanted = op.offset + op.limit
            size = max(FIRST_PAGE, wanted)
            after = None
            while len(kept) < wanted:
                extra: list[Any] = [] if after is None else [after]
                n = len(args) + len(extra)
                rows = await conn.fetch(
                    f"SELECT i.ns, i.key, i.value, i.created, i.updated, i.ttl, i.seq "
                    f"FROM {self._sql.items} i WHERE {where}"
                    f"{'' if after is None else f' AND i.seq < ${n}'} ORDER BY i.seq DESC LIMIT ${n + 1}",
                    *args, *extra, size)
                keep(rows, op, kept)
                if len(rows) < size:
                    break
                after, size = rows[-1][6], size * 2
            del kept[wanted:]
        page = page_of(p, op, kept)
        if op.refresh_ttl:
            refresh.extend(touched(page, kept))
        return page

    async def _list(self, conn: Conn, op: ListNamespacesOp, at: float) -> list[tuple[str, ...]]:
        args: list[Any] = []
        where = _prefix_sql(rules.literal_prefix(op), args, "ns")
        args.append(at)
        rows = await conn.fetch(
            f"SELECT DISTINCT ns FROM {self._sql.items} WHERE {where} "
            f"AND (expires IS NULL OR expires > ${len(args)})", *args)
        return rules.list_namespaces((rules.namespace_of(r[0]) for r in rows), op)

    async def _write(self, conn: Conn, p: rules.Plan) -> None:
        gone = [w for w in p.writes if w.doc is None]
        puts = [w for w in p.writes if w.doc is not None]
        if gone:
            await conn.execute(self._sql.delete, [w.ns for w in gone], [w.key for w in gone])
        if len(puts) == 1:  # one row: a plain VALUES insert, the cheapest statement to plan
            w = puts[0]
            await conn.execute(self._sql.upsert_one, w.ns, w.key, w.doc, p.at, w.ttl)
        elif puts:
            await conn.execute(self._sql.upsert, [w.ns for w in puts], [w.key for w in puts],
                               [w.doc for w in puts], p.at, [w.ttl for w in puts])
        if p.indexed and puts:
            await conn.execute(self._sql.drop_vectors, [w.ns for w in puts], [w.key for w in puts])
            rows = [(w.ns, w.key, f, to_blob(v), n) for w in puts for f, v, n in w.vectors]
            if rows:
                await conn.execute(self._sql.add_vectors, *(list(c) for c in zip(*rows, strict=True)))

    # -- TTL -------------------------------------------------------------------------------

    def _sweep_now(self) -> int:
        return self._blocking(self.asweep_ttl, "sweep_ttl", "asweep_ttl")

    async def asweep_ttl(self) -> int:
        at = rules.now()

        async def sweep(conn: Conn) -> int:
            status = await conn.execute(self._sql.sweep, at)
            return int(status.split()[-1])

        return await self._call("sweeping expired items", sweep)


class AsyncPostgresStore(PostgresStore):
    """LangGraph's ``AsyncPostgresStore``: the same store, whose ``setup()`` inside an event
    loop returns the coroutine of :meth:`asetup` (``await store.setup()``, as LangGraph's
    docs write it); in sync code it sets up at once."""

    def setup(self) -> Any:
        if in_event_loop():
            return self.asetup()
        return super().setup()


async def _awaited(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


class _Opener:
    """``from_conn_string``'s result: ``with`` (on lograph's portal) or ``async with``."""

    def __init__(self, open: Callable[[], Awaitable[PostgresStore]]) -> None:
        self._open = open
        self._store: PostgresStore | None = None

    def __enter__(self) -> PostgresStore:
        if on_portal_thread():  # async code that lograph's sync API runs: its loop is busy
            raise RuntimeError(
                "`with PostgresStore.from_conn_string(...)` inside async code run by a sync call "
                "of lograph would wait for itself; use `async with` there")
        self._store = portal().call(self._open)
        return self._store

    def __exit__(self, *exc: object) -> None:
        store, self._store = self._store, None
        if store is not None:
            portal().call(store.aclose)

    async def __aenter__(self) -> PostgresStore:
        self._store = await self._open()
        return self._store

    async def __aexit__(self, *exc: object) -> None:
        store, self._store = self._store, None
        if store is not None:
            await store.aclose()
