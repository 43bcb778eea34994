"""What a run streams and how long a step may take, in details LangGraph 1.2.24 has:

- ``graph.step_timeout = seconds``: a step whose tasks are not all done in time fails
  the run with ``TimeoutError`` (asyncio's), its running tasks cancelled; the log
  records the run as failed, and the thread can run again.
- A root-state node that returns several ``Command`` updates streams them as a list.
- A ``@task`` of a ``functools.partial`` is named by its function; of a callable
  object, by its class.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Kind
from lograph.runtime import START, Command, StateGraph, entrypoint, task
from tests._stores import open_saver
from tests.faults import bodies


class Hello(TypedDict, total=False):
    hello: str


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.anyio
async def test_a_step_past_its_timeout_fails_the_run_and_cancels_its_tasks(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    stopped: list[str] = []

    async def slow(state: Hello) -> dict[str, Any]:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            stopped.append("slow")
            raise
        return {}

    async def quick(state: Hello) -> dict[str, Any]:
        return {"hello": "1"}

    b = StateGraph(Hello).add_node("slow", slow).add_node("quick", quick)
    b.add_conditional_edges(START, lambda s: ["slow", "quick"])
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        graph.step_timeout = 0.2
        seen = []
        with pytest.raises(TimeoutError):
            async for chunk in graph.astream({"hello": "x"}, cfg("t")):
                seen.append(chunk)
        assert seen == [{"quick": {"hello": "1"}}] and stopped == ["slow"]
        finished = bodies(await saver.log.read("t"), Kind.RUN_FINISHED)
        assert finished[-1]["status"] == "failed"
        graph.step_timeout = None
        with pytest.raises(ValueError, match="step_timeout"):
            graph.step_timeout = -1


@pytest.mark.anyio
async def test_several_updates_of_a_root_state_stream_as_a_list(anyio_backend: str) -> None:
    def twice(state: str) -> list[Command[Any]]:
        return [Command(update="1"), Command(update="2")]

    def once(state: str) -> str:
        return "3"

    graph = StateGraph(Annotated[str, operator.add]).add_sequence([twice, once]).add_edge(
        START, "twice").compile()
    assert [c async for c in graph.astream("", stream_mode="updates")] == [
        {"twice": ["1", "2"]}, {"once": "3"}]


@pytest.mark.anyio
async def test_a_partial_or_callable_task_is_named_by_its_function_or_class(anyio_backend: str) -> None:
    def join(sep: str, value: str) -> str:
        return value + sep

    class Shout:
        def __call__(self, value: str) -> str:
            return value.upper()

    dash, shout = task(functools.partial(join, "-")), task(Shout())

    @entrypoint()
    async def flow(value: str) -> str:
        return await shout(await dash(value))

    assert (dash.name, shout.name) == ("join", "Shout")
    assert [c async for c in flow.astream("a")] == [{"join": "a-"}, {"Shout": "A-"}, {"flow": "A-"}]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # asyncio's own task.cancel()
@pytest.mark.anyio
async def test_a_native_asyncio_cancel_is_a_cancel_not_a_node_failure(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    import asyncio

    seen: list[str] = []

    async def waits(state: Hello) -> dict[str, Any]:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return {}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Hello).add_node("waits", waits).add_edge(START, "waits").compile(
            checkpointer=saver)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(graph.ainvoke({"hello": "x"}, cfg("t")), 0.2)
        assert seen == ["cancelled"]
        finished = bodies(await saver.log.read("t"), Kind.RUN_FINISHED)
        assert [f["status"] for f in finished] == ["cancelled"]
