"""Stores built as LangGraph's docs build them, on connections their callers own.

``SqliteStore(sqlite3.connect(...))``, ``AsyncSqliteStore(aiosqlite_connection)``,
``AsyncPostgresStore``/``PostgresStore`` on an asyncpg connection or pool, and
``from_conn_string`` as ``with`` inside a running event loop (a notebook cell) on SQLite
and PostgreSQL. A connection its caller passed is still open, and still its caller's,
after the store closes. (The Store's behaviour on each backend: test_longterm_store.py.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import anyio
import anyio.to_thread
import asyncpg
import pytest

from lograph.adapters.postgres import (
    AsyncPostgresSaver,
    AsyncPostgresStore,
    PostgresSaver,
    PostgresStore,
)
from lograph.adapters.sqlite import AsyncSqliteStore, SqliteStore
from lograph.eventlog import StoreUnavailableError
from tests import _store_postgres as pg

NS = ("users", "123")


def test_sqlite_store_on_a_plain_sqlite3_connection(tmp_path: Path) -> None:
    """As LangGraph's docstring writes it: the default connection, used from its thread."""
    conn = sqlite3.connect(tmp_path / "own.db")
    store = SqliteStore(conn)
    assert store.setup() is None
    store.put(NS, "prefs", {"theme": "dark"})
    found = store.get(NS, "prefs")
    assert found is not None and found.value == {"theme": "dark"}
    store.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        store.get(NS, "prefs")
    assert conn.execute("SELECT count(*) FROM store_items").fetchone() == (1,)  # still open
    conn.close()


@pytest.mark.anyio
async def test_sqlite_from_conn_string_with_inside_a_running_loop(anyio_backend: str, tmp_path: Path) -> None:
    with SqliteStore.from_conn_string(tmp_path / "cell.db") as store:  # a notebook cell
        store.setup()
        store.put(NS, "prefs", {"theme": "dark"})
        await store.aput(NS, "lang", {"code": "en"})
        assert sorted(i.key for i in store.search(NS)) == ["lang", "prefs"]
        found = await store.aget(NS, "prefs")
        assert found is not None and found.value == {"theme": "dark"}
    async with AsyncSqliteStore.from_conn_string(":memory:") as mem:
        assert await mem.setup() is None  # LangGraph's `await store.setup()`
        await mem.aput(NS, "prefs", {"theme": "light"})
        assert [i.value for i in await mem.asearch(("users",))] == [{"theme": "light"}]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiosqlite runs on asyncio only
async def test_async_sqlite_store_on_an_aiosqlite_connection(anyio_backend: str, tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "aio.db") as conn:
        store = AsyncSqliteStore(conn)
        await store.setup()
        await store.aput(NS, "prefs", {"theme": "dark"})
        assert [i.value for i in await store.asearch(("users",))] == [{"theme": "dark"}]
        with pytest.raises(RuntimeError, match=r"await store\.abatch"):
            store.put(NS, "x", {"v": 1})  # on the connection's own loop: it would wait for itself

        def from_a_thread() -> object:
            store.put(NS, "lang", {"code": "en"})
            return store.get(NS, "lang")

        found = await anyio.to_thread.run_sync(from_a_thread)
        assert found is not None and found.value == {"code": "en"}  # type: ignore[attr-defined]
        assert await store.sweep_ttl() == 0
        await store.aclose()
        with pytest.raises(StoreUnavailableError, match="closed"):
            await store.aget(NS, "prefs")
        async with conn.execute("SELECT count(*) FROM store_items") as cursor:  # still open
            assert await cursor.fetchone() == (2,)


def test_a_sqlite_store_takes_only_a_connection() -> None:
    with pytest.raises(TypeError, match=r"sqlite3 or aiosqlite connection, not str.*from_conn_string"):
        AsyncSqliteStore("store.db")  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # an asyncpg connection is asyncio's
async def test_postgres_store_on_an_asyncpg_connection_and_pool(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    conn = await asyncpg.connect(dsn)
    try:
        store = AsyncPostgresStore(conn, schema=schema)
        await store.setup()
        await store.aput(NS, "prefs", {"theme": "dark"})
        await store.aput(NS, "lang", {"code": "en"})
        assert sorted(i.key for i in await store.asearch(("users",))) == ["lang", "prefs"]
        await store.aclose()
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".store_items') == 2  # still open
    finally:
        await conn.close()
    async with asyncpg.create_pool(dsn, min_size=1, max_size=2) as pool:
        on_pool = PostgresStore(pool, schema=schema)
        found = await on_pool.aget(NS, "prefs")
        assert found is not None and found.value == {"theme": "dark"}
        await on_pool.aclose()
        assert await pool.fetchval("SELECT 1") == 1


class _PsycopgConnection:
    """Stands for psycopg's Connection (lograph's environment does not install psycopg)."""


_PsycopgConnection.__module__ = "psycopg"
_PsycopgConnection.__name__ = _PsycopgConnection.__qualname__ = "Connection"


@pytest.mark.parametrize("cls", [PostgresStore, AsyncPostgresStore, PostgresSaver, AsyncPostgresSaver])
def test_a_psycopg_connection_is_refused_with_a_clear_error(cls: type) -> None:
    with pytest.raises(TypeError, match=r"asyncpg, not psycopg \(lograph does not depend on psycopg\)"
                       r".*psycopg\.Connection.*from_conn_string\(dsn\)"):
        cls(_PsycopgConnection())
    with pytest.raises(TypeError, match=r"asyncpg pool or connection.*not object"):
        cls(object())


@pytest.mark.anyio
async def test_postgres_from_conn_string_with_inside_a_running_loop(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    with PostgresStore.from_conn_string(dsn, schema=schema) as store:  # a notebook cell
        assert store.setup() is None  # blocks until done, as LangGraph's sync store
        store.put(NS, "prefs", {"theme": "dark"})
        await store.aput(NS, "lang", {"code": "en"})
        assert sorted(i.key for i in store.search(("users",))) == ["lang", "prefs"]
        found = await store.aget(NS, "prefs")
        assert found is not None and found.value == {"theme": "dark"}
    async with AsyncPostgresStore.from_conn_string(dsn, schema=schema) as async_store:
        await async_store.setup()  # LangGraph's `await store.setup()`
        assert len(await async_store.asearch(("users",))) == 2
        if anyio_backend == "asyncio":  # its pool is this loop's: it would wait for itself
            with pytest.raises(RuntimeError, match=r"await store\.abatch"):
                async_store.put(NS, "x", {"v": 1})
        else:  # on trio its pool is on the helper loop, which answers while this one waits
            async_store.put(NS, "x", {"v": 1})


def test_postgres_store_setup_blocks_in_sync_code() -> None:
    with PostgresStore.from_conn_string(pg.server().dsn, schema=pg.fresh_schema()) as store:
        assert store.setup() is None
        store.put(NS, "prefs", {"theme": "dark"})
        assert [i.key for i in store.search(("users",))] == ["prefs"]
