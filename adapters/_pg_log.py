"""``PostgresLog``: the event log port on asyncpg.

Rules of the append (the hard part):
- Validate every item with ``check_append`` before any I/O; a bad item fails alone.
- Fast path: the whole batch is ONE ``INSERT ... SELECT FROM unnest(...)`` statement in
  autocommit, so one round trip and one implicit transaction. It either stores every
  item or nothing.
- If that statement hits a conflict (a unique violation: a thread moved on; or the
  gap check: a base event is missing) or the server refuses a row's value, the batch
  is redone in one transaction with each item in its own savepoint: a conflicting item
  gets ConflictError (a refused one RowRefusedError) and writes nothing, the others
  commit together.
- Transient failures (connection lost, server restarting, serialization failure,
  deadlock) are retried with backoff for ``retry_for`` seconds. A failure may hit
  after the server committed (connection lost during COMMIT), so before every retry
  the items still pending are looked up: an item whose first event is stored with the
  same hash succeeded and is not sent again. Nothing is ever written twice.
- Past the budget: StoreUnavailableError; the batch's outcome is then unknown.

Every driver call runs on the pool's home loop through the one bridge, so the log
works from asyncio and trio hosts alike; driver errors are translated in
``_pg_errors`` only.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import anyio
import asyncpg

from lograph.eventlog import (
    Append,
    Capability,
    Event,
    Lease,
    LeaseLostError,
    LogError,
    NewRun,
    RunRecord,
    RunWatch,
    SchemaVersionError,
    StoreUnavailableError,
    ThreadInfo,
    check_append,
)
from lograph.eventlog.lowlevel import (
    CheckedAppend,
    RowMapper,
    RunSignals,
    check_end,
    check_filters,
    check_graph,
    check_lease_seconds,
    check_limit,
    check_new_run,
    check_stop,
    metadata_json,
    new_token,
    run_of_row,
)

from . import _pg_runs
from ._bridge import Bridge, call_in
from ._pg_errors import conflict, is_conflict, is_refusal, is_transient, refused, translate
from ._pg_sql import SCHEMA_VERSION, Statements, lock_key
from ._turns import PgTurns, Turn

__all__ = ["PostgresLog"]

T = TypeVar("T")
Conn = Any  # asyncpg.Connection or a pool's proxy of one

_MAX_SEQ = 2**63 - 1
_ROWS = RowMapper(kind_codes=True)  # events.kind is a smallint: KIND_CODES
_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0
#: seconds a submit whose run was taken at once waits for the run's first write to flush
#: its record, before it flushes the record itself (``create_run_claimed``)
FLUSH_WAIT = 0.5


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _loopback_without_tls(dsn: str, connect_kwargs: dict[str, Any]) -> bool:
    """Whether to connect to ``dsn`` without trying TLS first (asyncpg's ``ssl=False``).

    asyncpg's default (``sslmode=prefer``, as libpq's) builds a TLS context and asks the
    server for TLS before every new connection: about 0.8 ms here, a fifth of the
    connection. Over the loopback interface TLS protects nothing, so lograph skips it
    there, unless anything mentions TLS: an ``ssl`` or ``direct_tls`` keyword, a DSN
    parameter starting with ``ssl`` (``sslmode``, ``sslrootcert``, ...) or a ``PGSSL*``
    environment variable. Any other host keeps asyncpg's default.
    """
    if {"ssl", "direct_tls"} & connect_kwargs.keys():
        return False
    if any(name.startswith("PGSSL") and value for name, value in os.environ.items()):
        return False
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    if any(key.startswith("ssl") for key in query):
        return False
    hosts = query.get("host") or [parts.netloc.rpartition("@")[2]]
    names = [_host_name(h) for spec in hosts for h in spec.split(",")]
    return bool(names) and all(name in _LOOPBACK for name in names)


def _host_name(spec: str) -> str:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> the host's name."""
    if spec.startswith("["):
        return spec[1:].partition("]")[0]
    return spec.rpartition(":")[0] if spec.count(":") == 1 else spec


_FLOOR_TASK = "init_size" in inspect.signature(asyncpg.create_pool).parameters


def pool_sizes(min_size: int) -> dict[str, int]:
    """``create_pool``'s size arguments for a pool lograph opens with ``min_size``
    connections. asyncpg 0.32 keeps ``min_size`` as a floor with a background task that
    reconnects during an outage and logs a traceback on every attempt (on stderr when the
    application configured no logging); lograph's calls already retry and report an
    outage themselves. So the pool starts with ``min_size`` connections and keeps no floor."""
    if _FLOOR_TASK:
        return {"min_size": 0, "init_size": min_size}
    return {"min_size": min_size}  # (before 0.32: an initial size, no floor task)


async def _no_reset(conn: Conn) -> None:
    """Pool reset hook: lograph sets no session state, so skip asyncpg's reset query.

    (asyncpg still rolls back an open transaction on release.) Saves a round trip per
    pooled call on pools this module creates.
    """


async def _retrying(
    what: str, schema: str, budget: float, attempt: Callable[[bool], Awaitable[T]]
) -> T:
    """Run ``attempt(again)`` until it succeeds, retrying transient failures for ``budget`` s.

    The one place errors are translated: lograph errors pass through; driver errors
    become lograph errors (``raise ... from e``).
    """
    deadline = time.monotonic() + budget
    delay = _FIRST_DELAY
    again = False
    while True:
        try:
            return await attempt(again)
        except LogError:
            raise
        except Exception as e:
            if not is_transient(e):
                raise translate(e, what, schema) from e
            left = deadline - time.monotonic()
            if left <= 0:  # it kept failing for the whole budget: say so
                raise translate(e, what, schema, gave_up_after=budget) from e
        await asyncio.sleep(min(delay * random.uniform(0.5, 1.0), left))  # the last try at the deadline
        delay = min(delay * 2, _MAX_DELAY)
        again = True


def _columns(batch: Sequence[Append], items: Sequence[int], fenced: bool = False,
             drops: bool = False, ends: bool = False) -> list[list[Any]]:
    """The insert statement's thirteen parallel arrays for ``items`` of ``batch``: the
    thread, the ten columns of each event's stored row, its item's base and parent hash;
    ``fenced``: two more, each item's lease (run id and token) on its first row;
    ``drops``: one more, whether the item drops its run (``Append.drops_run``);
    ``ends``: three more, the run's end (``Append.ends_run``: status, result, error)."""
    cols: list[list[Any]] = [[] for _ in range(13 + 2 * fenced + drops + 3 * ends)]
    threads, fields, bases, phashes = cols[0], cols[1:11], cols[11], cols[12]
    if fenced:
        for i in items:
            lease, n = batch[i].lease, len(batch[i].events)
            cols[13] += [None if lease is None else lease.run_id] + [None] * (n - 1)
            cols[14] += [None if lease is None else lease.token] + [None] * (n - 1)
            if drops:
                cols[15] += [batch[i].drops_run and lease is not None] + [None] * (n - 1)
            if ends:
                end = batch[i].ends_run if lease is not None and not batch[i].drops_run else None
                for col, value in zip(cols[16:19], (None, None, None) if end is None else (
                        end.status, end.result, end.error), strict=True):
                    col += [value] + [None] * (n - 1)
    for i in items:
        item = batch[i]
        n = len(item.events)
        threads.extend([item.thread] * n)
        for column, values in zip(fields, zip(*_ROWS.rows_of(item.events), strict=True), strict=True):
            column.extend(values)
        bases.extend([item.expect_head] * n)
        phashes.append(item.parent_hash if item.checks_parent() else None)
        phashes.extend([None] * (n - 1))
    return cols


async def _nothing(conn: Conn) -> None:
    return None


class _PoolOfOne:
    """A borrowed connection in the pool's place: ``acquire()`` lends it to one caller at
    a time (on the home loop, where every driver call runs)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._lock: asyncio.Lock | None = None

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            yield self._conn


class PostgresLog:
    """An :class:`EventLog` in a PostgreSQL schema. Open with :meth:`open` or :meth:`from_pool`.

    Call :meth:`setup` once per database (idempotent); every other method checks the
    schema version on first use and says so when setup is missing.

    Beyond the base port it offers :meth:`load_head` (``Capability.LOAD_HEAD``): a cold
    thread costs one round trip instead of three.
    """

    capabilities = frozenset({Capability.LOAD_HEAD, Capability.RUNS, Capability.TURNS})

    def __init__(
        self,
        pool: asyncpg.Pool,
        bridge: Bridge,
        *,
        schema: str = "lograph",
        owns_pool: bool = False,
        retry_for: float = 10.0,
    ) -> None:
        self._sql = Statements(schema)
        self.schema = schema
        self.retry_for = retry_for
        self._pool = pool
        self._bridge = bridge
        self._owns_pool = owns_pool
        self._ready = False
        self._closed = False
        #: names the database and schema for folds kept across savers
        #: (``Checkpointer.store_key``); None for a pool or connection its caller owns
        self.identity: tuple[str, str, str] | None = None
        # wake-ups of run waiters: this process's writes at once, other processes'
        # through LISTEN on a connection of the pool (not on a borrowed connection nor a
        # pool too small to spare one: waiters poll there)
        self._origin = new_token()[:12]
        spare = not isinstance(pool, _PoolOfOne) and pool.get_max_size() >= _pg_runs.LISTEN_POOL
        self._listener = _pg_runs.Listener(
            pool, bridge, self._sql.runs.channel, self._origin, self._heard, enabled=spare)
        self._signals = RunSignals(call_in=call_in, keep_listening=self._listener.keep)
        # plain runs' turns (``_turns``): on a connection of their own, or the only one
        self._single = single = isinstance(pool, _PoolOfOne) or pool.get_max_size() == 1
        self._turns = PgTurns(pool, self._sql.runs.turn_prefix, self._sql.runs.table,
                              f"{self._sql.schema}.events", dedicated=not single,
                              keep=owns_pool)
        #: in-process runs' places this log took at once without waiting for the WAL's
        #: flush, until they are dropped (see ``_restore_place``)
        self._relaxed: dict[str, tuple[Lease, NewRun, str, float]] = {}
        #: submitted runs taken at once, not yet flushed: set by their first fenced write
        self._unflushed: dict[str, anyio.Event] = {}

    # -- opening and closing ---------------------------------------------------------

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str = "lograph",
        min_size: int = 1,
        max_size: int = 16,
        retry_for: float = 10.0,
        **pool_kwargs: Any,
    ) -> PostgresLog:
        """Connect a pool to ``dsn`` on this task's loop (a private loop on trio hosts).

        Connection failures are retried for ``retry_for`` seconds, then raise
        StoreUnavailableError. The log owns the pool: ``aclose()`` closes it. On a
        loopback address the pool does not try TLS first unless the DSN, a keyword or
        the environment mentions TLS (see ``_loopback_without_tls``).
        """
        Statements(schema)  # a bad schema name fails before any I/O
        bridge = Bridge.here()
        pool_kwargs.setdefault("reset", _no_reset)
        if _loopback_without_tls(dsn, pool_kwargs):
            pool_kwargs["ssl"] = False
        settings = pool_kwargs["server_settings"] = dict(pool_kwargs.get("server_settings") or {})
        settings.setdefault("application_name", "lograph")
        # Every statement here is a primary-key probe or range, so one generic plan per
        # statement is right for any argument; it skips planning the append each time
        # (about 1.5x appends per second when CPU-bound).
        settings.setdefault("plan_cache_mode", "force_generic_plan")

        async def attempt(again: bool) -> asyncpg.Pool:
            return await asyncpg.create_pool(dsn, max_size=max_size, **pool_sizes(min_size),
                                             **pool_kwargs)

        async def connect() -> asyncpg.Pool:
            return await _retrying("connecting", schema, retry_for, attempt)

        pool = await bridge.run(connect)
        log = cls(pool, bridge, schema=schema, owns_pool=True, retry_for=retry_for)
        log.identity = ("postgres", dsn, schema)
        return log

    @classmethod
    def from_pool(cls, pool: asyncpg.Pool, *, schema: str = "lograph", retry_for: float = 10.0) -> PostgresLog:
        """Use an existing asyncpg pool (its loop is the driver's home); ``aclose`` leaves it open."""
        loop = getattr(pool, "_loop", None)
        bridge = Bridge(loop) if isinstance(loop, asyncio.AbstractEventLoop) else Bridge.here()
        return cls(pool, bridge, schema=schema, owns_pool=False, retry_for=retry_for)

    @classmethod
    def from_connection(
        cls, conn: asyncpg.Connection, *, schema: str = "lograph", retry_for: float = 10.0,
    ) -> PostgresLog:
        """Use one asyncpg connection its caller owns (its loop is the driver's home): one
        call at a time; ``aclose`` leaves it open. A pool serves concurrent threads better."""
        loop = getattr(conn, "_loop", None)
        bridge = Bridge(loop) if isinstance(loop, asyncio.AbstractEventLoop) else Bridge.here()
        return cls(_PoolOfOne(conn), bridge, schema=schema, owns_pool=False, retry_for=retry_for)

    async def aclose(self) -> None:
        """Close the pool if this log opened it. Safe to call twice; never cancelled halfway."""
        if self._closed:
            return
        self._closed = True
        if self._bridge.home.is_closed():
            return
        if not self._owns_pool:  # the pool stays open: give its connections back
            with anyio.CancelScope(shield=True):
                await self._bridge.run(self._listener.close)
                await self._bridge.run(self._turns.close)
            return
        with anyio.CancelScope(shield=True):
            await self._bridge.run(self._close_pool)

    async def _close_pool(self) -> None:
        await self._listener.close()
        await self._turns.close()
        # Every connection idle (no call under way, so no transaction open): drop the
        # sockets. The server ends an idle backend whose client went away without a word
        # (no log line above DEBUG1), and the caller does not wait a round trip per
        # connection for the server to hang up, as a graceful close does.
        if self._pool.get_idle_size() == self._pool.get_size():
            self._pool.terminate()
            return
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except Exception:  # noqa: BLE001 - the server is gone or slow: drop the sockets instead
            self._pool.terminate()

    def drives_this_loop(self) -> bool:
        """Whether the pool's home is the event loop running in this thread."""
        return self._bridge.is_home()

    async def __aenter__(self) -> PostgresLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- schema ------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create or migrate the schema to this lograph's version. Idempotent.

        Migrations run in one transaction under an advisory lock, so concurrent setups
        (several workers starting at once) are safe. A schema written by a newer
        lograph raises SchemaVersionError and is left untouched.
        """
        await self._call("setup", self._setup_on, check=False)

    async def _setup_on(self, conn: Conn) -> None:
        try:
            version = await conn.fetchval(self._sql.version)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            version = None
        if version != SCHEMA_VERSION:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(self.schema))
                await conn.execute(self._sql.create_schema)
                await conn.execute(self._sql.create_version)
                version = await conn.fetchval(self._sql.version)
                self._refuse_newer(version)
                for n in range(version, SCHEMA_VERSION):
                    for statement in self._sql.migrations[n]:
                        await conn.execute(statement)
                    await conn.execute(self._sql.record_version, n + 1)
        self._ready = True

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"PostgreSQL schema {self.schema!r} is at version {version}, written by a newer "
                f"lograph; this lograph understands versions up to {SCHEMA_VERSION}: upgrade "
                "lograph (the schema is left untouched)"
            )

    async def _check_version(self, conn: Conn) -> None:
        self._accept_version(await conn.fetchval(self._sql.version))

    def _accept_version(self, version: int) -> None:
        self._refuse_newer(version)
        if version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"PostgreSQL schema {self.schema!r} is at version {version}, this lograph needs "
                f"version {SCHEMA_VERSION}: call `await log.setup()` (or `saver.setup()`) to "
                "migrate it"
            )
        self._ready = True

    async def schema_version(self) -> int:
        """The stored schema version (0 when setup never ran)."""

        async def fetch(conn: Conn) -> int:
            try:
                return int(await conn.fetchval(self._sql.version))
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                return 0

        return await self._call("reading the schema version", fetch, check=False)

    # -- the one path to the driver --------------------------------------------------------

    async def _call(
        self,
        what: str,
        fn: Callable[[Conn], Awaitable[T]],
        *,
        before_retry: Callable[[Conn], Awaitable[None]] | None = None,
        check: bool = True,
    ) -> T:
        """Run ``fn(conn)`` on a pooled connection on the home loop, retrying transient errors."""
        if self._closed:
            raise StoreUnavailableError(f"the PostgreSQL log (schema {self.schema!r}) is closed")

        async def attempt(again: bool) -> T:
            async with self._pool.acquire() as conn:
                if check and not self._ready:
                    await self._check_version(conn)
                if again and before_retry is not None:
                    await before_retry(conn)
                return await fn(conn)

        async def home() -> T:
            return await _retrying(what, self.schema, self.retry_for, attempt)

        return await self._bridge.run(home)

    # -- appends -------------------------------------------------------------------------

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        [error] = await self.append_batch([Append(thread, tuple(events), expect_head)])
        if error is not None:
            raise error

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(batch)
        pending: list[int] = []
        for i, item in enumerate(batch):
            try:
                if type(item) is not CheckedAppend:  # (the log writer's are checked already)
                    check_append(item.thread, item.events, item.expect_head)
            except ValueError as e:
                results[i] = e
            else:
                pending.append(i)
        if not pending:
            return results
        # key order for every writer (no deadlocks); a thread's items keep their order
        pending.sort(key=lambda i: batch[i].thread)
        pending_all = list(pending)  # (``_write`` empties ``pending``)
        ended: dict[str, tuple[RunRecord, bool]] = {}  # the runs the items ended, by run id

        async def write(conn: Conn) -> None:
            await self._write(conn, batch, pending, results, ended)

        async def resolve(conn: Conn) -> None:
            await self._drop_stored(conn, batch, pending)

        await self._call("append", write, before_retry=resolve)
        for i in pending_all:
            item = batch[i]
            if results[i] is not None or item.lease is None:
                continue
            if self._unflushed:
                self._wrote(item.lease.run_id)
            if item.drops_run:
                self._dropped(item.lease)
            elif item.ends_run is not None:
                found = ended.get(item.lease.run_id)
                if found is None:  # committed by a try whose answer was lost: read it
                    record = await self.get_run(item.lease.run_id)
                    found = None if record is None or not record.done else (record, True)
                if found is not None:
                    item.ends_run.record = found[0]
                    self._signals.changed(found[0], next_waits=found[1])
        return results

    async def _write(
        self, conn: Conn, batch: Sequence[Append], pending: list[int],
        results: list[BaseException | None], ended: dict[str, tuple[RunRecord, bool]],
    ) -> None:
        """Store the pending items; on return ``pending`` is empty and ``results`` final;
        ``ended`` holds the runs the written items ended (``Append.ends_run``)."""
        fenced = any(batch[i].lease is not None for i in pending)
        ends = fenced and any(batch[i].ends_run is not None for i in pending)
        drops = ends or (fenced and any(batch[i].drops_run for i in pending))
        insert = self._sql.insert_ending if ends else self._sql.insert_dropping if drops else (
            self._sql.insert_fenced if fenced else self._sql.insert)
        try:
            await self._insert(conn, insert, batch, pending, fenced, drops, ends, ended)
        except asyncpg.PostgresError as e:
            if not (is_conflict(e) or is_refusal(e)):
                raise
        else:
            pending.clear()
            return
        conflicts: dict[int, BaseException] = {}
        async with conn.transaction():
            for i in pending:
                error = await self._item_alone(conn, insert, batch, i, fenced, drops, ends, ended)
                if error is not None:
                    conflicts[i] = error
        for i, err in conflicts.items():
            results[i] = err
        pending.clear()

    async def _insert(self, conn: Conn, insert: str, batch: Sequence[Append], items: list[int],
                      fenced: bool, drops: bool, ends: bool,
                      ended: dict[str, tuple[RunRecord, bool]]) -> None:
        """One insert statement for ``items`` (see ``_pg_sql``); the runs it ended go in
        ``ended``."""
        columns = _columns(batch, items, fenced, drops, ends)
        if not ends:
            await conn.execute(insert, *columns)
            return
        for row in await conn.fetch(insert, *columns, self._sql.runs.channel, self._origin):
            ended[row[0]] = (run_of_row(row[:-2]), bool(row[-2]))

    async def _item_alone(self, conn: Conn, insert: str, batch: Sequence[Append], i: int,
                          fenced: bool, drops: bool, ends: bool,
                          ended: dict[str, tuple[RunRecord, bool]]) -> BaseException | None:
        """Item ``i`` in a savepoint of its own: None once written, else its error."""
        item = batch[i]
        restored = False
        while True:
            try:
                async with conn.transaction():
                    await self._insert(conn, insert, batch, [i], fenced, drops, ends, ended)
                return None
            except asyncpg.PostgresError as e:
                if is_refusal(e):
                    return refused(e, item.thread)
                if not is_conflict(e):
                    raise
                lost = None if item.lease is None else await _pg_runs.lost(
                    conn, self._sql.runs, item.lease)
                if lost is not None and not restored and await self._restore_place(conn, item.lease):
                    restored = True
                    continue  # its place is back: the item once more
                if lost is not None:
                    return lost
                actual = await conn.fetchval(self._sql.head, item.thread)
                return conflict(e, item.thread, item.expect_head, actual)

    async def _drop_stored(self, conn: Conn, batch: Sequence[Append], pending: list[int]) -> None:
        """After an unknown outcome: drop from ``pending`` the items already stored.

        An item is stored if its first event is, with the same hash (its events commit
        together). A different hash is another writer's event: the retry will then
        report the conflict.
        """
        if not pending:
            return
        rows = await conn.fetch(
            self._sql.stored_hashes,
            pending,
            [batch[i].thread for i in pending],
            [batch[i].events[0].seq for i in pending],
        )
        stored = {
            int(r[0]) for r in rows
            if r[1] is not None and bytes(r[1]) == batch[int(r[0])].events[0].hash
        }
        pending[:] = [i for i in pending if i not in stored]

    # -- reads -----------------------------------------------------------------------------

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        end = _MAX_SEQ if upto is None else upto

        async def fetch(conn: Conn) -> list[Event]:
            return _ROWS.events_of(await conn.fetch(self._sql.read, thread, after, end))

        return await self._call("read", fetch)

    async def head(self, thread: str) -> int:
        async def fetch(conn: Conn) -> int:
            return int(await conn.fetchval(self._sql.head, thread))

        return await self._call("head", fetch)

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        async def fetch(conn: Conn) -> tuple[int, bytes]:
            if not self._ready:  # the version check rides along (no round trip of its own)
                try:
                    version, seq, digest = await conn.fetchrow(self._sql.head_event_checked, thread)
                except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                    await self._check_version(conn)  # not set up: say so
                    raise
                self._accept_version(version)
                return (0, b"") if seq is None else (int(seq), bytes(digest))
            row = await conn.fetchrow(self._sql.head_event, thread)
            return (0, b"") if row is None else (int(row[0]), bytes(row[1]))

        return await self._call("head", fetch, check=False)

    async def load_head(
        self, thread: str, limit: int
    ) -> tuple[int, list[tuple[int, bytes]], list[Event]]:
        """What folding the thread's head from cold needs, in one round trip: the head,
        its newest ``limit`` snapshots at or below it (newest first), and the events
        after the newest of them up to the head, by seq. (A fresh backend spends about
        a millisecond on each new statement: three become one.)"""

        async def fetch(conn: Conn) -> tuple[int, list[tuple[int, bytes]], list[Event]]:
            try:
                rows = await conn.fetch(self._sql.load_head, thread, max(limit, 0))
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                await self._check_version(conn)  # an older schema: say which, and what to do
                raise
            head = version = 0
            snapshots: list[tuple[int, bytes]] = []
            events: list[Event] = []
            for row in rows:
                part, seq = row[0], row[1]
                if part == 0:
                    head, version = seq, row[2]
                elif part == 1:
                    snapshots.append((int(seq), _ROWS.snapshot_of(row[9])))
                else:
                    events.append(_ROWS.event_of(row[1:]))
            self._accept_version(version)
            snapshots.sort(reverse=True)
            events.sort(key=lambda e: e.seq)
            return int(head), snapshots, events

        return await self._call("load_head", fetch, check=False)

    async def threads(self) -> list[ThreadInfo]:
        async def fetch(conn: Conn) -> list[ThreadInfo]:
            return [ThreadInfo(*r) for r in await conn.fetch(self._sql.threads)]

        return await self._call("threads", fetch)

    async def storage_bytes(self) -> int:
        """Bytes on disk of the events and snapshots tables with their indexes."""

        async def fetch(conn: Conn) -> int:
            return int(await conn.fetchval(self._sql.storage_bytes, self.schema))

        return await self._call("storage_bytes", fetch)

    # -- snapshots and deletion -------------------------------------------------------------

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        async def put(conn: Conn) -> None:
            await conn.execute(self._sql.put_snapshot, thread, seq, _ROWS.stored_snapshot(data))

        await self._call("put_snapshot", put)

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        async def fetch(conn: Conn) -> tuple[int, bytes] | None:
            row = await conn.fetchrow(self._sql.latest_snapshot, thread, upto)
            return None if row is None else (int(row[0]), _ROWS.snapshot_of(row[1]))

        return await self._call("latest_snapshot", fetch)

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        async def fetch(conn: Conn) -> list[tuple[int, bytes]]:
            rows = await conn.fetch(self._sql.recent_snapshots, thread, upto, max(limit, 0))
            return [(int(r[0]), _ROWS.snapshot_of(r[1])) for r in rows]

        return await self._call("recent_snapshots", fetch)

    async def snapshots(self, thread: str) -> list[int]:
        async def fetch(conn: Conn) -> list[int]:
            return [int(r[0]) for r in await conn.fetch(self._sql.snapshots, thread)]

        return await self._call("snapshots", fetch)

    async def delete_snapshots(self, thread: str) -> None:
        async def delete(conn: Conn) -> None:
            await conn.execute(self._sql.delete_snapshots, thread)

        await self._call("delete_snapshots", delete)

    async def delete_thread(self, thread: str) -> None:
        async def delete(conn: Conn) -> None:
            await conn.execute(self._sql.delete_thread, thread)

        await self._call("delete_thread", delete)

    # -- the runs tier (``_pg_runs``) --------------------------------------------------------

    def watch_runs(self, run_id: str | None = None) -> AbstractAsyncContextManager[RunWatch]:
        return self._signals.watch(run_id)

    def _heard(self, kind: str, run_id: str) -> None:
        """Another process recorded (``c``), finished (``e``, ``E``) or stopped (``s``) a run;
        or the listener's own news (see ``_pg_runs.Listener``)."""
        if kind == "+":  # the listener listens: from now on this process hears everything
            self._signals.heard_all_since = time.monotonic()
            return
        if kind in ("-", "*"):  # it was cut, or listens again: every waiter looks again
            if kind == "-":
                self._signals.heard_all_since = None
            self._signals.notify_all()
            return
        if kind != "c":
            self._signals.notify(run_id)
        if kind != "e":  # a run recorded, one ended with the next waiting, or a stop
            self._signals.notify(None)

    async def create_run(self, new: NewRun) -> tuple[RunRecord, bool]:
        check_new_run(new)
        record, created, stopped = await self._call(
            "create_run", lambda c: _pg_runs.create(c, self._sql.runs, new, self._origin))
        for run_id in stopped:
            self._signals.notify(run_id)
        if created:
            self._signals.created()
        return record, created

    async def create_run_claimed(
        self, new: NewRun, worker: str, seconds: float, graph: str | None = None,
    ) -> tuple[RunRecord, bool, Lease | None, Callable[[], Awaitable[RunRecord]] | None]:
        check_new_run(new)
        check_lease_seconds(seconds)
        check_graph(graph)
        if self._single:  # (turns share the one session: its claims would pass them)
            return (*await self.create_run(new), None, None)
        record, created, stopped, lease = await self._call(
            "create_run", lambda c: _pg_runs.create_claimed(
                c, self._sql.runs, new, self._origin, worker, seconds, graph))
        for run_id in stopped:
            self._signals.notify(run_id)
        if created and lease is None:  # (one taken at once is nobody else's to claim)
            self._signals.created()
        if lease is None or new.durability != "sync":
            return record, created, lease, None
        written = self._unflushed[lease.run_id] = anyio.Event()
        return record, created, lease, lambda: self._flushed(new, record, written)

    async def _flushed(self, new: NewRun, record: RunRecord, written: anyio.Event) -> RunRecord:
        """A run taken at once (``create_run_claimed``), committed without waiting for the
        WAL's flush: its record once it is on disk, after its first fenced write committed
        (that flushed it; ``written``), or after a flush of this call's own if that does
        not come within ``FLUSH_WAIT`` (the run stopped before it). A record a crash lost
        is recorded again, pending (the lease it was taken under holds nothing)."""
        try:
            with anyio.move_on_after(FLUSH_WAIT):
                await written.wait()
        finally:
            self._unflushed.pop(record.run_id, None)
        if written.is_set():
            return record
        if await self._call("flush_run", lambda c: _pg_runs.flushed(c, self._sql.runs,
                                                                   record.run_id)):
            return record
        return (await self.create_run(new))[0]

    def _wrote(self, run_id: str) -> None:
        """A fenced write of ``run_id`` committed (and flushed the WAL before it)."""
        written = self._unflushed.pop(run_id, None)
        if written is not None:
            written.set()

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._call("get_run", lambda c: _pg_runs.get(c, self._sql.runs, run_id))

    async def list_runs(
        self, *, thread: str | None = None, status: str | Iterable[str] | None = None,
        since: float | None = None, until: float | None = None,
        metadata: Mapping[str, Any] | None = None, limit: int = 100, graph: str | None = None,
    ) -> list[RunRecord]:
        check_filters(status, limit)
        metadata_json(metadata or {})
        check_graph(graph)
        return await self._call("list_runs", lambda c: _pg_runs.list_runs(
            c, self._sql.runs, thread, status, since, until, metadata, limit, graph))

    async def run_counts(self) -> dict[str, int]:
        return await self._call("run_counts", lambda c: _pg_runs.counts(c, self._sql.runs))

    async def claim_run(self, worker: str, lease: float, *, limit: int | None = None,
                        graph: str | None = None) -> tuple[RunRecord, Lease] | None:
        check_lease_seconds(lease)
        check_limit(limit)
        check_graph(graph)
        await self._given_back()
        return await self._call("claim_run", lambda c: _pg_runs.claim(
            c, self._sql.runs, worker, lease, limit, graph))

    async def renew_lease(self, lease: Lease, seconds: float) -> RunRecord:
        check_lease_seconds(seconds)

        async def renew(conn: Conn) -> RunRecord:
            try:
                return await _pg_runs.renew(conn, self._sql.runs, lease, seconds)
            except LeaseLostError:
                if not await self._restore_place(conn, lease):
                    raise
                return await _pg_runs.renew(conn, self._sql.runs, lease, seconds)

        return await self._call("renew_lease", renew)

    async def finish_run(
        self, lease: Lease, status: str, *, result: bytes | None = None, error: str | None = None,
    ) -> RunRecord:
        check_end(status)
        found, waits = await self._call("finish_run", lambda c: _pg_runs.finish(
            c, self._sql.runs, lease, status, result, error, self._origin))
        self._forget_place(lease)  # (a stopped in-process run ends so, not dropped)
        self._wrote(lease.run_id)
        self._signals.changed(found, next_waits=waits)
        return found

    async def stop_run(self, run_id: str, stop: str = "cancel") -> RunRecord | None:
        check_stop(stop)
        found = await self._call("stop_run", lambda c: _pg_runs.stop(
            c, self._sql.runs, run_id, stop, self._origin))
        if found is not None:
            self._signals.changed(found)
        return found

    async def try_turn(self, thread: str) -> Turn:
        if self._closed:
            raise StoreUnavailableError(f"the PostgreSQL log (schema {self.schema!r}) is closed")
        if not self._ready:  # (once: a store not set up says so, as every first call does)
            await self._call("turn", _nothing)
        return await self._bridge.run(
            lambda: _retrying("turn", self.schema, self.retry_for,
                              lambda again: self._turns.try_turn(thread)))

    def end_turn(self, thread: str) -> None:
        self._turns.end_turn(self._bridge.home, thread)

    async def _given_back(self) -> None:
        """Before this log starts a run: the turns this process gave back, unlocked (they
        wait for the next turn's statement otherwise, and this run's start would pass
        over their threads)."""
        if self._turns.unlocking():
            await self._bridge.run(self._turns.flush)

    async def enter_run(self, new: NewRun, holder: str, seconds: float) -> tuple[RunRecord, Lease]:
        check_new_run(new, in_process=True)
        check_lease_seconds(seconds)
        await self._given_back()
        record, lease = await self._call("enter_run", lambda c: _pg_runs.enter(
            c, self._sql.runs, new, holder, seconds, self._origin))
        if record.head_hash is not None:  # taken at once, committed without the WAL's flush
            self._relaxed[lease.run_id] = (lease, new, holder, seconds)
        return record, lease

    async def _restore_place(self, conn: Conn, lease: Lease) -> bool:
        """An in-process run's place this log took without waiting for the WAL's flush
        (``enter_run``), which a server crash lost: recorded again if its thread has no
        active run (then its appends are fenced by it as before); whether it is back."""
        kept = self._relaxed.get(lease.run_id)
        if kept is None or kept[0] != lease:
            return False
        _, new, holder, seconds = kept
        return await _pg_runs.restore(conn, self._sql.runs, new, holder, seconds, lease)

    async def take_run(self, lease: Lease, seconds: float) -> RunRecord:
        check_lease_seconds(seconds)
        await self._given_back()
        return await self._call("take_run", lambda c: _pg_runs.take(c, self._sql.runs, lease, seconds))

    async def drop_run(self, lease: Lease) -> None:
        await self._call("drop_run", lambda c: _pg_runs.drop(c, self._sql.runs, lease))
        self._dropped(lease)

    def _forget_place(self, lease: Lease) -> None:
        kept = self._relaxed.get(lease.run_id)
        if kept is not None and kept[0] == lease:
            del self._relaxed[lease.run_id]

    def _dropped(self, lease: Lease) -> None:
        self._forget_place(lease)
        self._signals.notify(lease.run_id)
        self._signals.notify(None)  # its thread's next run may be claimable now

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<PostgresLog schema={self.schema!r} {state}>"
