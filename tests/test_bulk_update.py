"""``bulk_update_state``: supersteps of updates, each applied together as one checkpoint
on the one before, in one commit or not at all. On every store, asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import END, START, InvalidUpdateError, StateGraph, StateUpdate, verify_thread
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class State(TypedDict):
    log: Annotated[list, operator.add]
    last: str


def graph_on(saver: Any) -> Any:
    def node(name: str) -> Any:
        async def run(state: State) -> dict[str, Any]:
            return {"log": [name], "last": name}
        return run

    b = StateGraph(State)
    for name in ("a", "b", "c", "d"):
        b.add_node(name, node(name))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("a", "c")
    b.add_edge(["b", "c"], "d")
    b.add_edge("d", END)
    return b.compile(checkpointer=saver)


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def test_single_updates_in_supersteps_match_update_state(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.aupdate_state(cfg("one"), {"log": ["x"], "last": "x"}, as_node="a")
        await graph.aupdate_state(cfg("one"), {"log": ["y"]})  # inferred: "a" wrote last
        config = await graph.abulk_update_state(cfg("bulk"), [
            [StateUpdate({"log": ["x"], "last": "x"}, as_node="a")],
            [StateUpdate({"log": ["y"]})],
        ])
        one, bulk = await graph.aget_state(cfg("one")), await graph.aget_state(cfg("bulk"))
        assert bulk.config == config
        assert bulk.values == one.values == {"log": ["x", "y"], "last": "x"}
        assert bulk.next == one.next == ("b", "c")
        assert [s.metadata["source"] async for s in graph.aget_state_history(cfg("bulk"))] == ["update", "update"]


async def test_updates_of_one_superstep_are_applied_together(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.ainvoke({"log": [], "last": ""}, cfg("t"), interrupt_before=["b", "c"])
        assert (await graph.aget_state(cfg("t"))).next == ("b", "c")
        # b and c "ran" by hand in one superstep: their writes as one step's, then the join
        await graph.abulk_update_state(cfg("t"), [[
            StateUpdate({"log": ["c by hand"], "last": "c"}, as_node="c"),
            StateUpdate({"log": ["b by hand"]}, as_node="b"),
        ]])
        state = await graph.aget_state(cfg("t"))
        assert state.values["log"] == ["a", "b by hand", "c by hand"]  # in task order, b before c
        assert state.next == ("d",)  # the join of b and c is complete
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        assert history[0].metadata["source"] == "update" and history[1].next == ("b", "c")
        out = await graph.ainvoke(None, cfg("t"))
        assert out["log"] == ["a", "b by hand", "c by hand", "d"]
        # the log replays against the graph's code
        verdict = await verify_thread(saver, "t", graph=graph)
        assert verdict.ok and verdict.divergence is None


async def test_bad_bulk_updates_write_nothing(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.aupdate_state(cfg("t"), {"log": ["x"]}, as_node="a")
        before = await saver.log.head("t")
        with pytest.raises(ValueError, match="No supersteps provided"):
            await graph.abulk_update_state(cfg("t"), [])
        with pytest.raises(ValueError, match="at least one update"):
            await graph.abulk_update_state(cfg("t"), [[]])
        with pytest.raises(InvalidUpdateError, match="each as_node"):
            await graph.abulk_update_state(cfg("t"), [[StateUpdate({"log": ["1"]}),
                                                       StateUpdate({"log": ["2"]}, as_node="b")]])
        with pytest.raises(InvalidUpdateError, match="not a node"):
            await graph.abulk_update_state(cfg("t"), [[StateUpdate({"log": ["1"]}, as_node="zz")]])
        with pytest.raises(InvalidUpdateError, match="ambiguous"):
            await graph.abulk_update_state(cfg("t"), [
                [StateUpdate({"log": ["1"]}, as_node="b"), StateUpdate({"log": ["2"]}, as_node="c")],
                [StateUpdate({"log": ["3"]})],
            ])
        with pytest.raises(NotImplementedError, match="task_id"):
            await graph.abulk_update_state(cfg("t"), [[StateUpdate({"log": ["1"]}, "a", "some-task")]])
        with pytest.raises(Exception, match="nope"):  # a key the state lacks, in the 2nd superstep
            await graph.abulk_update_state(cfg("t"), [
                [StateUpdate({"log": ["1"]}, as_node="a")],
                [StateUpdate({"nope": 1}, as_node="b")],
            ])
        assert await saver.log.head("t") == before  # none of them wrote anything
        assert (await graph.aget_state(cfg("t"))).values["log"] == ["x"]


def test_bulk_update_state_sync(tmp_path: Path) -> None:
    from lograph.adapters.memory import MemorySaver

    graph = graph_on(MemorySaver())
    config = graph.bulk_update_state(cfg("t"), [[StateUpdate({"log": ["x"]}, as_node="a")],
                                                [StateUpdate(None, as_node=END)]])
    state = graph.get_state(cfg("t"))
    assert state.config == config and state.next == () and state.values["log"] == ["x"]


async def test_a_copy_with_updates_forks_and_applies_them_as_one_superstep(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        await graph.ainvoke({"log": ["in"], "last": ""}, cfg("copy"), interrupt_before=["b", "c"])
        paused = await graph.aget_state(cfg("copy"))
        assert paused.next == ("b", "c")
        done = await graph.aupdate_state(
            paused.config, [StateUpdate({"log": ["b*"]}, "b"), ({"log": ["c*"], "last": "c*"}, "c")], "__copy__")
        updated = await graph.aget_state(done)
        assert updated.metadata["source"] == "update"
        assert updated.values == {"log": ["in", "a", "b*", "c*"], "last": "c*"}
        assert updated.next == ("d",)
        fork = await graph.aget_state(updated.parent_config)
        assert fork.metadata["source"] == "fork" and fork.values == paused.values
        assert await graph.ainvoke(None, done) == {"log": ["in", "a", "b*", "c*", "d"], "last": "d"}
        assert await graph.aget_state(paused.config) == paused  # the original is left as it was
        with pytest.raises(InvalidUpdateError, match="Invalid update item"):
            await graph.aupdate_state(paused.config, ["not a pair"], "__copy__")


async def test_an_update_as_a_planned_node_is_that_tasks_result_in_history(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        done = await graph.abulk_update_state(cfg("by-hand"), [
            [StateUpdate({"log": []}, "__input__")],
            [StateUpdate({"log": ["in"], "last": "in"}, "__start__")],
            [StateUpdate({"log": ["a by hand"], "last": "a"}, "a")],
        ])
        records = {s.metadata["step"]: s async for s in graph.aget_state_history(cfg("by-hand"))}
        assert [(t.name, t.result) for t in records[-1].tasks] == [("__start__", {"log": ["in"], "last": "in"})]
        assert [(t.name, t.result) for t in records[0].tasks] == [("a", {"log": ["a by hand"], "last": "a"})]
        assert [(t.name, t.result) for t in records[1].tasks] == [("b", None), ("c", None)]
        # the record at a checkpoint id shows it too; the values are the checkpoint's own
        at = await graph.aget_state(records[0].config)
        assert at.values == {"log": ["in"], "last": "in"} and at.tasks[0].result == {"log": ["a by hand"], "last": "a"}
        assert (await graph.aget_state(done)).values["log"] == ["in", "a by hand"]
