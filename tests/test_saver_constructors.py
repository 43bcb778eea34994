"""Savers built as LangGraph's docs build them: on a connection the caller owns and closes.

``SqliteSaver(sqlite3.connect(path, check_same_thread=False))``,
``AsyncSqliteSaver(aiosqlite_connection)``, ``AsyncPostgresSaver(asyncpg_connection)``
(or a pool); ``from_conn_string`` everywhere is in the stores' own tests. Each runs a
graph on a real store, and the connection is still its owner's, open, after the saver
closes.
"""

from __future__ import annotations

import operator
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

import aiosqlite
import asyncpg
import pytest

from lograph.adapters.postgres import AsyncPostgresSaver, PostgresSaver
from lograph.adapters.sqlite import AsyncSqliteSaver, SqliteSaver
from lograph.eventlog import StoreUnavailableError
from lograph.runtime import END, START, StateGraph
from tests import _store_postgres as pg


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def graph_on(saver: Any) -> Any:
    builder = StateGraph(Log)
    builder.add_node("a", lambda state: {"log": ["a"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", END)
    return builder.compile(checkpointer=saver)


CONFIG = {"configurable": {"thread_id": "t"}}


def test_sqlite_saver_on_a_sqlite3_connection(tmp_path: Path) -> None:
    path = tmp_path / "owned.db"
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    graph = graph_on(saver)
    assert graph.invoke({"log": ["in"]}, CONFIG) == {"log": ["in", "a"]}
    assert saver.get_tuple(CONFIG).checkpoint["channel_values"] == {"log": ["in", "a"]}
    saver.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        saver.get_tuple(CONFIG)
    # the owner's connection is open and sees lograph's rows; the owner closes it
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    conn.close()
    with SqliteSaver.from_conn_string(path) as again:
        assert graph_on(again).get_state(CONFIG).values == {"log": ["in", "a"]}


def test_sqlite_saver_needs_a_connection_it_may_share(tmp_path: Path) -> None:
    mine = sqlite3.connect(tmp_path / "x.db")  # check_same_thread=True, the default
    with pytest.raises(TypeError, match="check_same_thread=False"):
        SqliteSaver(mine)
    mine.close()
    shared = sqlite3.connect(tmp_path / "x.db", check_same_thread=False)
    shared.close()
    with pytest.raises(TypeError, match="closed"):
        SqliteSaver(shared)
    with pytest.raises(TypeError, match="from_conn_string"):
        SqliteSaver(str(tmp_path / "x.db"))  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_sqlite3_connection_saver_serves_async_callers(
    anyio_backend: str, tmp_path: Path
) -> None:
    """Its driver's home is the sync facade's loop, so the async API reaches it from any
    loop, and the sync API works inside this one (a notebook cell)."""
    conn = sqlite3.connect(tmp_path / "shared.db", check_same_thread=False)
    saver = SqliteSaver(conn, synchronous="NORMAL")
    graph = graph_on(saver)
    assert await graph.ainvoke({"log": ["async"]}, CONFIG) == {"log": ["async", "a"]}
    assert graph.invoke({"log": ["sync"]}, CONFIG) == {"log": ["async", "a", "sync", "a"]}
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    await saver.aclose()
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    conn.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiosqlite runs on asyncio only
async def test_async_sqlite_saver_on_an_aiosqlite_connection(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with aiosqlite.connect(tmp_path / "a.db") as conn:
        async with AsyncSqliteSaver(conn) as saver:
            graph = graph_on(saver)
            assert await graph.ainvoke({"log": ["in"]}, CONFIG) == {"log": ["in", "a"]}
            found = await saver.aget_tuple(CONFIG)
            assert found is not None and found.checkpoint["channel_values"]["log"] == ["in", "a"]
        # the saver closed, its owner's connection did not
        async with conn.execute("SELECT count(*) FROM events") as cursor:
            assert (await cursor.fetchone())[0] > 0
    with pytest.raises(TypeError, match="opened SqliteLog"):
        AsyncSqliteSaver(object())  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # an asyncpg connection is asyncio's
async def test_async_postgres_saver_on_an_asyncpg_connection(anyio_backend: str) -> None:
    schema = pg.fresh_schema()
    conn = await asyncpg.connect(await pg.dsn())
    try:
        async with AsyncPostgresSaver(conn, schema=schema) as saver:
            await saver.setup()
            graph = graph_on(saver)
            assert await graph.ainvoke({"log": ["in"]}, CONFIG) == {"log": ["in", "a"]}
            assert await graph.abatch([{"log": ["x"]}, {"log": ["y"]}], [
                {"configurable": {"thread_id": "x"}}, {"configurable": {"thread_id": "y"}}]) == [
                {"log": ["x", "a"]}, {"log": ["y", "a"]}]  # one call at a time on it
            assert [t.checkpoint["channel_values"] async for t in saver.alist(CONFIG, limit=1)] == [
                {"log": ["in", "a"]}]
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".events') > 0  # still open
    finally:
        await conn.close()


def test_postgres_saver_setup_blocks_in_sync_code() -> None:
    dsn, schema = pg.server().dsn, pg.fresh_schema()
    with PostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        assert saver.setup() is None
        assert graph_on(saver).invoke({"log": []}, CONFIG) == {"log": ["a"]}
