"""Reading a subgraph's state: ``get_state(subgraphs=True)`` and a namespace's config.

A snapshot's task whose node is a compiled graph, or calls one, carries where that
graph's state is: the config of its namespace, or (``subgraphs=True``) the subgraph's
own snapshot, nested as deep as graphs nest. A namespace whose caller's step is over
reads where the subgraph ended; one whose graph the caller does not know (a graph a
tool invokes) reads with the caller's keys. Every test runs on every store, on asyncio
and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Trail(TypedDict):
    steps: Annotated[list[str], operator.add]


class Notes(TypedDict):
    steps: Annotated[list[str], operator.add]
    note: str  # a key only the inner graphs have


def cfg(thread: str, **more: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **more}}


def asking(label: str, *, keep: bool | None = None) -> Any:
    """``prep`` then ``ask`` (which waits for an answer)."""

    def prep(state: Trail) -> dict[str, Any]:
        return {"steps": [f"{label}.prep"]}

    def ask(state: Trail) -> dict[str, Any]:
        return {"steps": [f"{label}.ask={interrupt(label)}"]}

    b = StateGraph(Trail).add_node("prep", prep).add_node("ask", ask)
    b.add_edge(START, "prep").add_edge("prep", "ask")
    return b.compile(checkpointer=keep)


async def test_a_paused_subgraph_state_is_attached_to_its_task(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    inner = asking("inner", keep=True)

    def call_inner(state: Trail) -> dict[str, Any]:  # a graph called in a node's code
        return {"steps": inner.invoke({"steps": []})["steps"]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Trail).add_node("first", lambda s: {"steps": ["first"]})
                 .add_node("work", call_inner).add_edge(START, "first").add_edge("first", "work")
                 .compile(checkpointer=saver))
        out = await graph.ainvoke({"steps": []}, cfg("t"))
        assert [i.value for i in out["__interrupt__"]] == ["inner"]

        top = await graph.aget_state(cfg("t"), subgraphs=True)
        (task,) = top.tasks
        sub = task.state
        assert sub.values == {"steps": ["inner.prep"]}
        assert sub.next == ("ask",)
        assert [i.value for i in sub.interrupts] == ["inner"]
        # kept per thread (checkpointer=True): its namespace has no task id
        conf = sub.config["configurable"]
        assert conf["checkpoint_ns"] == "work"
        assert conf["checkpoint_map"] == {"": top.config["configurable"]["checkpoint_id"],
                                          "work": conf["checkpoint_id"]}

        # without subgraphs=True: the namespace to read it at, as LangGraph gives it
        plain = (await graph.aget_state(cfg("t"))).tasks[0].state
        assert plain == cfg("t", checkpoint_ns=f"work:{task.id}")
        again = await graph.aget_state(plain)
        assert again.values == sub.values and again.next == ("ask",)
        assert again.config["configurable"]["checkpoint_ns"] == "work"

        # a node that is no graph carries no state
        first = [s async for s in graph.aget_state_history(cfg("t")) if s.next == ("first",)]
        assert first[0].tasks[0].state is None


async def test_nested_subgraph_states_nest(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    inner = asking("inner")
    middle = (StateGraph(Trail).add_node("m", lambda s: {"steps": ["m"]}).add_node("inner", inner)
              .add_edge(START, "m").add_edge("m", "inner").compile())
    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Trail).add_node("middle", middle).add_edge(START, "middle")
                 .compile(checkpointer=saver))
        await graph.ainvoke({"steps": []}, cfg("t"))

        top = await graph.aget_state(cfg("t"), subgraphs=True)
        mid = top.tasks[0].state
        assert mid.values == {"steps": ["m"]} and mid.next == ("inner",)
        low = mid.tasks[0].state
        assert low.values == {"steps": ["m", "inner.prep"]} and low.next == ("ask",)
        mid_ns = f"middle:{top.tasks[0].id}"
        assert mid.config["configurable"]["checkpoint_ns"] == mid_ns
        assert low.config["configurable"]["checkpoint_ns"] == f"{mid_ns}|inner:{mid.tasks[0].id}"
        assert set(low.config["configurable"]["checkpoint_map"]) == {"", mid_ns, low.config["configurable"]["checkpoint_ns"]}
        # not asked for: the middle one's namespace, nothing deeper
        plain = await graph.aget_state(cfg("t"))
        assert plain.tasks[0].state == cfg("t", checkpoint_ns=mid_ns)


async def test_a_subgraph_namespace_reads_where_it_ended_after_its_step(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    inner = (StateGraph(Notes).add_node("a", lambda s: {"steps": ["a"], "note": "from a"})
             .add_node("b", lambda s: {"steps": ["b"]}).add_edge(START, "a").add_edge("a", "b").compile())
    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Notes).add_node("inner", inner).add_node("after", lambda s: {"steps": ["after"]})
                 .add_edge(START, "inner").add_edge("inner", "after").compile(checkpointer=saver))
        await graph.ainvoke({"steps": []}, cfg("t"))
        (ran,) = [s async for s in graph.aget_state_history(cfg("t")) if s.next == ("inner",)]
        ns = ran.tasks[0].state["configurable"]["checkpoint_ns"]

        # the caller moved on two steps since: the subgraph's state is where it ended
        ended = await graph.aget_state(cfg("t", checkpoint_ns=ns))
        assert ended.values == {"steps": ["a", "b"], "note": "from a"}
        assert ended.next == ()
        assert ended.config["configurable"]["checkpoint_ns"] == ns
        assert [s.values["steps"] async for s in graph.aget_state_history(cfg("t", checkpoint_ns=ns))] \
            == [["a", "b"], ["a"], [], []]
        # a namespace nothing ran at: an empty state
        empty = await graph.aget_state(cfg("t", checkpoint_ns=f"inner:{'0' * 8}-0000-0000-0000-{'0' * 12}"))
        assert empty.values == {} and empty.next == ()


async def test_a_graph_the_caller_does_not_know_reads_with_the_callers_keys(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    helpers = {"notes": StateGraph(Notes).add_node("n", lambda s: {"steps": ["noted"], "note": "x"})
               .add_edge(START, "n").compile()}

    def tool(state: Trail) -> dict[str, Any]:  # reached through a subscript: not detected
        helpers["notes"].invoke({"steps": ["asked"]})
        return {"steps": ["tool"]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Trail).add_node("tool", tool).add_edge(START, "tool").compile(checkpointer=saver)
        namespaces = [ns async for ns, _ in graph.astream({"steps": []}, cfg("t"), subgraphs=True) if ns]
        ns = namespaces[0][0]
        assert ns.startswith("tool:")

        state = await graph.aget_state(cfg("t", checkpoint_ns=ns))
        assert state.values == {"steps": ["asked", "noted"]}  # no "note": the caller has none

        head = await saver.log.head("t")
        with pytest.raises(ValueError, match="Subgraph tool not found"):
            await graph.aupdate_state(cfg("t", checkpoint_ns=ns), {"steps": ["edit"]})
        assert await saver.log.head("t") == head  # nothing written
