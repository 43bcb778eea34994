"""``update_state(values, as_node="__input__")`` makes the checkpoint an input makes.

As LangGraph: an ``input`` checkpoint that plans the values as the ``__start__`` task
(step -1 on a new thread, the next step otherwise), so a thread can be written by hand
turn by turn (``__input__``, ``__start__``, then each node) with the history a run makes.
Every test runs on every store, on asyncio and trio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

from lograph.runtime import START, StateGraph, StateUpdate, verify_thread
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Turn(TypedDict):
    said: str


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def summary(history: list[Any]) -> list[tuple[Any, ...]]:
    return [(s.metadata["source"], s.metadata["step"], s.next, s.values) for s in history]


async def test_written_by_hand_turn_by_turn_as_a_run_writes_it(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Turn).add_node("reply", lambda s: {"said": "reply"})
                 .add_edge(START, "reply").compile(checkpointer=saver))
        await graph.ainvoke({"said": "hi"}, cfg("ran"))
        ran = summary([s async for s in graph.aget_state_history(cfg("ran"))])

        await graph.abulk_update_state(cfg("hand"), [
            [StateUpdate({"said": "hi"}, "__input__")],
            [StateUpdate({"said": "hi"}, "__start__")],
            [StateUpdate({"said": "reply"}, "reply")],
        ])
        hand = summary([s async for s in graph.aget_state_history(cfg("hand"))])
        assert [(step, nxt, values) for _, step, nxt, values in hand] == \
            [(step, nxt, values) for _, step, nxt, values in ran]
        assert hand[-1] == ("input", -1, ("__start__",), {})

        # on a thread with state: the next step; the input waits as the __start__ task
        done = await graph.aupdate_state(cfg("ran"), {"said": "again"}, as_node="__input__")
        state = await graph.aget_state(done)
        assert (state.metadata["source"], state.metadata["step"], state.next) == ("input", 2, ("__start__",))
        assert state.values == {"said": "reply"}
        assert await graph.ainvoke(None, cfg("ran")) == {"said": "reply"}
        assert (await verify_thread(saver, "ran", graph=graph)).ok
