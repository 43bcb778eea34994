"""A graph run without a checkpointer keeps nothing, so (as in LangGraph) its state may
hold any Python object: nothing is encoded. With a checkpointer the same input is
refused before anything is written, naming the key.
"""

import threading
from pathlib import Path
from typing import Any, TypedDict

import pytest

from lograph.eventlog import EncodeError
from lograph.runtime import START, StateGraph
from tests._stores import open_saver


class Holder(TypedDict, total=False):
    text: str
    lock: Any


def graph_builder() -> StateGraph:
    def shout(state: Holder) -> dict[str, Any]:
        assert state["lock"] is lock  # the very object given, not a copy
        return {"text": state["text"].upper(), "lock": state["lock"]}

    builder = StateGraph(Holder)
    builder.add_node("shout", shout)
    builder.add_edge(START, "shout")
    return builder


lock = threading.Lock()  # a value the codec cannot store


@pytest.mark.anyio
async def test_a_run_without_a_checkpointer_takes_any_object(anyio_backend: str) -> None:
    graph = graph_builder().compile()
    assert await graph.ainvoke({"text": "hi", "lock": lock}) == {"text": "HI", "lock": lock}
    chunks = [c async for c in graph.astream({"text": "a", "lock": lock}, stream_mode="values")]
    assert chunks == [{"text": "a", "lock": lock}, {"text": "A", "lock": lock}]


def test_a_run_without_a_checkpointer_takes_any_object_sync() -> None:
    assert graph_builder().compile().invoke({"text": "x", "lock": lock}) == {"text": "X", "lock": lock}


@pytest.mark.anyio
async def test_a_stored_run_refuses_it_before_writing(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_builder().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "locked"}}
        with pytest.raises(EncodeError, match="lock"):
            await graph.ainvoke({"text": "hi", "lock": lock}, config)
        assert [s async for s in graph.aget_state_history(config)] == []


@pytest.mark.anyio
async def test_a_checkpoint_named_in_the_config_is_not_looked_up(anyio_backend: str) -> None:
    # (nothing was kept to go back to: the run starts from its input, as in LangGraph)
    graph = graph_builder().compile()
    config = {"configurable": {"thread_id": "t", "checkpoint_id": "not-a-checkpoint", "checkpoint_ns": "x"}}
    assert await graph.ainvoke({"text": "hi", "lock": lock}, config) == {"text": "HI", "lock": lock}
