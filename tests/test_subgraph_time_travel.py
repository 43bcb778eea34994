"""Running from a subgraph's own checkpoint: replay, answer, update.

A subgraph's checkpoint (``checkpoint_ns`` + ``checkpoint_id``, from
``get_state(subgraphs=True)``) is a point of the thread's log: ``invoke(None, it)`` on
the top graph replays from there on a new branch (the subgraph's earlier nodes do not
run again, its step's questions are asked again), ``Command(resume=...)`` answers what
waits there, and ``update_state(it, ...)`` updates the subgraph as its own node would.
Every test runs on every store, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, Command, ResumeError, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Trail(TypedDict):
    steps: Annotated[list[str], operator.add]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def two_questions(ran: list[str], *, keep: bool | None) -> Any:
    """``prep``, then ``q1`` and ``q2``, each waiting for an answer."""

    def prep(state: Trail) -> dict[str, Any]:
        ran.append("prep")
        return {"steps": ["prep"]}

    def ask(name: str) -> Any:
        def node(state: Trail) -> dict[str, Any]:
            ran.append(name)
            return {"steps": [f"{name}={interrupt(name)}"]}
        return node

    b = StateGraph(Trail).add_node("prep", prep).add_node("q1", ask("q1")).add_node("q2", ask("q2"))
    b.add_edge(START, "prep").add_edge("prep", "q1").add_edge("q1", "q2")
    return b.compile(checkpointer=keep)


def top(sub: Any, saver: Any) -> Any:
    return StateGraph(Trail).add_node("desk", sub).add_edge(START, "desk").compile(checkpointer=saver)


async def asked(graph: Any) -> dict[str, Any]:
    """Run ``graph`` on thread "t" up to its first question; the subgraph's checkpoint there."""
    await graph.ainvoke({"steps": []}, cfg("t"))
    return await sub_config(graph, "t")


async def sub_config(graph: Any, thread: str) -> dict[str, Any]:
    """The config of the subgraph's checkpoint at the thread's head (innermost)."""
    state = (await graph.aget_state(cfg(thread), subgraphs=True)).tasks[0].state
    while state.tasks and not isinstance(state.tasks[0].state, dict | type(None)):
        state = state.tasks[0].state
    return state.config


@pytest.mark.parametrize("keep", [True, None])
async def test_replay_from_a_subgraph_checkpoint_asks_again_on_a_new_branch(
    anyio_backend: str, store_kind: str, tmp_path: Path, keep: bool | None
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = top(two_questions(ran, keep=keep), saver)
        at_q1 = await asked(graph)
        assert at_q1["configurable"]["checkpoint_map"][""]  # the caller's checkpoint is named
        await graph.ainvoke(Command(resume="yes"), cfg("t"))
        done = await graph.ainvoke(Command(resume="no"), cfg("t"))
        assert done == {"steps": ["prep", "q1=yes", "q2=no"]}
        before = [s.metadata["source"] async for s in graph.aget_state_history(cfg("t"))]

        ran.clear()
        again = await graph.ainvoke(None, at_q1)
        assert [i.value for i in again["__interrupt__"]] == ["q1"]
        assert ran == ["q1"]  # prep ran before that checkpoint: not again
        after = [s async for s in graph.aget_state_history(cfg("t"))]
        assert [s.metadata["source"] for s in after] == ["fork", *before]  # the old branch stays
        assert after[0].next == ("desk",)

        await graph.ainvoke(Command(resume="maybe"), cfg("t"))
        out = await graph.ainvoke(Command(resume="later"), cfg("t"))
        assert out == {"steps": ["prep", "q1=maybe", "q2=later"]}
        assert ran == ["q1", "q1", "q2", "q2"]


async def test_an_answer_addressed_at_a_subgraph_checkpoint(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = top(two_questions(ran, keep=True), saver)
        at_q1 = await asked(graph)
        # replaying the head's own question (nothing moved on) asks it again in place
        again = await graph.ainvoke(None, at_q1)
        assert [i.value for i in again["__interrupt__"]] == ["q1"]
        # ... and an answer addressed at it answers the head
        out = await graph.ainvoke(Command(resume="yes"), at_q1)
        assert [i.value for i in out["__interrupt__"]] == ["q2"]
        assert (await graph.aget_state(await sub_config(graph, "t"))).values == {"steps": ["prep", "q1=yes"]}

        head = await saver.log.head("t")
        with pytest.raises(ResumeError, match="has moved on"):  # q1 is answered already
            await graph.ainvoke(Command(resume="again"), at_q1)
        with pytest.raises(ValueError, match="replayed with invoke"):
            await graph.ainvoke({"steps": ["new"]}, at_q1)
        with pytest.raises(ValueError, match="Subgraph nowhere not found"):
            await graph.ainvoke(None, {"configurable": {**at_q1["configurable"], "checkpoint_ns": "nowhere"}})
        assert await saver.log.head("t") == head  # nothing written


async def test_update_a_subgraph_at_its_checkpoint_then_run_from_it(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = top(two_questions(ran, keep=True), saver)
        at_q1 = await asked(graph)
        await graph.ainvoke(Command(resume="yes"), cfg("t"))
        await graph.ainvoke(Command(resume="no"), cfg("t"))

        ran.clear()
        # as q1 would have answered (its step then plans q2); a new branch from there
        forked = await graph.aupdate_state(at_q1, {"steps": ["q1=edited"]}, as_node="q1")
        conf = forked["configurable"]
        assert conf["checkpoint_ns"] == "desk" and conf["checkpoint_id"] != at_q1["configurable"]["checkpoint_id"]
        assert conf["checkpoint_map"]["desk"] == conf["checkpoint_id"]
        sub = await graph.aget_state(forked)
        assert sub.values == {"steps": ["prep", "q1=edited"]} and sub.next == ("q2",)
        assert sub.metadata["source"] == "update"

        out = await graph.ainvoke(None, forked)
        assert [i.value for i in out["__interrupt__"]] == ["q2"]
        out = await graph.ainvoke(Command(resume="fine"), cfg("t"))
        assert out == {"steps": ["prep", "q1=edited", "q2=fine"]}
        assert ran == ["q2", "q2"]  # neither prep nor q1 ran again

        # without as_node: as the node that wrote last before that checkpoint (prep)
        inferred = await graph.aupdate_state(at_q1, {"steps": ["more"]})
        assert (await graph.aget_state(inferred)).next == ("q1",)


async def test_replay_from_a_subgraph_two_levels_down(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    inner = two_questions(ran, keep=True)
    middle = StateGraph(Trail).add_node("inner", inner).add_edge(START, "inner").compile(checkpointer=True)
    async with open_saver(store_kind, tmp_path) as saver:
        graph = top(middle, saver)
        await graph.ainvoke({"steps": []}, cfg("t"))
        await graph.ainvoke(Command(resume="yes"), cfg("t"))
        at_q2 = await sub_config(graph, "t")
        assert at_q2["configurable"]["checkpoint_ns"] == "desk|inner"
        await graph.ainvoke(Command(resume="no"), cfg("t"))

        ran.clear()
        again = await graph.ainvoke(None, at_q2)
        assert [i.value for i in again["__interrupt__"]] == ["q2"]
        assert ran == ["q2"]
        out = await graph.ainvoke(Command(resume="other"), cfg("t"))
        assert out == {"steps": ["prep", "q1=yes", "q2=other"]}
