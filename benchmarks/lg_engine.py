"""LangGraph as a benchmark engine (imported only with ``--compare langgraph``).

Its in-memory saver, ``AsyncSqliteSaver`` (aiosqlite; WAL, SQLite's default
synchronous=FULL as lograph's) and ``AsyncPostgresSaver`` on a psycopg pool of the same
size as lograph's asyncpg pool, set up as LangGraph's documentation does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from langgraph.graph import END, START, StateGraph  # noqa: TID251 - lg_*.py: the one place LangGraph is imported
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ._stores import Place
from .lo_engine import POOL_SIZE


class LangGraphEngine:
    name = "langgraph"
    api = SimpleNamespace(StateGraph=StateGraph, START=START, END=END)

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
        else:
            pool = AsyncConnectionPool(
                conninfo=place.dsn or "", max_size=POOL_SIZE, open=False,
                kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            )
            await pool.open()
            try:
                saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
                if fresh:
                    await saver.setup()
                yield saver
            finally:
                await pool.close()

    def stats(self, saver: Any) -> dict[str, Any]:
        return {}
