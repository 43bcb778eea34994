"""A step that runs one task keeps a task group's promises for the calls the task starts.

Such a step runs its task without a task group of its own (``runtime/_lone.py``); the
``@task`` calls the task starts run in a group that outlives the step. Still:
- the step ends only once every call it started has ended, awaited or not (in a graph,
  in an entrypoint, and in a subgraph's step);
- a task that fails stops the calls it left running;
- a call that fails under its caller (its cache fails, not the call itself) fails the
  step with that error: the caller does not take it for its own error (no retry), and
  the step's other running calls are stopped;
- a step stopped by its step timeout stops the calls still running.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, TypedDict

import anyio
import pytest

from lograph.adapters.memory import InMemoryCache, InMemorySaver
from lograph.runtime import END, START, CachePolicy, RetryPolicy, StateGraph, entrypoint, task
from tests._stores import open_saver


class S(TypedDict, total=False):
    seen: list[str]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def one_node(name: str, fn: Any, **node: Any) -> StateGraph:
    """A graph of one node ``name`` running ``fn`` (``node``: add_node's options)."""
    g = StateGraph(S)
    g.add_node(name, fn, **node)
    g.add_edge(START, name)
    return g


def watched(seen: Counter[str], delay: float = 0.05) -> Any:
    """A task that takes ``delay`` seconds and counts how it ended in ``seen``."""

    @task
    async def slow(name: str) -> str:
        seen[f"started {name}"] += 1
        try:
            await anyio.sleep(delay)
        except anyio.get_cancelled_exc_class():
            seen[f"stopped {name}"] += 1
            raise
        seen[f"done {name}"] += 1
        return name

    return slow


@pytest.mark.anyio
async def test_a_one_task_step_ends_after_the_calls_it_did_not_await(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    seen: Counter[str] = Counter()
    slow = watched(seen)

    async def starts(state: S) -> S:
        slow("x")  # never awaited
        return {}

    async def reads(state: S) -> S:
        return {"seen": sorted(seen)}  # the step before it has ended: so has its call

    g = StateGraph(S)
    g.add_node("starts", starts)
    g.add_node("reads", reads)
    g.add_edge(START, "starts")
    g.add_edge("starts", "reads")
    g.add_edge("reads", END)
    async with open_saver(store_kind, tmp_path) as saver:
        out = await g.compile(checkpointer=saver).ainvoke({"seen": []}, cfg("t"))
        assert out == {"seen": ["done x", "started x"]}

        @entrypoint(checkpointer=saver)
        async def flow(n: int) -> int:
            slow("y")
            return n

        assert await flow.ainvoke(1, cfg("f")) == 1
        assert seen["done y"] == 1  # ainvoke returned after the call ended


@pytest.mark.anyio
async def test_a_subgraphs_one_task_step_waits_for_its_calls(anyio_backend: str) -> None:
    seen: Counter[str] = Counter()
    slow = watched(seen)

    async def starts(state: S) -> S:
        slow("inner")
        return {}

    async def reads(state: S) -> S:
        return {"seen": sorted(seen)}

    inner = StateGraph(S)
    inner.add_node("starts", starts)
    inner.add_node("reads", reads)
    inner.add_edge(START, "starts")
    inner.add_edge("starts", "reads")
    sub = inner.compile()

    async def runs_it(state: S) -> S:
        return await sub.ainvoke(state)

    outer = StateGraph(S)
    outer.add_node("runs_it", runs_it)
    outer.add_edge(START, "runs_it")
    out = await outer.compile(checkpointer=InMemorySaver()).ainvoke({"seen": []}, cfg("t"))
    assert out == {"seen": ["done inner", "started inner"]}


@pytest.mark.anyio
async def test_a_failing_task_stops_the_calls_it_left_running(anyio_backend: str) -> None:
    seen: Counter[str] = Counter()
    slow = watched(seen, delay=5)

    async def fails(state: S) -> S:
        slow("left")
        await anyio.sleep(0.05)  # the call is running
        raise ValueError("node failed")

    graph = one_node("fails", fails).compile(checkpointer=InMemorySaver())
    with anyio.fail_after(3):
        with pytest.raises(ValueError, match="node failed"):
            await graph.ainvoke({"seen": []}, cfg("t"))
    assert seen == {"started left": 1, "stopped left": 1}


class BrokenCache(InMemoryCache):
    async def aget(self, keys: Any) -> Any:
        raise OSError("cache is down")


@pytest.mark.anyio
async def test_a_call_failing_under_its_caller_fails_the_step_not_the_caller(
    anyio_backend: str,
) -> None:
    seen: Counter[str] = Counter()
    slow = watched(seen, delay=5)
    runs: Counter[str] = Counter()

    @task(cache_policy=CachePolicy())
    async def cached(n: int) -> int:
        return n

    async def caller(state: S) -> S:
        runs["caller"] += 1
        slow("sibling")
        await anyio.sleep(0.05)  # the sibling call is running
        try:
            await cached(1)  # its cache lookup fails: not this node's error
        except Exception:  # noqa: BLE001 - the node cannot swallow it
            runs["caught"] += 1
        return {}

    retry = RetryPolicy(max_attempts=3, initial_interval=0.01)
    graph = one_node("caller", caller, retry_policy=retry).compile(
        checkpointer=InMemorySaver(), cache=BrokenCache())
    with anyio.fail_after(3):  # (the caller must not wait forever on its call)
        with pytest.raises(OSError, match="cache is down"):
            await graph.ainvoke({"seen": []}, cfg("t"))
    assert runs == {"caller": 1}  # neither caught nor retried
    assert seen == {"started sibling": 1, "stopped sibling": 1}


@pytest.mark.anyio
async def test_a_step_timeout_stops_the_calls_still_running(anyio_backend: str) -> None:
    seen: Counter[str] = Counter()
    slow = watched(seen, delay=5)

    async def waits(state: S) -> S:
        slow("long")
        await anyio.sleep(5)
        return {}

    graph = one_node("waits", waits).compile(checkpointer=InMemorySaver())
    graph.step_timeout = 0.2
    with anyio.fail_after(3):
        with pytest.raises(TimeoutError):
            await graph.ainvoke({"seen": []}, cfg("t"))
    assert seen == {"started long": 1, "stopped long": 1}
