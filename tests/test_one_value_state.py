"""A state of one value (``StateGraph(Annotated[list, operator.add])``) as LangGraph 1.2.24
shows it: ``invoke`` of an interrupted run returns only the interrupts, a snapshot's
tasks show the value each task wrote (the input, for ``__start__``), and the step
before any node holds the reducer's empty value. ``Send`` tasks' paths are
``("__pregel_push", i, False)``. ``builder.nodes[name].runnable.func`` is the function
a node was added with.
"""

import operator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.runnables import RunnableConfig

from lograph.runtime import START, Send, StateGraph, interrupt
from tests._stores import open_saver


class Counted:
    """A node that counts its calls; on its first call it asks a question."""

    def __init__(self) -> None:
        self.calls = 0
        self.__name__ = "ask"

    def __call__(self, item: Any) -> list[str]:
        self.calls += 1
        if self.calls == 1:
            interrupt("which?")
        return [f"asked {item}"]


def fan_out(state: list[str]) -> list[Send]:
    return [Send("ask", "p"), Send("note", "q")]


def note(item: Any) -> list[str]:
    return [f"noted {item}"]


def build() -> StateGraph:
    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("begin", lambda state: ["begun"])
    builder.add_node(Counted())
    builder.add_node("note", note)
    builder.add_edge(START, "begin")
    builder.add_conditional_edges("begin", fan_out)
    return builder


@pytest.mark.anyio
async def test_an_interrupted_list_state_and_its_history(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    builder = build()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "one-value"}}
        first = await graph.ainvoke(["in"], config)
        assert list(first) == ["__interrupt__"]  # no value next to the interrupts
        assert [i.value for i in first["__interrupt__"]] == ["which?"]
        assert builder.nodes["ask"].runnable.func.calls == 1

        assert await graph.ainvoke(None, config) == ["in", "begun", "asked p", "noted q"]
        assert builder.nodes["ask"].runnable.func.calls == 2
        assert builder.nodes["note"].runnable.func is note

        snapshots = [s async for s in graph.aget_state_history(config)]
        by_step = {s.metadata["step"]: s for s in snapshots}
        assert by_step[-1].values == []  # the reducer's empty value, not None
        assert [(t.name, t.result) for t in by_step[-1].tasks] == [("__start__", ["in"])]
        assert [(t.name, t.result) for t in by_step[0].tasks] == [("begin", ["begun"])]
        sent = by_step[1].tasks
        assert [(t.name, t.path, t.result) for t in sent] == [
            ("ask", ("__pregel_push", 0, False), ["asked p"]),
            ("note", ("__pregel_push", 1, False), ["noted q"]),
        ]
        assert [i.value for i in sent[0].interrupts] == ["which?"]


@pytest.mark.anyio
async def test_a_send_task_path_in_its_metadata(anyio_backend: str) -> None:
    seen: list[Any] = []

    def record(item: Any, config: RunnableConfig) -> list[str]:
        seen.append(config["metadata"]["langgraph_path"])
        return [item]

    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("begin", lambda state: [])
    builder.add_node("record", record)
    builder.add_edge(START, "begin")
    builder.add_conditional_edges("begin", lambda state: [Send("record", "a"), Send("record", "b")])
    assert await builder.compile().ainvoke([]) == ["a", "b"]
    assert sorted(seen) == [("__pregel_push", 0, False), ("__pregel_push", 1, False)]
