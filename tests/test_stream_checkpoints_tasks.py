"""Stream modes ``checkpoints`` and ``tasks`` (and ``debug``, the two wrapped), alone,
beside other modes and with ``subgraphs=True``. On every store, asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, Command, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class State(TypedDict):
    log: Annotated[list, operator.add]


class Boom(Exception):
    pass


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def node(name: str) -> Any:
    async def run(state: State) -> dict[str, Any]:
        return {"log": [name]}
    return run


def inner_graph() -> Any:
    b = StateGraph(State)
    b.add_node("inner", node("inner"))
    b.add_edge(START, "inner")
    return b.compile()


def graph_on(saver: Any, *, ask: bool = False) -> Any:
    async def last(state: State) -> dict[str, Any]:
        return {"log": [interrupt("ok?") if ask else "last"]}

    b = StateGraph(State)
    b.add_node("first", node("first"))
    b.add_node("side", node("side"))
    b.add_node("sub", inner_graph())
    b.add_node("last", last)
    b.add_edge(START, "first")
    b.add_edge("first", "side")
    b.add_edge("first", "sub")
    b.add_edge(["side", "sub"], "last")
    return b.compile(checkpointer=saver)


async def collect(graph: Any, input: Any, config: Any, **kwargs: Any) -> list[Any]:
    return [chunk async for chunk in graph.astream(input, config, **kwargs)]


async def test_checkpoints_are_the_history_as_it_is_made(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        chunks = await collect(graph, {"log": []}, cfg("t"), stream_mode="checkpoints")
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        assert [c["config"] for c in chunks] == [s.config for s in reversed(history)]
        assert [c["parent_config"] for c in chunks] == [s.parent_config for s in reversed(history)]
        assert [c["metadata"] for c in chunks] == [s.metadata for s in reversed(history)]
        assert [c["next"] for c in chunks] == [list(s.next) for s in reversed(history)]
        assert [c["values"] for c in chunks][-1] == (await graph.aget_state(cfg("t"))).values
        assert all(set(c) == {"config", "parent_config", "values", "metadata", "next", "tasks"}
                   for c in chunks)
        step = next(c for c in chunks if c["next"] == ["side", "sub"])
        side, sub = step["tasks"]
        ids = [t.id for t in next(s for s in history if s.next == ("side", "sub")).tasks]
        assert [side["id"], sub["id"]] == ids
        assert side == {"id": side["id"], "name": "side", "interrupts": (), "state": None}
        # a node that is a graph: its task's state names the subgraph's namespace
        assert sub["state"] == {"configurable": {"thread_id": "t", "checkpoint_ns": f"sub:{sub['id']}"}}


async def test_tasks_start_and_finish(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver, ask=True)
        chunks = await collect(graph, {"log": []}, cfg("t"), stream_mode="tasks")
        starts = [c for c in chunks if "input" in c]
        results = [c for c in chunks if "result" in c]
        assert [c["name"] for c in starts] == ["first", "side", "sub", "last"]
        assert starts[0] == {"id": starts[0]["id"], "name": "first", "input": {"log": []},
                             "triggers": ("branch:to:first",)}
        assert starts[-1]["triggers"] == ("join:side+sub:last",)
        # every start before the results of its step; a result per task, same ids
        assert sorted(c["id"] for c in results) == sorted(c["id"] for c in starts)
        first = next(c for c in results if c["name"] == "first")
        assert first == {"id": first["id"], "name": "first", "error": None,
                         "result": {"log": ["first"]}, "interrupts": []}
        asked = results[-1]
        assert asked["name"] == "last" and asked["result"] == {}
        (pending,) = (await graph.aget_state(cfg("t"))).interrupts
        assert asked["interrupts"] == [{"value": "ok?", "id": pending.id, "response_schema": None}]
        # the resumed run streams the task that runs again, and its result
        chunks = await collect(graph, Command(resume="yes"), cfg("t"), stream_mode="tasks")
        assert [(c["name"], "result" in c) for c in chunks] == [("last", False), ("last", True)]
        assert chunks[-1]["result"] == {"log": ["yes"]}


async def test_a_failing_task_reports_its_error(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async def fails(state: State) -> dict[str, Any]:
        raise Boom("disk full")

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(State)
        b.add_node("fails", fails)
        b.add_edge(START, "fails")
        graph = b.compile(checkpointer=saver)
        seen: list[Any] = []
        with pytest.raises(Boom):
            async for chunk in graph.astream({"log": []}, cfg("t"), stream_mode="tasks"):
                seen.append(chunk)
        error = seen[-1]["error"]
        assert isinstance(error, Boom) and str(error) == "disk full"
        assert seen[-1]["result"] == {} and seen[-1]["interrupts"] == []


async def test_modes_together_and_subgraph_namespaces(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        chunks = await collect(graph, {"log": []}, cfg("t"),
                               stream_mode=["updates", "checkpoints", "tasks"], subgraphs=True)
        modes = {mode for _, mode, _ in chunks}
        assert modes == {"updates", "checkpoints", "tasks"}
        inner = [(ns, mode, c) for ns, mode, c in chunks if ns]
        (ns,) = {n for n, _, _ in inner}
        assert ns[0].startswith("sub:")
        sub_checkpoints = [c for _, mode, c in inner if mode == "checkpoints"]
        assert [c["metadata"]["source"] for c in sub_checkpoints] == ["input", "loop", "loop"]
        assert all(c["config"]["configurable"]["checkpoint_ns"] == ns[0] for c in sub_checkpoints)
        top = [c for n, mode, c in chunks if not n and mode == "checkpoints"]
        assert all(c["metadata"]["parents"][""] in {t["config"]["configurable"]["checkpoint_id"] for t in top}
                   for c in sub_checkpoints)
        assert [c["name"] for _, mode, c in inner if mode == "tasks"] == ["inner", "inner"]
        # without subgraphs=True only the top graph's chunks
        plain = await collect(graph, {"log": []}, cfg("u"), stream_mode=["checkpoints", "tasks"])
        assert len(plain) == len([c for c in chunks if not c[0] and c[1] != "updates"])


async def test_debug_wraps_both_and_a_graph_without_store_has_no_checkpoints(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        debug = await collect(graph, {"log": []}, cfg("t"), stream_mode="debug")
        both = await collect(graph, {"log": []}, cfg("u"), stream_mode=["checkpoints", "tasks"])
        kinds = {"checkpoints": "checkpoint", "tasks": None}
        assert [d["type"] for d in debug] == [
            kinds[m] or ("task_result" if "result" in c else "task") for m, c in both]
        checkpoint = next(d for d in debug if d["type"] == "checkpoint")
        assert checkpoint["step"] == checkpoint["payload"]["metadata"]["step"]
        assert "tasks" in checkpoint["payload"]
    b = StateGraph(State)
    b.add_node("only", node("only"))
    b.add_edge(START, "only")
    chunks = await collect(b.compile(), {"log": []}, None, stream_mode=["checkpoints", "tasks"])
    assert [m for m, _ in chunks] == ["tasks", "tasks"]
