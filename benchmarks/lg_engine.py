"""LangGraph as a benchmark engine (imported only with ``--compare langgraph``).

Each store gets LangGraph's fastest saver for ``ainvoke``, set up as its documentation
does, with the same durability as lograph's:

- memory: ``InMemorySaver``.
- SQLite: ``AsyncSqliteSaver`` (aiosqlite; WAL, SQLite's default synchronous=FULL as
  lograph's). The sync ``SqliteSaver`` cannot serve ``ainvoke`` (its async methods
  raise); driven by ``invoke`` from a worker thread it measured slower (chain, every
  durability mode), so the async saver is LangGraph's faster SQLite saver.
- Stores (the ``store`` workload): ``InMemoryStore``, ``AsyncSqliteStore`` and
  ``AsyncPostgresStore`` (``from_conn_string``, ``setup()``), the async forms the
  workload drives.
- PostgreSQL: ``AsyncPostgresSaver`` on the same server. ``LANGGRAPH_PG`` picks the
  connection set-up: ``"connection"`` (the default, ``from_conn_string``: one
  connection, autocommit, statements prepared on first use) or ``"pool"`` (a psycopg
  pool as big as lograph's asyncpg pool). One connection measured at least as fast as
  the pool for both the sequential chain and 64 concurrent tasks, so it is the default.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.func import entrypoint, task  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.graph import END, START, StateGraph  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.store.memory import InMemoryStore  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.store.postgres.aio import AsyncPostgresStore  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.store.sqlite.aio import AsyncSqliteStore  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ._stores import Place
from .lo_engine import POOL_SIZE

# Importing lo_engine loads lograph too: a cold LangGraph process (``_cold.py``) always has,
# and its "whole new process" time counts it (the figure would drop without that import).
PG_SETUPS = ("connection", "pool")


def pg_setup() -> str:
    """How LangGraph connects to PostgreSQL: the ``LANGGRAPH_PG`` environment variable."""
    value = os.environ.get("LANGGRAPH_PG", "connection")
    if value not in PG_SETUPS:
        raise ValueError(f"LANGGRAPH_PG={value!r}: choose one of {', '.join(PG_SETUPS)}")
    return value


class LangGraphEngine:
    name = "langgraph"
    api = SimpleNamespace(StateGraph=StateGraph, START=START, END=END, task=task, entrypoint=entrypoint)

    def __init__(self) -> None:
        self.pg = pg_setup()

    def versions(self) -> dict[str, str]:
        names = ("langgraph", "langgraph-checkpoint", "langgraph-checkpoint-sqlite",
                 "langgraph-checkpoint-postgres", "psycopg", "psycopg-pool", "aiosqlite")
        return {n: version(n) for n in names}

    @asynccontextmanager
    async def saver(self, place: Place, *, fresh: bool = True) -> AsyncIterator[Any]:
        if place.kind == "memory":
            yield InMemorySaver()
        elif place.kind == "sqlite":
            async with AsyncSqliteSaver.from_conn_string(str(place.path)) as saver:
                if fresh:
                    await saver.setup()
                yield saver
        elif self.pg == "connection":
            async with AsyncPostgresSaver.from_conn_string(place.dsn or "") as saver:
                if fresh:
                    await saver.setup()
                yield saver
        else:
            async with self._pool(place) as saver:
                if fresh:
                    await saver.setup()
                yield saver

    @asynccontextmanager
    async def request_saver(self, place: Place) -> AsyncIterator[Any]:
        """A saver opened as a service opens one per request, as LangGraph's docs do:
        ``from_conn_string`` (one connection on PostgreSQL)."""
        if place.kind == "sqlite":
            async with AsyncSqliteSaver.from_conn_string(str(place.path)) as saver:
                yield saver
        else:
            async with AsyncPostgresSaver.from_conn_string(place.dsn or "") as saver:
                yield saver

    @asynccontextmanager
    async def _pool(self, place: Place) -> AsyncIterator[Any]:
        pool = AsyncConnectionPool(
            conninfo=place.dsn or "", max_size=POOL_SIZE, open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            yield AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        finally:
            await pool.close()

    @asynccontextmanager
    async def store(self, place: Place) -> AsyncIterator[Any]:
        """LangGraph's async Store at ``place``, set up as its documentation does."""
        if place.kind == "memory":
            yield InMemoryStore()
        elif place.kind == "sqlite":
            async with AsyncSqliteStore.from_conn_string(str(place.path)) as store:
                await store.setup()
                yield store
        else:
            async with AsyncPostgresStore.from_conn_string(place.dsn or "") as store:
                await store.setup()
                yield store

    def stats(self, saver: Any) -> dict[str, Any]:
        return {}
