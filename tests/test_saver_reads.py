"""LangGraph's saver read API on lograph's stores: get_tuple, list, get, copy_thread.

The answers are folds of the log, and they agree with the graph's own views
(``get_state``, ``get_state_history``); writing through ``put``/``put_writes`` is
refused with nothing written.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import verify_chain
from lograph.runtime import START, Command, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class State(TypedDict):
    log: Annotated[list, operator.add]
    answer: str


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def graph_on(saver: Any) -> Any:
    def plan(state: State) -> dict[str, Any]:
        return {"log": ["plan"]}

    def ask(state: State) -> dict[str, Any]:
        return {"answer": interrupt("ok?"), "log": ["ask"]}

    b = StateGraph(State)
    b.add_node("plan", plan)
    b.add_node("ask", ask)
    b.add_edge(START, "plan")
    b.add_edge("plan", "ask")
    return b.compile(checkpointer=saver)


async def test_get_tuple_is_the_checkpoint_get_state_shows(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.ainvoke({"log": []}, {"configurable": {"thread_id": "t"}, "metadata": {"user": "ann"}})
        state = await graph.aget_state(cfg("t"))
        found = await saver.aget_tuple(cfg("t"))
        assert found is not None
        assert found.config == state.config and found.parent_config == state.parent_config
        assert found.checkpoint["id"] == state.config["configurable"]["checkpoint_id"]
        assert found.checkpoint["channel_values"] == {"log": ["plan"], "branch:to:ask": None}  # as LangGraph's
        assert found.checkpoint["ts"] == state.created_at
        assert found.metadata["source"] == "loop" and found.metadata["user"] == "ann"
        assert found.metadata["step"] == state.metadata["step"]
        # the open step's pending interrupt, as LangGraph's pending writes carry it
        [(task_id, channel, (pending,))] = found.pending_writes
        assert channel == "__interrupt__" and pending.value == "ok?"
        assert task_id == state.tasks[0].id
        assert await saver.aget(cfg("t")) == found.checkpoint


async def test_list_is_the_history_newest_first(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.ainvoke({"log": []}, cfg("t"))
        await graph.ainvoke(Command(resume="yes"), cfg("t"))
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        listed = [t async for t in saver.alist(cfg("t"))]
        assert [t.config for t in listed] == [s.config for s in history]
        assert next(t.checkpoint["channel_values"] for t in listed) == {"log": ["plan", "ask"], "answer": "yes"}
        assert [t.config for t in [x async for x in saver.alist(cfg("t"), limit=2)]] == [s.config for s in history[:2]]
        below = [t async for t in saver.alist(cfg("t"), before=history[1].config)]
        assert [t.config for t in below] == [s.config for s in history[2:]]
        inputs = [t async for t in saver.alist(cfg("t"), filter={"source": "input"})]
        assert [t.metadata["source"] for t in inputs] == ["input"]
        older = history[2].config["configurable"]["checkpoint_id"]
        at = await saver.aget_tuple(cfg("t", older))
        assert at is not None and at.config == history[2].config
        assert [t.config for t in [x async for x in saver.alist(cfg("t", older))]] == [history[2].config]


async def test_what_does_not_exist_is_none(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        await graph_on(saver).ainvoke({"log": []}, cfg("t"))
        assert await saver.aget_tuple(cfg("nobody")) is None
        assert await saver.aget_tuple(cfg("t", "00000000-0000-0999-0000-000000000000")) is None
        assert [t async for t in saver.alist(cfg("nobody"))] == []


async def test_writing_through_the_saver_is_refused(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    from lograph.runtime import WriteRefusedError

    async with open_saver(store_kind, tmp_path) as saver:
        with pytest.raises(WriteRefusedError, match="only the runtime"):
            await saver.aput(cfg("t"), {"id": "x"}, {}, {})
        with pytest.raises(TypeError, match="update_state"):
            await saver.aput_writes(cfg("t"), [("a", 1)], "task")
        assert await saver.log.read("t") == []


async def test_copy_thread_makes_a_thread_that_verifies(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.ainvoke({"log": []}, cfg("src"))
        await saver.acopy_thread("src", "dst")
        copied, original = await saver.log.read("dst"), await saver.log.read("src")
        # re-sealed into dst's chain (chains are bound to their thread): it verifies there only
        assert verify_chain("dst", copied).ok and not verify_chain("src", copied).ok
        assert [(e.seq, e.parent, e.kind, e.run_id, e.ts) for e in copied] == [
            (e.seq, e.parent, e.kind, e.run_id, e.ts) for e in original]
        source, target = await graph.aget_state(cfg("src")), await graph.aget_state(cfg("dst"))
        assert (target.values, target.next) == (source.values, source.next)
        # its checkpoints keep their ids, as LangGraph's copies do
        ids = [s.config["configurable"]["checkpoint_id"]
               async for s in graph.aget_state_history(cfg("src"))]
        assert [s.config["configurable"]["checkpoint_id"]
                async for s in graph.aget_state_history(cfg("dst"))] == ids
        assert target.config["configurable"]["checkpoint_id"] == ids[0]
        assert (await graph.aget_state(cfg("dst", ids[-1]))).values == (
            await graph.aget_state(cfg("src", ids[-1]))).values
        assert [i.id for i in target.interrupts] == [i.id for i in source.interrupts]
        out = await graph.ainvoke(Command(resume="yes"), cfg("dst"))  # the copy runs on its own
        assert out["answer"] == "yes" and (await graph.aget_state(cfg("src"))).next == ("ask",)
        with pytest.raises(ValueError, match="already has events"):
            await saver.acopy_thread("src", "dst")
        with pytest.raises(ValueError, match="no events"):
            await saver.acopy_thread("nobody", "other")


def test_the_sync_read_api(tmp_path: Path) -> None:
    from lograph.adapters.memory import MemorySaver

    saver = MemorySaver()
    graph_on(saver).invoke({"log": []}, cfg("t"))
    found = saver.get_tuple(cfg("t"))
    assert found is not None and found.checkpoint["channel_values"] == {"log": ["plan"], "branch:to:ask": None}
    assert next(t.config for t in saver.list(cfg("t"))) == found.config
    assert saver.get(cfg("t")) == found.checkpoint
    saver.copy_thread("t", "u")
    assert saver.get_tuple(cfg("u")) is not None
