"""Scheduling: deferred nodes (``add_node(defer=True)``).

A deferred node that was triggered waits until a step plans no other node, then runs
once (LangGraph's ``LastValueAfterFinish`` channels). The wait is a decision of the
step machine recorded in the checkpoint, so a resumed, crashed or verified thread
makes the same one. Expected values were produced by the same programs on LangGraph
1.2.24.
"""

from __future__ import annotations

import operator
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Kind
from lograph.eventlog.testing import FaultyLog, is_crash
from lograph.runtime import END, START, Checkpointer, Send, StateGraph, verify_thread
from tests._stores import open_log, open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def fan_in(runs: Counter[str] | None = None, *, join: bool = False) -> StateGraph:
    """a -> (b -> d, c) -> summary (deferred): the long branch takes two steps."""
    runs = Counter() if runs is None else runs

    def node(name: str) -> Any:
        async def run(state: Log) -> dict[str, Any]:
            runs[name] += 1
            await anyio.lowlevel.checkpoint()
            return {"log": [name]}

        return run

    builder = StateGraph(Log)
    for name in "abcd":
        builder.add_node(name, node(name))
    builder.add_node("summary", node("summary"), defer=True)
    edges: list[tuple[Any, str]] = [(START, "a"), ("a", "b"), ("a", "c"), ("b", "d"), ("summary", END)]
    edges += [(["d", "c"], "summary")] if join else [("d", "summary"), ("c", "summary")]
    for source, target in edges:
        builder.add_edge(source, target)
    return builder


@pytest.mark.parametrize("join", [False, True])
async def test_deferred_node_runs_once_after_every_branch(anyio_backend: str, join: bool) -> None:
    runs: Counter[str] = Counter()
    graph = fan_in(runs, join=join).compile()
    chunks = [c async for c in graph.astream({"log": []})]
    names = [next(iter(c)) for c in chunks]  # (b and c finish in either order)
    assert names[0] == "a" and sorted(names[1:3]) == ["b", "c"] and names[3:] == ["d", "summary"]
    assert runs["summary"] == 1  # without defer it would run after c and again after d


async def test_a_send_does_not_hold_back_a_deferred_node(anyio_backend: str) -> None:
    builder = StateGraph(Log)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_node("x", lambda s: {"log": ["x"]})
    builder.add_node("y", lambda s: {"log": ["y"]})
    builder.add_node("late", lambda s: {"log": ["late"]}, defer=True)
    builder.add_edge(START, "a")
    builder.add_edge("a", "late")
    builder.add_conditional_edges("a", lambda s: [Send("x", s)])
    builder.add_edge("x", "y")
    # as LangGraph: a step that plans only Send packets lets the deferred node go
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["a", "late", "x", "y"]}


async def test_a_deferred_node_can_loop_back(anyio_backend: str) -> None:
    builder = StateGraph(Log)
    builder.add_node("work", lambda s: {"log": ["work"]})
    builder.add_node("check", lambda s: {"log": ["check"]}, defer=True)
    builder.add_edge(START, "work")
    builder.add_edge("work", "check")
    builder.add_conditional_edges("check", lambda s: "work" if s["log"].count("check") < 2 else END)
    out = await builder.compile().ainvoke({"log": []})
    assert out == {"log": ["work", "check", "work", "check"]}


async def test_the_wait_survives_a_pause_and_a_new_process(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    runs: Counter[str] = Counter()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = fan_in(runs).compile(checkpointer=saver, interrupt_after=["c"])
        await graph.ainvoke({"log": []}, cfg("t"))
        state = await graph.aget_state(cfg("t"))
        assert state.next == ("d",)  # summary waits; only the long branch is planned
        # another process on the same store continues the thread
        again = fan_in(runs).compile(checkpointer=Checkpointer(saver.log))
        out = await again.ainvoke(None, cfg("t"))
        assert out == {"log": ["a", "b", "c", "d", "summary"]}
        assert runs["summary"] == 1
        assert (await verify_thread(saver, "t", graph=again)).ok
        history = [s.next async for s in again.aget_state_history(cfg("t"))]
        assert history == [(), ("summary",), ("d",), ("b", "c"), ("a",), ("__start__",)]


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_a_crash_before_the_deferred_node_resumes_it_once(
    anyio_backend: str, store_kind: str, tmp_path: Path, mode: str,
) -> None:
    async with open_log(store_kind, tmp_path) as inner:
        counting = FaultyLog(inner)
        await fan_in().compile(checkpointer=Checkpointer(counting)).ainvoke(
            {"log": []}, cfg("count"), durability=mode)
        batches = counting.calls
        for at in range(1, batches + 1):
            thread = f"t{at}"
            runs: Counter[str] = Counter()
            faulty = FaultyLog(inner, at=at)
            try:
                await fan_in(runs).compile(checkpointer=Checkpointer(faulty)).ainvoke(
                    {"log": []}, cfg(thread), durability=mode)
            except BaseException as e:
                if not is_crash(e):
                    raise
            graph = fan_in(runs).compile(checkpointer=Checkpointer(inner))
            if (await graph.aget_state(cfg(thread))).values:
                out = await graph.ainvoke(None, cfg(thread), durability=mode)
            else:
                out = await graph.ainvoke({"log": []}, cfg(thread), durability=mode)
            assert sorted(out["log"]) == ["a", "b", "c", "d", "summary"], f"crash at #{at}"
            assert out["log"][-1] == "summary"
            events = await inner.read(thread)
            written = [b["name"] for b in bodies(events, Kind.NODE_WRITES)]
            assert written.count("summary") == 1, f"crash at #{at}: {written}"
