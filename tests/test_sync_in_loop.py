"""The sync API inside a running event loop (a notebook cell, an async test, a sync helper
called from async code): it blocks its caller and works, as LangGraph's does, except
where it would wait for itself (a store opened with ``async with`` on that same loop)."""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.adapters.memory import MemorySaver
from lograph.adapters.postgres import PostgresSaver
from lograph.adapters.sqlite import SqliteSaver
from lograph.runtime import END, START, Checkpointer, StateGraph
from tests import _store_postgres as pg
from tests._stores import open_saver


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def appender(name: str) -> Any:
    return lambda state: {"log": [name]}


def linear() -> StateGraph:
    builder = StateGraph(Log)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@contextmanager
def opened_the_sync_way(kind: str, tmp_path: Path, dsn: str | None) -> Iterator[Checkpointer]:
    """A store opened as sync code opens it (``with``), here inside the running loop."""
    if kind == "memory":
        yield MemorySaver()
    elif kind == "sqlite":
        with SqliteSaver.from_conn_string(tmp_path / "sync.db") as saver:
            yield saver
    else:
        assert dsn is not None
        with PostgresSaver.from_conn_string(dsn, schema=pg.fresh_schema(), max_size=4) as saver:
            saver.setup()
            yield saver


def every_sync_method(graph: Any) -> None:
    """invoke, stream, batch, get_state, get_state_history and update_state, blocking."""
    config = cfg("t")
    assert graph.invoke({"log": ["in"]}, config) == {"log": ["in", "a", "b"]}
    assert list(graph.stream({"log": ["again"]}, config, stream_mode="updates")) == [
        {"a": {"log": ["a"]}}, {"b": {"log": ["b"]}}]
    assert graph.batch([{"log": ["x"]}, {"log": ["y"]}], [cfg("b1"), cfg("b2")]) == [
        {"log": ["x", "a", "b"]}, {"log": ["y", "a", "b"]}]
    state = graph.get_state(config)
    assert state.values == {"log": ["in", "a", "b", "again", "a", "b"]} and state.next == ()
    history = list(graph.get_state_history(config))
    assert [s.metadata["step"] for s in history] == [6, 5, 4, 3, 2, 1, 0, -1]
    graph.update_state(config, {"log": ["note"]}, as_node="b")
    assert graph.get_state(config).values["log"][-1] == "note"
    checkpointer = graph.checkpointer
    assert checkpointer.get_tuple(config).checkpoint["channel_values"]["log"][-1] == "note"
    assert len(list(checkpointer.list(config))) == len(history) + 1


@pytest.mark.anyio
async def test_the_sync_api_works_inside_a_running_loop(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    dsn = await pg.dsn() if store_kind == "postgres" else None
    with opened_the_sync_way(store_kind, tmp_path, dsn) as saver:
        graph = linear().compile(checkpointer=saver)
        every_sync_method(graph)
        # the async API on the same store, from this loop, sees what the sync calls wrote
        assert (await graph.aget_state(cfg("t"))).values["log"][-1] == "note"
        assert await graph.ainvoke({"log": ["async"]}, cfg("t")) == {
            "log": ["in", "a", "b", "again", "a", "b", "note", "async", "a", "b"]}


@pytest.mark.anyio
async def test_a_store_opened_with_async_with_here(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """Its driver lives on this loop on asyncio (the sync call would wait for itself:
    refused, naming the async method); on trio it lives on lograph's helper loop, so
    the sync API works."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        if store_kind == "memory" or anyio_backend == "trio":
            every_sync_method(graph)
            return
        calls = [
            (lambda: graph.invoke({"log": []}, cfg("t")), "ainvoke"),
            (lambda: list(graph.stream({"log": []}, cfg("t"))), "astream"),
            (lambda: graph.batch([{"log": []}], cfg("t")), "abatch"),
            (lambda: graph.get_state(cfg("t")), "aget_state"),
            (lambda: list(graph.get_state_history(cfg("t"))), "aget_state_history"),
            (lambda: graph.update_state(cfg("t"), {"log": ["x"]}, as_node="a"), "aupdate_state"),
            (lambda: saver.get_tuple(cfg("t")), "aget_tuple"),
            (lambda: saver.close(), "aclose"),
        ]
        for call, amethod in calls:
            with pytest.raises(RuntimeError, match=re.escape(f"await ...{amethod}(")):
                call()
        assert await saver.log.head("t") == 0  # nothing was written
        assert await graph.ainvoke({"log": []}, cfg("t")) == {"log": ["a", "b"]}


@pytest.mark.anyio
async def test_the_call_blocks_its_caller(anyio_backend: str) -> None:
    """As LangGraph's sync methods do: nothing else runs on the caller's loop meanwhile."""
    ticks: list[str] = []

    def slow(state: Log) -> dict[str, Any]:
        import time

        time.sleep(0.2)
        return {"log": ["slow"]}

    builder = StateGraph(Log)
    builder.add_node("slow", slow)
    builder.add_edge(START, "slow")
    graph = builder.compile(checkpointer=MemorySaver())

    async def ticker() -> None:
        while True:
            ticks.append("tick")
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.05)
        before = len(ticks)
        assert graph.invoke({"log": []}, cfg("t")) == {"log": ["slow"]}
        assert len(ticks) == before
        tg.cancel_scope.cancel()


def test_a_sync_helper_called_from_an_async_node_of_a_sync_run() -> None:
    """Code on the sync facade's own loop calling the sync API: it runs on a portal of
    its own (the shared one is busy with the caller)."""
    inner = linear().compile(checkpointer=MemorySaver())

    async def calls_sync_code(state: Log) -> dict[str, Any]:
        out = inner.invoke({"log": ["inner"]}, cfg("inner"))  # a sync helper, in async code
        return {"log": out["log"]}

    builder = StateGraph(Log)
    builder.add_node("outer", calls_sync_code)
    builder.add_edge(START, "outer")
    outer = builder.compile(checkpointer=MemorySaver())
    assert outer.invoke({"log": []}, cfg("outer")) == {"log": ["inner", "a", "b"]}
    assert inner.get_state(cfg("inner")).values == {"log": ["inner", "a", "b"]}


def test_a_store_whose_driver_is_the_busy_loop_is_refused(tmp_path: Path) -> None:
    """An async node of a sync run calls the sync API on a store opened by sync code:
    that store's driver lives on the loop the node is running on."""
    with SqliteSaver.from_conn_string(tmp_path / "s.db") as saver:
        inner = linear().compile(checkpointer=saver)

        async def calls_sync_code(state: Log) -> dict[str, Any]:
            with pytest.raises(RuntimeError, match=re.escape("await ...ainvoke(")):
                inner.invoke({"log": []}, cfg("inner"))
            with pytest.raises(RuntimeError, match="async with"):
                with SqliteSaver.from_conn_string(tmp_path / "other.db"):
                    pass  # pragma: no cover
            return {"log": ["refused"]}

        builder = StateGraph(Log)
        builder.add_node("outer", calls_sync_code)
        builder.add_edge(START, "outer")
        outer = builder.compile(checkpointer=MemorySaver())
        assert outer.invoke({"log": []}, cfg("outer")) == {"log": ["refused"]}
        assert inner.get_state(cfg("inner")).values == {}
