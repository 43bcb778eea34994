"""A plain call's turn on its thread (``Capability.TURNS``, ``adapters/_turns``), seen from
another log on the store: what runs hold it and when. (The tier's promises are in its
contract, tests/test_store_contract.py; other processes, in test_multiprocess_invoke.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import Capability, MemoryLog, capabilities
from lograph.eventlog._contract_turns import until
from lograph.runtime import _place
from tests._stores import open_log

pytestmark = pytest.mark.anyio

DISK_STORES = ["sqlite", "postgres"]


@asynccontextmanager
async def _two_logs(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """Two logs on one store, as two processes would have."""
    async with open_log(kind, tmp_path) as first:
        if kind == "sqlite":
            from lograph.adapters.sqlite import SqliteLog

            second = await SqliteLog.open(first.path)
        else:
            from lograph.adapters.postgres import PostgresLog
            from tests._store_postgres import dsn

            second = await PostgresLog.open(await dsn(), schema=first.schema, max_size=4)
        try:
            yield first, second
        finally:
            await second.aclose()


def test_disk_stores_keep_turns_and_memory_does_not() -> None:
    from lograph.adapters.postgres import PostgresLog
    from lograph.adapters.sqlite import SqliteLog

    assert Capability.TURNS in capabilities(SqliteLog.__new__(SqliteLog))
    assert Capability.TURNS in capabilities(PostgresLog.__new__(PostgresLog))
    # (one process's memory: its thread actors already run plain calls in turn)
    assert Capability.TURNS not in capabilities(MemoryLog())


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_a_plain_call_holds_its_turn_only_while_it_runs(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    """Seen from another log: busy while a plain ``ainvoke`` runs; free after it, whether it
    ended well or raised."""
    from typing import TypedDict

    from lograph.runtime import END, START, Checkpointer, StateGraph

    class S(TypedDict):
        n: int

    inside: list[str] = []

    async with _two_logs(store_kind, tmp_path) as (a, b):
        async def node(state: S) -> dict[str, int]:
            inside.append((await b.try_turn("t"))[0])
            if state["n"] < 0:
                raise RuntimeError("boom")
            return {"n": state["n"] + 1}

        builder = StateGraph(S)
        builder.add_node("node", node)
        builder.add_edge(START, "node")
        builder.add_edge("node", END)
        graph = builder.compile(checkpointer=Checkpointer(a))
        config = {"configurable": {"thread_id": "t"}}
        assert await graph.ainvoke({"n": 1}, config) == {"n": 2}
        await until(b, "t", "taken")
        b.end_turn("t")
        with pytest.raises(RuntimeError, match="boom"):
            await graph.ainvoke({"n": -5}, config)
        await until(b, "t", "taken")
        b.end_turn("t")
        assert inside == ["busy", "busy"]


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_a_plain_calls_turn_is_free_in_its_process_as_soon_as_it_returns(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    """A chat's next turn on the thread, made right after the last one returned, takes the
    turn at once: it does not find it still held and wait a poll for it."""
    from typing import TypedDict

    from lograph.runtime import END, START, Checkpointer, StateGraph

    class S(TypedDict):
        n: int

    async def node(state: S) -> dict[str, int]:
        return {"n": state["n"] + 1}

    builder = StateGraph(S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    async with open_log(store_kind, tmp_path) as log:
        graph = builder.compile(checkpointer=Checkpointer(log))
        config = {"configurable": {"thread_id": "t"}}
        for n in range(3):
            assert await graph.ainvoke({"n": n}, config) == {"n": n + 1}
            turn = await log.try_turn("t")  # (no other await since the call returned)
            assert turn[0] == "taken"
            log.end_turn("t")


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_reject_names_a_plain_call_that_holds_the_thread(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    from typing import TypedDict

    from lograph.eventlog import RunBusyError
    from lograph.runtime import END, START, Checkpointer, StateGraph

    class S(TypedDict):
        n: int

    async with _two_logs(store_kind, tmp_path) as (a, b):
        builder = StateGraph(S)
        builder.add_node("node", lambda s: {"n": s["n"] + 1})
        builder.add_edge(START, "node")
        builder.add_edge("node", END)
        graph = builder.compile(checkpointer=Checkpointer(b))
        assert (await a.try_turn("t"))[0] == "taken"
        config = {"configurable": {"thread_id": "t"}}
        with pytest.raises(RunBusyError, match=_place.PLAIN_CALL):
            await graph.ainvoke({"n": 1}, config, multitask_strategy="reject")
        assert await b.list_runs(thread="t") == []  # nothing recorded
        a.end_turn("t")
        with anyio.fail_after(10):
            while True:
                try:
                    assert await graph.ainvoke({"n": 1}, config, multitask_strategy="reject") == {"n": 2}
                    break
                except RunBusyError:  # (PostgreSQL unlocks a moment after end_turn)
                    await anyio.sleep(0.01)


async def test_a_turn_that_failed_holds_nothing_on_postgres(anyio_backend: str, tmp_path: Path) -> None:
    """A turn whose look at the queue failed (here: the schema is not set up yet) leaves no
    lock behind: once set up, another session takes the thread's turn."""
    from lograph.adapters.postgres import PostgresLog
    from lograph.eventlog import LogError
    from tests._store_postgres import dsn, fresh_schema

    schema = fresh_schema()
    a = await PostgresLog.open(await dsn(), schema=schema, max_size=4)
    b = await PostgresLog.open(await dsn(), schema=schema, max_size=4)
    try:
        with pytest.raises(LogError):
            await a.try_turn("t")
        await a.setup()
        assert (await a.try_turn("u"))[0] == "taken"  # (its statement unlocked "t" first)
        assert (await b.try_turn("t"))[0] == "taken"
        assert (await a.try_turn("t"))[0] == "busy"
    finally:
        await a.aclose()
        await b.aclose()
