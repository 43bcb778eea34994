"""stream_mode="tools": each tool call's start, partial output, end or error, as it happens.

The events come from the tools' LangChain callbacks (a ``ToolNode``'s calls, sync in
worker threads or async, and a tool a node invokes itself), keyed by the model's
``tool_call_id``. A tool streams partial output with ``ToolRuntime.emit_output_delta``
(nothing when the run does not stream tools). A subgraph's tools show only with
``subgraphs=True``; nothing of this is written to the log. Payloads were checked
against the same programs on LangGraph 1.2.24.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool, tool

from lograph.eventlog import Kind
from lograph.runtime import START, MessagesState, StateGraph
from lograph.runtime.prebuilt import ToolNode, ToolRuntime
from tests._stores import open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def _shout(word: str) -> str:
    return word.upper()


# async on asyncio; on trio (langchain-core's async tools need asyncio) its sync twin
shout = StructuredTool.from_function(func=lambda word: word.upper(), coroutine=_shout,
                                     name="shout", description="Say it louder.")


@tool
def broken(x: int) -> int:
    """Always fails."""
    raise ValueError(f"no good: {x}")


@tool
def chatty(x: int, runtime: ToolRuntime) -> str:
    """Streams its work as it goes."""
    runtime.emit_output_delta("half")
    runtime.emit_output_delta({"done": 1.0})
    return "all of it"


CALLS = [
    {"name": "add", "args": {"a": 1, "b": 2}, "id": "c-add"},
    {"name": "shout", "args": {"word": "hey"}, "id": "c-shout"},
    {"name": "broken", "args": {"x": 7}, "id": "c-broken"},
    {"name": "chatty", "args": {"x": 1}, "id": "c-chatty"},
]


def agent_then_tools() -> StateGraph:
    builder = StateGraph(MessagesState)
    builder.add_node("agent", lambda s: {"messages": [AIMessage("", tool_calls=CALLS)]})
    builder.add_node("tools", ToolNode([add, shout, broken, chatty], handle_tool_errors=True))
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "tools")
    return builder


def by_call(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each call's events in order (calls run concurrently: their events interleave)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(e["tool_call_id"], []).append(e)
    return out


def expected_calls() -> dict[str, list[dict[str, Any]]]:
    def finished(call: str, name: str, content: str) -> dict[str, Any]:
        return {"event": "tool-finished", "tool_call_id": call,
                "output": ToolMessage(content=content, name=name, tool_call_id=call)}

    def started(call: dict[str, Any]) -> dict[str, Any]:
        return {"event": "tool-started", "tool_call_id": call["id"], "tool_name": call["name"],
                "input": call["args"]}

    add_, shout_, broken_, chatty_ = CALLS
    return {
        "c-add": [started(add_), finished("c-add", "add", "3")],
        "c-shout": [started(shout_), finished("c-shout", "shout", "HEY")],
        "c-broken": [started(broken_),
                     {"event": "tool-error", "tool_call_id": "c-broken", "message": "no good: 7"}],
        "c-chatty": [started(chatty_),
                     {"event": "tool-output-delta", "tool_call_id": "c-chatty", "delta": "half"},
                     {"event": "tool-output-delta", "tool_call_id": "c-chatty", "delta": {"done": 1.0}},
                     finished("c-chatty", "chatty", "all of it")],
    }


async def test_a_tool_nodes_calls_stream_their_lifecycle(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = agent_then_tools().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        events = [e async for e in graph.astream({"messages": [HumanMessage("go")]}, config,
                                                 stream_mode="tools")]
        assert by_call(events) == expected_calls()
        # only the node's answer is in the log, as without the mode
        plain = {"configurable": {"thread_id": "plain"}}
        await graph.ainvoke({"messages": [HumanMessage("go")]}, plain)
        kinds = [e.kind for e in await saver.log.read("t")]
        assert kinds == [e.kind for e in await saver.log.read("plain")]
        writes = bodies(await saver.log.read("t"), Kind.NODE_WRITES)
        assert [w["name"] for w in writes] == ["agent", "tools"]


def test_the_sync_stream_and_other_modes_beside_it() -> None:
    graph = agent_then_tools().compile()
    chunks = list(graph.stream({"messages": [HumanMessage("go")]},
                               stream_mode=["updates", "tools"]))
    modes = [mode for mode, _ in chunks]
    assert modes[0] == "updates" and modes[-1] == "updates"  # the agent's, then the tools'
    assert by_call([c for mode, c in chunks if mode == "tools"]) == expected_calls()
    assert chunks[-1][1]["tools"]["messages"][0].content == "3"


async def test_a_subgraphs_tools_show_with_subgraphs_only(anyio_backend: str) -> None:
    parent = StateGraph(MessagesState)
    parent.add_node("inner", agent_then_tools().compile())
    parent.add_edge(START, "inner")
    graph = parent.compile()
    start = {"messages": [HumanMessage("go")]}
    assert [c async for c in graph.astream(start, stream_mode="tools")] == []
    nested = [c async for c in graph.astream(start, stream_mode="tools", subgraphs=True)]
    assert {ns for ns, _ in nested} == {(f"inner:{nested[0][0][0].split(':', 1)[1]}",)}
    assert by_call([e for _, e in nested]) == expected_calls()


async def test_a_tool_a_node_invokes_itself(anyio_backend: str) -> None:
    def node(state: MessagesState) -> dict[str, Any]:
        total = add.invoke({"a": 2, "b": 3})
        quiet = add.invoke({"a": 1, "b": 1}, {"tags": ["nostream"]})
        return {"messages": [AIMessage(f"{total} {quiet}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    events = [e async for e in builder.compile().astream({"messages": []}, stream_mode="tools")]
    assert [e["event"] for e in events] == ["tool-started", "tool-finished"]
    started, finished = events
    assert started["tool_name"] == "add" and started["input"] == {"a": 2, "b": 3}
    assert finished["output"] == 5
    # no model call id: the tool run's own id, the same on both events
    assert started["tool_call_id"] == finished["tool_call_id"] and len(started["tool_call_id"]) == 36


async def test_output_deltas_without_the_tools_mode_go_nowhere(anyio_backend: str) -> None:
    graph = agent_then_tools().compile()
    chunks = [c async for c in graph.astream({"messages": [HumanMessage("go")]},
                                             stream_mode=["updates", "custom"])]
    assert [mode for mode, _ in chunks] == ["updates", "updates"]
    result = await graph.ainvoke({"messages": [HumanMessage("go")]})
    assert result["messages"][-1].content == "all of it"
