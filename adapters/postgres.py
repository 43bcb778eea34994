"""The PostgreSQL store (asyncpg): for services and several workers on one database.

Usage, as with LangGraph's savers::

    async with AsyncPostgresSaver.from_conn_string(dsn) as checkpointer:
        await checkpointer.setup()                      # once per database; idempotent
        graph = builder.compile(checkpointer=checkpointer)

    with PostgresSaver.from_conn_string(dsn) as checkpointer:   # plain sync code
        checkpointer.setup()

Or over a pool you own: ``AsyncPostgresSaver(pool, schema="lograph")`` (the pool stays
open after the saver closes). The event log itself is :class:`PostgresLog`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg

from lograph.runtime._checkpointer import Checkpointer
from lograph.runtime._sync import in_event_loop, portal, run_sync

from ._pg_log import PostgresLog
from ._pg_sql import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "AsyncPostgresSaver", "PostgresLog", "PostgresSaver"]


class AsyncPostgresSaver(Checkpointer):
    """A checkpointer on PostgreSQL, for async and sync programs alike (alias ``PostgresSaver``).

    ``conn`` is an asyncpg pool (left open by ``aclose``) or an opened PostgresLog
    (closed by ``aclose``).
    """

    log: PostgresLog

    def __init__(
        self,
        conn: asyncpg.Pool | PostgresLog,
        *,
        schema: str = "lograph",
        snapshot_every: int = 400,
        retry_for: float = 10.0,
    ) -> None:
        if isinstance(conn, PostgresLog):
            log = conn
        elif isinstance(conn, asyncpg.Pool):
            log = PostgresLog.from_pool(conn, schema=schema, retry_for=retry_for)
        else:
            raise TypeError(
                f"{type(self).__name__} takes an asyncpg pool or a PostgresLog, not "
                f"{type(conn).__name__}; to connect from a DSN use "
                f"{type(self).__name__}.from_conn_string(dsn)"
            )
        super().__init__(log, snapshot_every=snapshot_every)

    @classmethod
    def from_conn_string(cls, conn_string: str, **options: Any) -> _Opening:
        """A context manager that connects to ``conn_string`` and closes on exit.

        ``async with`` opens the pool on the caller's loop; ``with`` (sync code) opens it
        on lograph's sync portal. ``options``: ``schema``, ``min_size``, ``max_size``,
        ``retry_for``, ``snapshot_every`` and asyncpg pool keywords.
        """
        return _Opening(cls, conn_string, options)

    def setup(self) -> Any:
        """Create or migrate the schema (idempotent).

        Both LangGraph spellings work: ``checkpointer.setup()`` in sync code blocks until
        done; ``await checkpointer.setup()`` inside an event loop awaits it (called in a
        loop, ``setup()`` returns the coroutine of :meth:`asetup`).
        """
        if in_event_loop():
            return self.asetup()
        run_sync(self.asetup, method="setup", amethod="asetup")
        return None

    async def asetup(self) -> None:
        await self.log.setup()

    async def storage_bytes(self) -> int:
        return await self.log.storage_bytes()


PostgresSaver = AsyncPostgresSaver


class _Opening:
    """What ``from_conn_string`` returns: usable as ``async with`` and as ``with``."""

    def __init__(self, cls: type[AsyncPostgresSaver], dsn: str, options: dict[str, Any]) -> None:
        self._cls = cls
        self._dsn = dsn
        self._saver_options = {
            k: options.pop(k) for k in ("snapshot_every",) if k in options
        }
        self._log_options = options
        self._saver: AsyncPostgresSaver | None = None

    async def _open(self) -> AsyncPostgresSaver:
        log = await PostgresLog.open(self._dsn, **self._log_options)
        return self._cls(log, **self._saver_options)

    async def __aenter__(self) -> AsyncPostgresSaver:
        self._saver = await self._open()
        return self._saver

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        saver, self._saver = self._saver, None
        if saver is not None:
            await saver.aclose()

    def __enter__(self) -> AsyncPostgresSaver:
        if in_event_loop():
            raise RuntimeError(
                f"`with {self._cls.__name__}.from_conn_string(...)` was used inside a running "
                "event loop, where it would block it; use `async with` instead"
            )
        self._saver = portal().call(self._open)
        return self._saver

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        saver, self._saver = self._saver, None
        if saver is not None:
            portal().call(saver.aclose)
