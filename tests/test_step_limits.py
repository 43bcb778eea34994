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


class Fan(TypedDict, total=False):
    done: Annotated[list, operator.add]


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [1, 3])
async def test_max_concurrency_limits_the_tasks_that_run_at_once(
    anyio_backend: str, store_kind: str, tmp_path: Path, limit: int,
) -> None:
    from lograph.runtime import Send

    running = {"now": 0, "most": 0}

    async def busy() -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await anyio.sleep(0.01)
        running["now"] -= 1

    async def work(n: int) -> dict[str, Any]:
        await busy()
        return {"done": [n]}

    @task
    async def call(n: int) -> int:
        await busy()
        return n

    @entrypoint()
    async def flow(n: int) -> list[int]:  # awaits its calls while holding a slot itself
        futures = [call(i) for i in range(n)]
        return [await f for f in futures]

    b = StateGraph(Fan).add_node("work", work)
    b.add_conditional_edges(START, lambda s: [Send("work", i) for i in range(12)])
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"done": []}, {**cfg("t"), "max_concurrency": limit})
        assert sorted(out["done"]) == list(range(12)) and running["most"] == limit
    running["most"] = 0
    assert await flow.ainvoke(6, {"max_concurrency": limit}) == list(range(6))
    assert running["most"] == limit  # (at 1: the caller lends its slot, no deadlock)


@pytest.mark.anyio
async def test_a_bad_max_concurrency_is_refused_before_anything_is_written(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Fan).add_node("n", lambda s: {"done": [1]}).add_edge(START, "n").compile(
            checkpointer=saver)
        for bad in (0, -1, 2.5, True, "3"):
            with pytest.raises(ValueError, match="max_concurrency"):
                await graph.ainvoke({"done": []}, {**cfg("t"), "max_concurrency": bad})
        assert await saver.log.read("t") == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a chat model's ainvoke needs asyncio
@pytest.mark.anyio
async def test_tokens_streaming_in_keep_a_node_with_an_idle_timeout_alive(anyio_backend: str) -> None:
    from collections.abc import AsyncIterator

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
    from langchain_core.outputs import ChatGenerationChunk

    from lograph.runtime import MessagesState, TimeoutPolicy

    class Slow(GenericFakeChatModel):
        async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                           **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
            for token in "abc":
                await anyio.sleep(0.08)  # each gap under the idle timeout, all of them over it
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id="r"))
                if run_manager is not None:
                    await run_manager.on_llm_new_token(token, chunk=chunk)
                yield chunk

    model = Slow(messages=iter([AIMessage(content="abc")]))

    async def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node(
        "call_model", call_model, timeout=TimeoutPolicy(idle_timeout=0.15)).add_edge(
        START, "call_model").compile()
    tokens = [chunk.content async for chunk, _ in graph.astream(
        {"messages": [HumanMessage(content="hi")]}, stream_mode="messages")]
    assert "".join(tokens) == "abc"  # (and a last empty chunk, as langchain-core ends a stream)
