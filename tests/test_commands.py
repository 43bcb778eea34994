"""Command and Send as LangGraph 1.2.24 takes them: an update given as (key, value)
pairs, how a Command prints, and what a task's result shows when it wrote a key twice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from lograph.runtime import END, START, Command, InvalidUpdateError, Send, StateGraph
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


def joined(a: str, b: str) -> str:
    return "+".join(x for x in (a, b) if x)


class Text(TypedDict):
    text: Annotated[str, joined]


def cfg(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def twice_then_once() -> StateGraph:
    return (StateGraph(Text)
            .add_node("twice", lambda s: Command(update=[("text", "a"), ("text", "b")]))
            .add_node("once", lambda s: {"text": "c"})
            .add_edge(START, "twice").add_edge("twice", "once").add_edge("once", END))


async def test_a_command_update_may_be_key_value_pairs(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = twice_then_once().compile(checkpointer=saver)
        chunks = [c async for c in graph.astream({"text": "in"}, cfg(), stream_mode="updates")]
        # a key written twice streams as one dict per write, as LangGraph shows it
        assert chunks == [{"twice": [{"text": "a"}, {"text": "b"}]}, {"once": {"text": "c"}}]
        assert (await graph.aget_state(cfg())).values == {"text": "in+a+b+c"}
        results = [[(t.name, t.result) for t in s.tasks] async for s in graph.aget_state_history(cfg())]
        assert results[:3] == [[], [("once", {"text": "c"})], [("twice", {"text": {"$writes": ["a", "b"]}})]]
        # as input too, with a goto
        out = await graph.ainvoke(Command(update=[("text", "x"), ("text", "y")], goto="once"), cfg())
        assert out == {"text": "in+a+b+c+x+y+c"}


async def test_pairs_are_checked_like_any_update(anyio_backend: str) -> None:
    graph = (StateGraph(Text).add_node("bad", lambda s: Command(update=[("nope", 1)]))
             .add_edge(START, "bad").compile())
    with pytest.raises(InvalidUpdateError, match="'nope'"):
        await graph.ainvoke({"text": ""})
    plain = StateGraph(Text).add_node("list", lambda s: [("text", "a")]).add_edge(START, "list").compile()
    with pytest.raises(InvalidUpdateError, match="returned a list"):  # only a Command takes pairs
        await plain.ainvoke({"text": ""})


def test_a_command_prints_the_fields_it_holds() -> None:
    assert repr(Command(goto=Send("n", 3))) == "Command(goto=Send(node='n', arg=3))"
    assert repr(Command(update={"k": 1}, resume="r")) == "Command(update={'k': 1}, resume='r')"
    assert repr(Command(graph=Command.PARENT, goto=["a"])) == "Command(graph='__parent__', goto=['a'])"
    assert repr(Command()) == "Command()"
