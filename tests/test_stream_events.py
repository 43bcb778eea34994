"""``astream_events``: langchain-core's event stream of a run, as LangGraph 1.2.24 gives it.

The events are the run's callback tree (graph -> node or task -> chat model) as
``on_*_start/stream/end``; the graph's own stream chunks (``updates`` unless
``stream_mode`` says otherwise) are the root's ``on_chain_stream``; a node's or task's
output is its one ``on_chain_stream`` chunk. Closing the event stream early stops the
run as closing ``astream`` does. langchain-core's event machinery needs asyncio: on
trio the call is refused, with nothing written.
"""

from __future__ import annotations

import operator
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from lograph.adapters.memory import MemorySaver
from lograph.runtime import START, MessagesState, StateGraph, entrypoint, task
from tests._stores import open_saver


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def model(*texts: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=t, id=f"m{i}") for i, t in enumerate(texts)]))


def brief(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["event"], e["name"]) for e in events if e["event"] != "on_chat_model_stream"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("sync_node", [False, True])
@pytest.mark.anyio
async def test_v2_events_are_the_runs_callback_tree(anyio_backend: str, sync_node: bool) -> None:
    chat = model("hi there")

    @task
    def shout(text: str) -> str:
        return text.upper()

    if sync_node:
        def agent(state: MessagesState) -> dict[str, Any]:
            reply = chat.invoke(state["messages"])  # in a worker thread
            return {"messages": [reply, AIMessage(content=shout(reply.content).result(), id="loud")]}
    else:
        async def agent(state: MessagesState) -> dict[str, Any]:  # type: ignore[misc]
            reply = await chat.ainvoke(state["messages"])
            return {"messages": [reply, AIMessage(content=await shout(reply.content), id="loud")]}

    graph = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()
    events = [e async for e in graph.astream_events({"messages": [("user", "hello")]}, version="v2")]
    # (where the root's chunks fall between the nested events depends on scheduling, in
    # LangGraph as here: they are checked apart)
    assert [b for b in brief(events) if b != ("on_chain_stream", "LangGraph")] == [
        ("on_chain_start", "LangGraph"),
        ("on_chain_start", "agent"),
        ("on_chat_model_start", "GenericFakeChatModel"),
        ("on_chat_model_end", "GenericFakeChatModel"),
        ("on_chain_start", "shout"),
        ("on_chain_stream", "shout"),
        ("on_chain_end", "shout"),
        ("on_chain_stream", "agent"),
        ("on_chain_end", "agent"),
        ("on_chain_end", "LangGraph"),
    ]
    root_chunks = [e["data"]["chunk"] for e in events
                   if e["event"] == "on_chain_stream" and not e["parent_ids"]]
    assert root_chunks[0] == {"shout": "HI THERE"}  # the task's update, then the node's
    assert list(root_chunks[1]) == ["agent"]
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == "hi there"
    by_name = {e["name"]: e for e in events if e["event"].endswith("_start")}
    root, node, call = by_name["LangGraph"], by_name["agent"], by_name["shout"]
    assert root["parent_ids"] == [] and root["data"]["input"] == {"messages": [("user", "hello")]}
    assert node["parent_ids"] == [root["run_id"]] and node["tags"] == ["graph:step:1"]
    assert node["metadata"]["langgraph_node"] == "agent"
    assert call["parent_ids"] == [root["run_id"], node["run_id"]] and call["tags"] == ["seq:step:1"]
    assert call["data"]["input"] == {"text": "hi there"}  # a task's arguments by name
    assert by_name["GenericFakeChatModel"]["parent_ids"] == [root["run_id"], node["run_id"]]
    end = events[-1]
    assert [m.content for m in end["data"]["output"]["messages"]] == ["hello", "hi there", "HI THERE"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_v1_and_stream_mode_go_through(anyio_backend: str) -> None:
    class Count(TypedDict):
        n: Annotated[list, operator.add]

    def one(state: Count) -> dict[str, Any]:
        return {"n": [1]}

    graph = StateGraph(Count).add_node("one", one).add_edge(START, "one").compile()
    v1 = [e async for e in graph.astream_events({"n": []}, version="v1")]
    assert (v1[0]["event"], v1[0]["name"]) == ("on_chain_start", "LangGraph")
    ends = {e["name"]: e["data"]["output"] for e in v1 if e["event"] == "on_chain_end"}
    assert ends == {"one": {"n": [1]}, "LangGraph": {"one": {"n": [1]}}}  # v1: the root's last chunk
    v2 = [e async for e in graph.astream_events({"n": []}, stream_mode="values", version="v2")]
    root = [e["data"]["chunk"] for e in v2 if e["event"] == "on_chain_stream" and not e["parent_ids"]]
    assert root == [{"n": []}, {"n": [1]}]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_an_entrypoint_shows_its_functions_input_and_result(anyio_backend: str) -> None:
    @entrypoint(checkpointer=MemorySaver())
    async def flow(n: int) -> int:
        return n + 1

    events = [e async for e in flow.astream_events(1, cfg("t"))]
    node = [e for e in events if e["name"] == "flow"]
    assert [(e["event"], e["data"]) for e in node] == [
        ("on_chain_start", {"input": 1}),
        ("on_chain_stream", {"chunk": 2}),
        ("on_chain_end", {"input": 1, "output": 2}),
    ]
    assert (events[-1]["name"], events[-1]["data"]["output"]) == ("LangGraph", 2)


class Value(TypedDict):
    value: int


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_closing_the_events_early_stops_the_run_before_its_next_node(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    ran: list[str] = []

    async def first(state: Value) -> dict[str, Any]:
        ran.append("first")
        return {"value": 2}

    async def second(state: Value) -> dict[str, Any]:
        ran.append("second")
        await anyio.sleep(0.05)
        return {"value": 3}

    async def third(state: Value) -> dict[str, Any]:
        ran.append("third")
        return {"value": 4}

    b = StateGraph(Value).add_node("first", first).add_node("second", second).add_node("third", third)
    b.add_edge(START, "first").add_edge("first", "second").add_edge("second", "third")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        async with aclosing(graph.astream_events({"value": 1}, cfg("t"))) as events:
            async for event in events:
                if event["event"] == "on_chain_stream" and not event["parent_ids"]:
                    assert event["data"]["chunk"] == {"first": {"value": 2}}
                    break
        assert "third" not in ran
        state = await graph.aget_state(cfg("t"))
        assert state.values == {"value": 2} and state.next == ("second",)


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_on_trio_events_are_refused_before_anything_is_written(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Value).add_node("n", lambda s: {"value": 1}).add_edge(START, "n").compile(
            checkpointer=saver)
        with pytest.raises(RuntimeError, match="asyncio"):
            async for _ in graph.astream_events({"value": 0}, cfg("t")):
                pass
        assert await saver.log.read("t") == []


@pytest.mark.anyio
async def test_a_version_lograph_lacks_is_refused(anyio_backend: str) -> None:
    graph = StateGraph(Value).add_node("n", lambda s: {"value": 1}).add_edge(START, "n").compile()
    with pytest.raises(NotImplementedError, match="v3"):
        async for _ in graph.astream_events({"value": 0}, version="v3"):
            pass
    with pytest.raises(ValueError, match="'v9'"):
        async for _ in graph.astream_events({"value": 0}, version="v9"):
            pass
