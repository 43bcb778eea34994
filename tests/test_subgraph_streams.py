"""What a run shows of its subgraphs and of a resumed step, as LangGraph shows it.

- ``invoke(..., subgraphs=True)`` with a stream mode returns the chunks with the
  namespace of the graph each comes from;
- a second graph one task runs streams under ``"<node>:<task id>|1"``;
- a breakpoint inside a subgraph shows ``{"__interrupt__": ()}`` once, from the top
  graph, and the ``values`` stream then shows the state with the step's finished writes;
- a resumed step shows the writes of its tasks that finished before it paused again,
  marked ``cached``;
- ``saver.list(config)`` without ``checkpoint_ns`` lists every graph's checkpoints.

Every test runs on every store, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, Command, Send, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Count(TypedDict):
    n: Annotated[int, operator.add]


class Words(TypedDict):
    words: Annotated[list[str], operator.add]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def adder(name: str, by: int) -> Any:
    return StateGraph(Count).add_node(name, lambda s: {"n": by}).add_edge(START, name).compile()


async def test_two_graphs_in_one_task_stream_under_their_namespaces(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    first, second = adder("plus_one", 1), adder("plus_two", 2)

    def both(state: Count) -> dict[str, Any]:
        n = first.invoke({"n": state["n"]})["n"]
        return {"n": second.invoke({"n": n})["n"]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Count).add_node("both", both).add_edge(START, "both").compile(checkpointer=saver)
        chunks = await graph.ainvoke({"n": 0}, cfg("t"), stream_mode="updates", subgraphs=True)
        (one, ns1), (two, ns2), (top, ns3) = [(c, ns) for ns, c in chunks]
        assert (one, two, top) == ({"plus_one": {"n": 1}}, {"plus_two": {"n": 2}}, {"both": {"n": 3}})
        assert len(ns1) == 1 and ns1[0].startswith("both:")
        assert ns2 == (ns1[0], "1") and ns3 == ()
        # without subgraphs=True: the top graph's chunks only
        assert await graph.ainvoke({"n": 0}, cfg("u"), stream_mode="updates") == [{"both": {"n": 3}}]

        # every graph's checkpoints when the config names no namespace, newest first
        everything = [t async for t in saver.alist(cfg("t"))]
        namespaces = [t.config["configurable"]["checkpoint_ns"] for t in everything]
        assert set(namespaces) == {"", ns1[0], f"{ns1[0]}|1"}
        ids = [t.config["configurable"]["checkpoint_id"] for t in everything]
        assert ids == sorted(ids, reverse=True)
        top_only = [t async for t in saver.alist({"configurable": {"thread_id": "t", "checkpoint_ns": ""}})]
        assert [t.config for t in top_only] == [t.config for t in everything if not t.config["configurable"]["checkpoint_ns"]]
        assert len([t async for t in saver.alist(cfg("t"), limit=2)]) == 2


async def test_a_subgraph_breakpoint_is_shown_once_by_the_top_graph(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    inner = (StateGraph(Words).add_node("draft", lambda s: {"words": ["draft"]})
             .add_node("final", lambda s: {"words": ["final"]}).add_edge(START, "draft")
             .add_edge("draft", "final").compile(interrupt_before=["final"]))
    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Words).add_node("inner", inner).add_node("side", lambda s: {"words": ["side"]})
                 .add_edge(START, "inner").add_edge(START, "side").compile(checkpointer=saver))
        chunks = [c async for c in graph.astream({"words": []}, cfg("t"), subgraphs=True)]
        assert [c for c in chunks if "__interrupt__" in c[1]] == [((), {"__interrupt__": ()})]

        values = [v async for v in graph.astream({"words": []}, cfg("u"), stream_mode="values")]
        assert values == [{"words": []}, {"words": ["side"]}]  # the finished task's writes
        out = await graph.ainvoke(None, cfg("u"))
        assert out == {"words": ["draft", "final", "side"]}


async def test_a_resumed_step_shows_its_finished_tasks_again_as_cached(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    def ask(state: dict[str, Any]) -> dict[str, Any]:
        return {"words": [f"{state['q']}={interrupt(state['q'])}"]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Words).add_node("ask", ask)
                 .add_conditional_edges(START, lambda s: [Send("ask", {"q": "a"}), Send("ask", {"q": "b"})], ["ask"])
                 .compile(checkpointer=saver))
        first = [c async for c in graph.astream({"words": []}, cfg("t"))]
        asked = {i.value: i.id for c in first for i in c.get("__interrupt__", ())}
        assert set(asked) == {"a", "b"}
        second = [c async for c in graph.astream(Command(resume={asked["a"]: "yes"}), cfg("t"))]
        assert {"ask": {"words": ["a=yes"]}} in second
        third = [c async for c in graph.astream(Command(resume={asked["b"]: "no"}), cfg("t"))]
        assert {"ask": {"words": ["a=yes"]}, "__metadata__": {"cached": True}} in third
        assert {"ask": {"words": ["b=no"]}} in third
        assert (await graph.aget_state(cfg("t"))).values == {"words": ["a=yes", "b=no"]}
