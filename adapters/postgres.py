"""The PostgreSQL store (asyncpg): for services and several workers on one database.

Usage, as with LangGraph's savers::

    async with AsyncPostgresSaver.from_conn_string(dsn) as checkpointer:
        await checkpointer.setup()                      # once per database; idempotent
        graph = builder.compile(checkpointer=checkpointer)

    with PostgresSaver.from_conn_string(dsn) as checkpointer:   # plain sync code
        checkpointer.setup()

Or over a pool or a connection you own: ``AsyncPostgresSaver(pool, schema="lograph")``,
``AsyncPostgresSaver(conn)`` (asyncpg's; it stays open after the saver closes; a psycopg
connection is refused with a message saying so: lograph does not depend on psycopg).
The event log itself is :class:`PostgresLog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from lograph.runtime.lowlevel import Checkpointer, in_event_loop, run_sync

from ._opening import Opening
from ._pg_errors import not_a_connection
from ._pg_log import PostgresLog
from ._pg_sql import SCHEMA_VERSION

if TYPE_CHECKING:
    from ._store_pg import AsyncPostgresStore, PostgresStore

__all__ = [
    "SCHEMA_VERSION", "AsyncPostgresSaver", "AsyncPostgresStore", "PostgresLog", "PostgresSaver",
    "PostgresStore",
]


class AsyncPostgresSaver(Checkpointer):
    """A checkpointer on PostgreSQL, for async and sync programs alike (see also
    :class:`PostgresSaver`, whose ``setup()`` always blocks).

    ``conn`` is an asyncpg pool or connection (its owner closes it: ``aclose`` leaves it
    open) or an opened PostgresLog (closed by ``aclose``).
    """

    log: PostgresLog

    def __init__(
        self,
        conn: asyncpg.Pool | asyncpg.Connection | PostgresLog,
        *,
        schema: str = "lograph",
        snapshot_every: int = 400,
        retry_for: float = 10.0,
        chain_key: bytes | str | None = None,
        store_id: str | None = None,
    ) -> None:
        if isinstance(conn, PostgresLog):
            log = conn
        elif isinstance(conn, asyncpg.Pool):
            log = PostgresLog.from_pool(conn, schema=schema, retry_for=retry_for)
        elif isinstance(conn, asyncpg.Connection):
            log = PostgresLog.from_connection(conn, schema=schema, retry_for=retry_for)
        else:
            raise not_a_connection(conn, type(self).__name__, " or a PostgresLog")
        super().__init__(log, snapshot_every=snapshot_every, chain_key=chain_key, store_id=store_id,
                         store_key=log.identity)

    @classmethod
    def from_conn_string(cls, conn_string: str, **options: Any) -> Opening[AsyncPostgresSaver]:
        """A context manager that connects to ``conn_string`` and closes on exit.

        ``async with`` opens the pool on the caller's loop; ``with`` (sync code) opens it
        on lograph's sync portal. ``options``: ``schema``, ``min_size``, ``max_size``,
        ``retry_for``, ``snapshot_every``, ``chain_key``, ``store_id`` and asyncpg pool
        keywords.
        """
        saver_options = {k: options.pop(k) for k in ("snapshot_every", "chain_key", "store_id")
                         if k in options}

        async def open_saver() -> AsyncPostgresSaver:
            log = await PostgresLog.open(conn_string, **options)
            return cls(log, **saver_options)

        return Opening(cls.__name__, open_saver)

    def drives_this_loop(self) -> bool:
        return self.log.drives_this_loop()

    def setup(self) -> Any:
        """Create or migrate the schema (idempotent).

        Both LangGraph spellings work: ``checkpointer.setup()`` in sync code blocks until
        done; ``await checkpointer.setup()`` inside an event loop awaits it (called in a
        loop, ``setup()`` returns the coroutine of :meth:`asetup`).
        """
        if in_event_loop():
            return self.asetup()
        run_sync(self.asetup, method="setup", amethod="asetup", store=self)
        return None

    async def asetup(self) -> None:
        await self.log.setup()

    async def storage_bytes(self) -> int:
        return await self.log.storage_bytes()


class PostgresSaver(AsyncPostgresSaver):
    """LangGraph's sync saver: the same store as :class:`AsyncPostgresSaver`, whose
    ``setup()`` always blocks its caller, also inside a running event loop (a notebook
    cell), as LangGraph's sync ``PostgresSaver.setup()`` does."""

    def setup(self) -> None:
        run_sync(self.asetup, method="setup", amethod="asetup", store=self)


def __getattr__(name: str) -> Any:
    """The Stores load on first use: a saver alone does not import them."""
    if name not in ("AsyncPostgresStore", "PostgresStore"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _store_pg

    value = globals()[name] = getattr(_store_pg, name)
    return value
