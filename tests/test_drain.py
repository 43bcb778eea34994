"""Draining a run: ``invoke(..., control=RunControl())`` and ``request_drain``.

A drain is cooperative: the step under way finishes (a ``@task`` it calls still runs),
then the run stops before it starts another and raises ``GraphDrained`` with the
reason given. What the run did is on the thread, so ``invoke(None, config)`` goes on
from there; a drain asked in the last step changes nothing. Expected outcomes were
checked against the same programs on LangGraph 1.2.24.
"""

from __future__ import annotations

import operator
import threading
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import Kind
from lograph.runtime import (
    END,
    START,
    GraphDrained,
    RunControl,
    Runtime,
    StateGraph,
    entrypoint,
    task,
    verify_thread,
)
from tests._stores import open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


class Trail(TypedDict, total=False):
    seen: Annotated[list[str], operator.add]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def then_after(first: Any) -> Any:
    """A compiled graph: ``first`` (named after the function), then "after"."""
    builder = StateGraph(Trail)
    builder.add_node(first.__name__, first)
    builder.add_node("after", lambda s: {"seen": ["after"]})
    builder.add_edge(START, first.__name__)
    builder.add_edge(first.__name__, "after")
    return builder.compile()


def three_steps(control: RunControl, *, ask_in: str = "one") -> StateGraph:
    """one -> two -> three; the node ``ask_in`` asks ``control`` to drain."""
    builder = StateGraph(Trail)
    for name in ("one", "two", "three"):
        def node(state: Trail, name: str = name) -> dict[str, Any]:
            if name == ask_in:
                control.request_drain("deploying")
            return {"seen": [name]}
        builder.add_node(name, node)
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", "three")
    builder.add_edge("three", END)
    return builder


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_a_drained_run_stops_between_steps_and_continues_later(
    anyio_backend: str, store_kind: str, tmp_path: Path, durability: str,
) -> None:
    control = RunControl()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = three_steps(control).compile(checkpointer=saver)
        with pytest.raises(GraphDrained, match="deploying") as info:
            await graph.ainvoke({"seen": []}, cfg("t"), control=control, durability=durability)
        assert info.value.reason == "deploying"
        assert control.drain_requested and control.drain_reason == "deploying"
        state = await graph.aget_state(cfg("t"))
        assert state.values == {"seen": ["one"]} and state.next == ("two",)
        finished = bodies(await saver.log.read("t"), Kind.RUN_FINISHED)
        assert finished[-1]["status"] == "cancelled" and "deploying" in finished[-1]["error"]
        # a later run (no drain asked) picks up where the drained one stopped
        assert await graph.ainvoke(None, cfg("t"), durability=durability) == {
            "seen": ["one", "two", "three"]}
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_drain_in_the_last_step_finishes_the_run(anyio_backend: str) -> None:
    control = RunControl()
    graph = three_steps(control, ask_in="three").compile()
    assert await graph.ainvoke({"seen": []}, control=control) == {"seen": ["one", "two", "three"]}
    assert control.drain_requested


async def test_a_control_drained_beforehand_runs_no_node(anyio_backend: str) -> None:
    ran: list[str] = []
    control = RunControl()
    control.request_drain()
    builder = StateGraph(Trail)
    builder.add_node("only", lambda s: ran.append("only") or {"seen": ["only"]})
    builder.add_edge(START, "only")
    with pytest.raises(GraphDrained, match="shutdown"):
        await builder.compile().ainvoke({"seen": []}, control=control)
    assert ran == []


def test_sync_invoke_and_stream_take_a_control() -> None:
    from lograph.adapters.memory import InMemorySaver

    control = RunControl()
    graph = three_steps(control, ask_in="two").compile(checkpointer=InMemorySaver())
    chunks: list[Any] = []
    with pytest.raises(GraphDrained):
        for chunk in graph.stream({"seen": []}, cfg("s"), control=control):
            chunks.append(chunk)
    assert chunks == [{"one": {"seen": ["one"]}}, {"two": {"seen": ["two"]}}]
    assert graph.invoke(None, cfg("s")) == {"seen": ["one", "two", "three"]}


def test_a_drain_asked_from_another_thread() -> None:
    started, release = threading.Event(), threading.Event()
    control = RunControl()

    def waits(state: Trail) -> dict[str, Any]:
        started.set()
        release.wait(5)
        return {"seen": ["waits"]}

    graph = then_after(waits)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            graph.invoke({"seen": []}, control=control)
        except GraphDrained as e:
            outcome.append(e)

    runner = threading.Thread(target=run)
    runner.start()
    assert started.wait(5)
    control.request_drain("sigterm")
    release.set()
    runner.join(5)
    assert [str(e) for e in outcome] == ["Graph drained: sigterm"]


@pytest.mark.parametrize("keep", [True, None])
async def test_a_drain_inside_a_subgraph_stops_its_caller(
    anyio_backend: str, store_kind: str, tmp_path: Path, keep: bool | None,
) -> None:
    control = RunControl()
    child = three_steps(control).compile(checkpointer=keep)
    parent = StateGraph(Trail)
    parent.add_node("child", child)
    parent.add_node("sibling", lambda s: {"seen": ["sibling"]})
    parent.add_node("last", lambda s: {"seen": ["last"]})
    parent.add_edge(START, "child")
    parent.add_edge(START, "sibling")
    parent.add_edge("child", "last")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = parent.compile(checkpointer=saver)
        with pytest.raises(GraphDrained, match="deploying"):
            await graph.ainvoke({"seen": []}, cfg("t"), control=control)
        # the sibling finished (a drain cancels nothing); the child stopped after "one"
        assert bodies(await saver.log.read("t"), Kind.NODE_FAILED) == []
        result = await graph.ainvoke(None, cfg("t"))
        assert sorted(result["seen"]) == sorted(["one", "two", "three", "sibling", "last"])
        assert result["seen"][-1] == "last" and result["seen"].count("sibling") == 1


async def test_a_task_called_after_the_drain_still_runs(anyio_backend: str) -> None:
    control = RunControl()

    @task
    async def plus_one(x: int) -> int:
        return x + 1

    @entrypoint()
    async def flow(x: int) -> int:
        control.request_drain()
        return await plus_one(x)

    assert await flow.ainvoke(1, control=control) == 2


async def test_nodes_see_the_runs_control(anyio_backend: str) -> None:
    seen: list[Any] = []

    async def look(state: Trail, runtime: Runtime) -> dict[str, Any]:
        seen.append((runtime.control, runtime.drain_requested, runtime.drain_reason))
        runtime.control.request_drain("from the node")  # type: ignore[union-attr]
        return {"seen": ["look"]}

    graph = then_after(look)
    control = RunControl()
    with pytest.raises(GraphDrained, match="from the node"):
        await graph.ainvoke({"seen": []}, control=control)
    assert seen == [(control, False, None)]
    # a run given no control has one of its own
    seen.clear()
    with pytest.raises(GraphDrained):
        await graph.ainvoke({"seen": []})
    assert isinstance(seen[0][0], RunControl) and seen[0][0] is not control

