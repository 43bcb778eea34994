"""stream_mode="messages": chat-model tokens while the node runs, with LangGraph's metadata.

Chunks reach the reader before the node that asked the model finishes (sync nodes in
worker threads, async nodes); a model that does not stream yields its final message
once; messages a node returns are yielded when it ends, unless already streamed. None
of it is written to the log: the thread's events are those of a run without the mode.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

from lograph.adapters.memory import MemorySaver
from lograph.runtime import START, Command, MessagesState, StateGraph, task, verify_thread
from tests._stores import open_saver


def streaming_model(*texts: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=t) for t in texts]))


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def single(node: Any, name: str = "agent") -> StateGraph:
    b = StateGraph(MessagesState)
    b.add_node(name, node)
    b.add_edge(START, name)
    return b


@pytest.mark.anyio
async def test_tokens_arrive_before_a_sync_node_finishes_and_only_the_answer_is_logged(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    llm = streaming_model("the quick brown fox", "the quick brown fox")
    first_chunk_read = threading.Event()
    waited: list[bool] = []

    def agent(state: MessagesState) -> dict[str, Any]:  # a worker thread
        reply = llm.invoke(state["messages"])
        waited.append(first_chunk_read.wait(10))  # the reader has a chunk: we have not returned
        return {"messages": [reply]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = single(agent).compile(checkpointer=saver)
        chunks: list[tuple[Any, dict[str, Any]]] = []
        async for message, metadata in graph.astream({"messages": [("user", "hi")]}, cfg("t"),
                                                     stream_mode="messages"):
            chunks.append((message, metadata))
            first_chunk_read.set()
        assert waited == [True]
        assert all(isinstance(m, AIMessageChunk) for m, _ in chunks)
        assert "".join(m.content for m, _ in chunks) == "the quick brown fox"
        assert len(chunks) == 7  # word by word, spaces apart: the answer is not yielded again
        meta = chunks[0][1]
        assert meta["langgraph_node"] == "agent"
        assert meta["langgraph_step"] == 1
        assert meta["langgraph_triggers"] == ("branch:to:agent",)
        assert meta["langgraph_path"] == ("__pregel_pull", "agent")
        assert meta["langgraph_checkpoint_ns"].startswith("agent:")
        assert meta["thread_id"] == "t"
        assert meta["ls_model_type"] == "chat"

        state = await graph.aget_state(cfg("t"))
        assert [type(m).__name__ for m in state.values["messages"]] == ["HumanMessage", "AIMessage"]
        assert state.values["messages"][-1].content == "the quick brown fox"
        # the same run without the mode writes exactly as many events: no token was logged
        await graph.ainvoke({"messages": [("user", "hi")]}, cfg("plain"))
        streamed, plain = await saver.log.read("t"), await saver.log.read("plain")
        assert [e.kind for e in streamed] == [e.kind for e in plain]


@pytest.mark.anyio
async def test_an_async_node_streams_and_a_non_streaming_model_yields_once(anyio_backend: str) -> None:
    llm = streaming_model("a b")
    plain = FakeMessagesListChatModel(responses=[AIMessage(content="whole answer")])

    async def agent(state: MessagesState) -> dict[str, Any]:
        if anyio_backend == "asyncio":
            first = await llm.ainvoke(state["messages"])
        else:  # langchain-core's async API needs asyncio
            first = llm.invoke(state["messages"])
        return {"messages": [first, plain.invoke("x")]}

    graph = single(agent).compile(checkpointer=MemorySaver())
    got = [(type(m).__name__, m.content) async for m, _ in
           graph.astream({"messages": [("user", "hi")]}, cfg("t"), stream_mode="messages")]
    assert got == [("AIMessageChunk", "a"), ("AIMessageChunk", " "), ("AIMessageChunk", "b"),
                   ("AIMessage", "whole answer")]


@pytest.mark.anyio
async def test_messages_a_node_returns_and_messages_beside_other_modes(anyio_backend: str) -> None:
    def tool_like(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content="made by the node", id="m-1")]}

    graph = single(tool_like, "maker").compile(checkpointer=MemorySaver())
    got = [c async for c in graph.astream({"messages": [("user", "hi")]}, cfg("t"),
                                          stream_mode=["updates", "messages"])]
    assert [mode for mode, _ in got] == ["messages", "updates"]
    message, meta = got[0][1]
    assert (message.content, message.id, meta["langgraph_node"]) == ("made by the node", "m-1", "maker")
    # what the node was given is not news: a node returning its input yields nothing
    echo = single(lambda s: {"messages": s["messages"]}, "echo").compile()
    assert [c async for c in echo.astream({"messages": [AIMessage(content="x", id="in")]},
                                          stream_mode="messages")] == []


@pytest.mark.anyio
async def test_a_task_and_a_subgraph_stream_with_their_namespaces(anyio_backend: str) -> None:
    llm = streaming_model("sub one", "task two", "sub again", "task again")

    def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke("x")]}

    sub = single(inner, "inner").compile()

    @task
    def ask(text: str) -> str:
        return str(llm.invoke(text).content)

    async def outer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content=await ask("y"))]}

    b = StateGraph(MessagesState)
    b.add_node("sub", sub)
    b.add_node("outer", outer)
    b.add_edge(START, "sub")
    b.add_edge("sub", "outer")
    graph = b.compile(checkpointer=MemorySaver())
    got = [c async for c in graph.astream({"messages": [("user", "go")]}, cfg("t"),
                                          stream_mode="messages", subgraphs=True)]
    sub_chunks = [(ns, m.content, meta["langgraph_node"]) for ns, (m, meta) in got if ns]
    assert [c for _, c, _ in sub_chunks] == ["sub", " ", "one"]
    assert all(len(ns) == 1 and ns[0].startswith("sub:") and node == "inner"
               for ns, _, node in sub_chunks)
    top = [(m.content, meta["langgraph_node"]) for ns, (m, meta) in got if not ns]
    assert top[:3] == [("task", "ask"), (" ", "ask"), ("two", "ask")]
    assert top[3] == ("task two", "outer")  # the node's own message (no id yet): yielded at its end

    without = [c async for c in graph.astream({"messages": [("user", "go")]}, cfg("u"),
                                              stream_mode="messages")]
    assert all(meta["langgraph_node"] != "inner" for _, meta in without)


@pytest.mark.anyio
async def test_a_model_tagged_nostream_is_not_streamed(anyio_backend: str) -> None:
    quiet = streaming_model("hidden words").with_config(tags=["nostream"])

    def agent(state: MessagesState) -> dict[str, Any]:
        reply = quiet.invoke("x")
        return {"messages": [AIMessage(content=reply.content, id="final")]}

    graph = single(agent).compile()
    got = [m.content async for m, _ in graph.astream({"messages": []}, stream_mode="messages")]
    assert got == ["hidden words"]  # only the node's returned message


def test_the_sync_stream_yields_messages_too() -> None:
    llm = streaming_model("one two", "three")
    graph = single(lambda s: {"messages": [llm.invoke(s["messages"])]}).compile(checkpointer=MemorySaver())
    got = [m.content for m, _ in graph.stream({"messages": [("user", "x")]}, cfg("s"),
                                              stream_mode="messages")]
    assert got == ["one", " ", "two"]
    got = graph.invoke({"messages": [("user", "x")]}, cfg("s2"), stream_mode="messages")
    assert [m.content for m, _ in got] == ["three"]  # invoke returns what the stream yields




GREETING = AIMessage(content="hello")  # a module-level message a node returns as it is


@pytest.mark.anyio
async def test_a_returned_message_without_an_id_is_streamed_with_the_id_the_state_keeps(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    """As LangGraph's stream: the message yielded and the one in the state share an id (a
    client can match them), given on a copy: the node's own object keeps no id, so
    returning it again adds a message rather than replacing the first."""
    b = StateGraph(MessagesState)
    b.add_node("greet", lambda s: {"messages": [GREETING, HumanMessage(content="and you?")]})
    b.add_node("command", lambda s: Command(update={"messages": AIMessage(content="via command")}))
    b.add_node("several", lambda s: [Command(update={"messages": [AIMessage(content="in a list")]})])
    b.add_edge(START, "greet")
    b.add_edge("greet", "command")
    b.add_edge("command", "several")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        streamed = [m async for m, _ in graph.astream({"messages": []}, cfg("ids"), stream_mode="messages")]
        kept = (await graph.aget_state(cfg("ids"))).values["messages"]
        assert [m.content for m in streamed] == ["hello", "and you?", "via command", "in a list"]
        assert [m.id for m in streamed] == [m.id for m in kept] and None not in [m.id for m in kept]
        assert GREETING.id is None
        await graph.ainvoke({"messages": []}, cfg("ids"), stream_mode="messages")
        again = (await graph.aget_state(cfg("ids"))).values["messages"]
        assert len(again) == 8 and len({m.id for m in again}) == 8
        assert (await verify_thread(saver, "ids", graph=graph)).ok
