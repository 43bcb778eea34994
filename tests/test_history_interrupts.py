"""History keeps a checkpoint's interrupts after they are answered, as LangGraph's
checkpoints do: find the interrupt in history, fork from there, answer differently.
On every store, asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, Command, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class State(TypedDict):
    log: Annotated[list, operator.add]


def cfg(thread: str, **more: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **more}}


async def first(state: State) -> dict[str, Any]:
    return {"log": ["first"]}


async def ask(state: State) -> dict[str, Any]:
    return {"log": [f"human: {interrupt('name?')}"]}


def asking(saver: Any = None, *, keep: bool = False) -> Any:
    b = StateGraph(State)
    b.add_node("first", first)
    b.add_node("ask", ask)
    b.add_edge(START, "first")
    b.add_edge("first", "ask")
    return b.compile(checkpointer=True if keep else saver)


async def test_an_answered_interrupt_stays_in_history(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking(saver)
        out = await graph.ainvoke({"log": []}, cfg("t"))
        (pending,) = out["__interrupt__"]
        await graph.ainvoke(Command(resume="ada"), cfg("t"))
        assert (await graph.aget_state(cfg("t"))).interrupts == ()  # answered: nothing waits

        history = [s async for s in graph.aget_state_history(cfg("t"))]
        asked = [s for s in history if any(t.interrupts for t in s.tasks)]
        assert len(asked) == 1 and asked[0].next == ("ask",)
        (task,) = asked[0].tasks
        assert task.interrupts == (pending,) and asked[0].interrupts == (pending,)
        assert task.result == {"log": ["human: ada"]}  # and what the answer made
        # the same record by id, and through the saver's read API
        by_id = await graph.aget_state(asked[0].config)
        assert by_id.interrupts == (pending,)
        found = await saver.aget_tuple(asked[0].config)
        assert ("__interrupt__" in {channel for _, channel, _ in found.pending_writes})

        # fork from the interrupt: it asks again, and takes another answer
        forked = await graph.aupdate_state(asked[0].config, {"log": ["forked"]})
        again = await graph.ainvoke(None, forked)
        assert [i.value for i in again["__interrupt__"]] == ["name?"]
        out = await graph.ainvoke(Command(resume="grace"), cfg("t"))
        assert out["log"] == ["first", "forked", "human: grace"]
        # the first branch's record is unchanged
        assert (await graph.aget_state(asked[0].config)).interrupts == (pending,)


async def test_a_subgraphs_answered_interrupt_stays_in_both_histories(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(State)
        b.add_node("team", asking(keep=True))
        b.add_edge(START, "team")
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"log": []}, cfg("t"))
        (pending,) = out["__interrupt__"]
        await graph.ainvoke(Command(resume="ada"), cfg("t"))
        top = [s async for s in graph.aget_state_history(cfg("t")) if s.interrupts]
        assert [s.interrupts for s in top] == [(pending,)]
        sub = [s async for s in graph.aget_state_history(cfg("t", checkpoint_ns="team")) if s.interrupts]
        assert [s.next for s in sub] == [("ask",)] and sub[0].interrupts[0].value == "name?"
