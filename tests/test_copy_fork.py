"""``update_state(config, ..., as_node="__copy__")`` makes a checkpoint *beside* the one it
copies: the same parent, so a history drawn as a tree shows the copy as a second branch
from that parent (a copy of a root is another root), as LangGraph 1.2.24 does. On every
store, asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import END, START, StateGraph, StateUpdate, verify_thread
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class State(TypedDict):
    trail: Annotated[list, operator.add]


def chain(saver: Any) -> Any:
    b = StateGraph(State)
    b.add_node("first", lambda s: {"trail": ["first"]})
    b.add_node("second", lambda s: {"trail": ["second"]})
    b.add_edge(START, "first")
    b.add_edge("first", "second")
    b.add_edge("second", END)
    return b.compile(checkpointer=saver)


async def ran(graph: Any, thread: str) -> tuple[dict[str, Any], list[Any], Any]:
    """Run ``graph`` once on ``thread``: its config, its history and the checkpoint between
    the two nodes."""
    config = {"configurable": {"thread_id": thread}}
    await graph.ainvoke({"trail": ["go"]}, config)
    history = [s async for s in graph.aget_state_history(config)]
    return config, history, next(s for s in history if s.next == ("second",))


def ident(config: dict[str, Any] | None) -> str | None:
    return None if config is None else config["configurable"]["checkpoint_id"]


async def test_a_copy_has_the_parent_of_the_checkpoint_it_copies(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver)
        thread, history, middle = await ran(graph, "copies")

        copied = await graph.aupdate_state(middle.config, None, as_node="__copy__")
        copy = await graph.aget_state(copied)
        assert ident(copy.parent_config) == ident(middle.parent_config) is not None
        assert ident(copy.config) != ident(middle.config)
        assert (copy.values, copy.next) == (middle.values, middle.next)
        assert copy.metadata["source"] == "fork" and copy.metadata["step"] == middle.metadata["step"] + 1
        # the saver's reads say the same
        stored = await saver.aget_tuple(copied)
        assert ident(stored.parent_config) == ident(middle.parent_config)

        # a run from the copy hangs its checkpoints under the copy
        assert await graph.ainvoke(None, copied) == {"trail": ["go", "first", "second"]}
        after = await graph.aget_state(thread)
        assert ident(after.parent_config) == ident(copied)
        assert await graph.aget_state(middle.config) == middle  # the original is unchanged

        # a copy of the thread's first checkpoint (it has no parent) is a second root
        root = history[-1]
        assert root.parent_config is None
        again = await graph.aget_state(await graph.aupdate_state(root.config, None, as_node="__copy__"))
        assert again.parent_config is None and again.next == ("__start__",)
        assert (await verify_thread(saver, "copies", graph=graph)).ok


async def test_updates_given_with_a_copy_go_on_the_copy(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver)
        _, _, middle = await ran(graph, "copy-and-update")
        done = await graph.aupdate_state(middle.config, [StateUpdate({"trail": ["by hand"]}, "first")], "__copy__")
        updated = await graph.aget_state(done)
        copy = await graph.aget_state(updated.parent_config)
        assert copy.metadata["source"] == "fork"
        assert ident(copy.parent_config) == ident(middle.parent_config)
        assert updated.values == {"trail": ["go", "first", "by hand"]}
