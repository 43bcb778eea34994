"""lograph as a benchmark engine: its graph API and its savers per store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

from lograph.adapters.memory import MemorySaver
from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.adapters.sqlite import SqliteSaver
from lograph.runtime import END, START, StateGraph, entrypoint, task

from ._stores import Place

POOL_SIZE = 16  # lograph's asyncpg pool (LangGraph's pool, when it uses one, is as big)


class LographEngine:
    name = "lograph"
    api = SimpleNamespace(StateGraph=StateGraph, START=START, END=END, task=task, entrypoint=entrypoint)

    def versions(self) -> dict[str, str]:
        return {"lograph": version("lograph")}

    @asynccontextmanager
    async def saver(self, place: Place, *, fresh: bool = True) -> AsyncIterator[Any]:
        """The engine's saver at ``place``; ``fresh=False`` opens what a previous saver left."""
        if place.kind == "memory":
            yield MemorySaver()
        elif place.kind == "sqlite":
            async with SqliteSaver.from_conn_string(place.path) as saver:
                yield saver
        else:
            assert place.dsn is not None and place.schema is not None
            async with AsyncPostgresSaver.from_conn_string(
                place.dsn, schema=place.schema, max_size=POOL_SIZE
            ) as saver:
                if fresh:
                    await saver.setup()
                yield saver

    def request_saver(self, place: Place) -> Any:
        """A saver opened as a service opens one per request (``history``'s
        ``open_read_close_ms``): ``from_conn_string`` on the existing store."""
        return self.saver(place, fresh=False)

    @asynccontextmanager
    async def store(self, place: Place) -> AsyncIterator[Any]:
        """The engine's long-term memory Store at ``place`` (fresh). (Imported here: a
        cold-read process, which only reads a thread, does not load the stores.)"""
        from lograph.adapters.memory import InMemoryStore
        from lograph.adapters.postgres import AsyncPostgresStore
        from lograph.adapters.sqlite import AsyncSqliteStore

        if place.kind == "memory":
            yield InMemoryStore()
        elif place.kind == "sqlite":
            async with AsyncSqliteStore.from_conn_string(place.path) as store:
                yield store
        else:
            assert place.dsn is not None and place.schema is not None
            async with AsyncPostgresStore.from_conn_string(
                place.dsn, schema=place.schema, max_size=POOL_SIZE
            ) as pg:
                await pg.setup()
                yield pg

    def stats(self, saver: Any) -> dict[str, Any]:
        """Store transactions and appends so far: how well group commit batches."""
        writer = getattr(saver, "writer", None)
        if writer is None:
            return {}
        return {"transactions": writer.transactions, "appends": writer.appends}
