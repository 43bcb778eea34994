"""A saver opened per request (open, compile, read or run, close) is cheap.

The file or schema is set up once per process; closing does no work nothing needs;
and a later saver on the same store starts a thread from the fold a closed saver
kept, when the thread's head is still the one it was folded at (``runtime/_folds.py``).
The benchmark's ``open_read_close_ms`` measures the path beside LangGraph.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import asyncpg
import pytest

from lograph.adapters.memory import MemorySaver
from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.adapters.sqlite import SqliteSaver
from lograph.runtime import END, START, StateGraph
from lograph.runtime._actor import ThreadActor
from tests import _store_postgres as pg

DURABLE = ["sqlite", "postgres"]


class Chat(TypedDict):
    messages: Annotated[list[str], operator.add]


def graph_on(saver: Any) -> Any:
    builder = StateGraph(Chat)
    builder.add_node("reply", lambda s: {"messages": [f"reply {len(s['messages']) // 2 + 1}"]})
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=saver)


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


Opener = Callable[[], AbstractAsyncContextManager[Any]]


async def opener_for(kind: str, tmp_path: Path) -> Opener:
    """A function opening a new saver on one store, as a service does per request."""
    if kind == "sqlite":
        path = tmp_path / "service.db"
        return lambda: SqliteSaver.from_conn_string(path)
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        await saver.setup()
    return lambda: AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=2)


@pytest.fixture
def folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads each cold fold (``load_branch``) was made for, in order."""
    made: list[str] = []
    original = ThreadActor.load_branch

    async def counting(self: ThreadActor, tip: int, **kw: Any) -> Any:
        made.append(self.thread)
        return await original(self, tip, **kw)

    monkeypatch.setattr(ThreadActor, "load_branch", counting)
    return made


@pytest.mark.anyio
@pytest.mark.parametrize("kind", DURABLE)
async def test_a_later_saver_starts_from_the_fold_a_closed_one_kept(
    anyio_backend: str, kind: str, tmp_path: Path, folds: list[str]
) -> None:
    open_saver = await opener_for(kind, tmp_path)
    async with open_saver() as saver:
        assert saver.store_key is not None
        for turn in (1, 2):
            await graph_on(saver).ainvoke({"messages": [f"user {turn}"]}, cfg("t"))
    del folds[:]
    two_turns = ["user 1", "reply 1", "user 2", "reply 2"]
    async with open_saver() as first:  # the head is where the closed saver left it
        assert (await graph_on(first).aget_state(cfg("t"))).values == {"messages": two_turns}
        assert folds == []
        out = await graph_on(first).ainvoke({"messages": ["user 3"]}, cfg("t"))
        assert out["messages"][-2:] == ["user 3", "reply 3"] and folds == []
        async with open_saver() as other:  # the kept fold is stale now: folded anew
            state = await graph_on(other).aget_state(cfg("t"))
            assert state.values == {"messages": [*two_turns, "user 3", "reply 3"]}
            assert folds == ["t"]
    async with open_saver() as later:  # ``first`` closed last: its fold is current
        history = [s async for s in graph_on(later).aget_state_history(cfg("t"))]
        assert (await graph_on(later).aget_state(cfg("t"))).config == history[0].config
        assert folds == ["t"]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", DURABLE)
async def test_a_deleted_thread_written_again_is_folded_anew(
    anyio_backend: str, kind: str, tmp_path: Path, folds: list[str]
) -> None:
    open_saver = await opener_for(kind, tmp_path)
    async with open_saver() as saver:
        await graph_on(saver).ainvoke({"messages": ["old"]}, cfg("t"))
    async with open_saver() as saver:
        await saver.adelete_thread("t")
        await graph_on(saver).ainvoke({"messages": ["new"]}, cfg("t"))
    async with open_saver() as saver:
        assert (await graph_on(saver).aget_state(cfg("t"))).values == {"messages": ["new", "reply 1"]}


def test_the_memory_saver_keeps_nothing_across_savers() -> None:
    assert MemorySaver().store_key is None


@pytest.mark.anyio
async def test_sqlite_reopened_in_a_process_writes_nothing(anyio_backend: str, tmp_path: Path) -> None:
    """The file is set up by the process's first open; a saver that only reads leaves
    the file as it found it (no schema write at open, no WAL to copy at close)."""
    path = tmp_path / "read.db"
    async with SqliteSaver.from_conn_string(path) as saver:
        await graph_on(saver).ainvoke({"messages": ["hi"]}, cfg("t"))
    before = path.read_bytes()
    for _ in range(3):
        async with SqliteSaver.from_conn_string(path) as saver:
            assert (await graph_on(saver).aget_state(cfg("t"))).values["messages"] == ["hi", "reply 1"]
    assert path.read_bytes() == before
    assert not (tmp_path / "read.db-wal").exists()


@asynccontextmanager
async def backends(dsn: str) -> AsyncIterator[Callable[[], Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        async def count() -> int:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lograph' "
                "AND pid <> pg_backend_pid()"))
        yield count
    finally:
        await conn.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the probe connection is asyncpg's
async def test_postgres_close_leaves_no_backend(anyio_backend: str, tmp_path: Path) -> None:
    """Closing drops the pool's idle connections without waiting for the server to hang
    up; the server ends those backends all the same."""
    open_saver = await opener_for("postgres", tmp_path)
    async with backends(await pg.dsn()) as count:
        idle = await count()
        async with open_saver() as saver:
            await graph_on(saver).ainvoke({"messages": ["hi"]}, cfg("t"))
            assert await count() > idle
        for _ in range(500):  # the server notices within milliseconds
            if await count() == idle:
                break
            await anyio.sleep(0.01)
        assert await count() == idle
