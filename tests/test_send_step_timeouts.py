"""A ``Send``'s own timeout, and ``step_timeout`` over sync nodes (LangGraph 1.2.24's).

``Send(node, arg, timeout=...)`` limits the task it makes instead of the node's
``timeout=``; it is kept in the log with the Send, so a resumed run applies it too. A
graph's ``step_timeout`` fails the step with ``TimeoutError`` also when a sync node
(which runs in a thread that cannot be stopped) overruns it: the node's result is
dropped, so the node runs again when the thread is resumed.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Kind
from lograph.runtime import (
    END,
    START,
    NodeTimeoutError,
    Send,
    StateGraph,
    TimeoutPolicy,
    verify_thread,
)
from tests._stores import open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


class Count(TypedDict, total=False):
    n: int
    m: int


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def fan_out(limit: Any, *, node_limit: Any = None, pause: float = 0.2) -> StateGraph:
    """START sends one packet to "slow", which sleeps ``pause`` seconds."""
    async def slow(state: Count) -> dict[str, Any]:
        await anyio.sleep(pause)
        return {"n": state["n"] + 1}

    builder = StateGraph(Count)
    builder.add_node("slow", slow, timeout=node_limit)
    builder.add_conditional_edges(START, lambda s: [Send("slow", s, timeout=limit)])
    builder.add_edge("slow", END)
    return builder


async def test_a_sends_timeout_replaces_its_nodes(anyio_backend: str) -> None:
    graph = fan_out(TimeoutPolicy(idle_timeout=0.05), node_limit=TimeoutPolicy(idle_timeout=5)).compile()
    with pytest.raises(NodeTimeoutError) as info:
        await graph.ainvoke({"n": 1})
    assert (info.value.node, info.value.kind, info.value.idle_timeout) == ("slow", "idle", 0.05)
    # a longer one lets a node with a short timeout of its own finish
    roomy = fan_out(5.0, node_limit=0.05).compile()
    assert await roomy.ainvoke({"n": 1}) == {"n": 2}
    # no timeout on the Send: the node's applies
    with pytest.raises(NodeTimeoutError) as info:
        await fan_out(None, node_limit=0.05).compile().ainvoke({"n": 1})
    assert (info.value.kind, info.value.run_timeout) == ("run", 0.05)


def test_a_sends_timeout_as_langgraph_takes_it() -> None:
    assert Send("x", 1, timeout=2).timeout == TimeoutPolicy(run_timeout=2.0)
    assert Send("x", 1, timeout=timedelta(seconds=3)).timeout == TimeoutPolicy(run_timeout=3.0)
    assert Send("x", 1).timeout is None
    assert repr(Send("x", 1)) == "Send(node='x', arg=1)"
    assert "timeout=TimeoutPolicy(run_timeout=2.0" in repr(Send("x", 1, timeout=2))
    assert Send("x", 1, timeout=2) != Send("x", 1)
    assert len({Send("x", 1, timeout=2), Send("x", 1, timeout=2.0), Send("x", 1)}) == 2
    with pytest.raises(ValueError, match="greater than 0"):
        Send("x", 1, timeout=0)


async def test_a_send_with_a_timeout_to_a_sync_node_is_refused(anyio_backend: str) -> None:
    ran: list[int] = []
    builder = StateGraph(Count)
    builder.add_node("plain", lambda s: ran.append(1) or {"n": 1})
    builder.add_conditional_edges(START, lambda s: [Send("plain", s, timeout=1.0)])
    with pytest.raises(ValueError, match="only supported for async nodes"):
        await builder.compile().ainvoke({"n": 0})
    assert ran == []


async def test_a_sends_timeout_is_kept_for_a_resumed_run(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = fan_out(TimeoutPolicy(run_timeout=0.05)).compile(
            checkpointer=saver, interrupt_before=["slow"])
        assert await graph.ainvoke({"n": 1}, cfg("t")) == {"n": 1}  # paused before "slow"
        # another process: the same graph, built again, resumes the packet
        again = fan_out(TimeoutPolicy(run_timeout=0.05)).compile(checkpointer=saver)
        with pytest.raises(NodeTimeoutError) as info:
            await again.ainvoke(None, cfg("t"))
        assert (info.value.kind, info.value.run_timeout) == ("run", 0.05)
        failed = bodies(await saver.log.read("t"), Kind.NODE_FAILED)
        assert [f["type"] for f in failed] == ["NodeTimeoutError"]
        assert (await verify_thread(saver, "t", graph=again)).ok


def slow_and_fast(pause: float, done: list[str]) -> StateGraph:
    def slow(state: Count) -> dict[str, Any]:
        time.sleep(pause)
        done.append("slow")
        return {"n": 1}

    builder = StateGraph(Count)
    builder.add_node("slow", slow)
    builder.add_node("fast", lambda s: {"m": 1})
    builder.add_edge(START, "slow")
    builder.add_edge(START, "fast")
    return builder


async def test_a_sync_node_past_the_step_timeout_fails_the_step(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    done: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = slow_and_fast(0.3, done).compile(checkpointer=saver)
        graph.step_timeout = 0.05
        with pytest.raises(TimeoutError):
            await graph.ainvoke({}, cfg("t"), durability="sync")
        assert done == ["slow"]  # it ran to its end; what it returned was not taken
        state = await graph.aget_state(cfg("t"))
        assert state.values == {"m": 1} and state.next == ("slow",)
        finished = bodies(await saver.log.read("t"), Kind.RUN_FINISHED)
        assert finished[-1]["status"] == "failed" and "TimeoutError" in finished[-1]["error"]
        graph.step_timeout = 5
        assert await graph.ainvoke(None, cfg("t")) == {"n": 1, "m": 1}
        assert done == ["slow", "slow"]


def test_a_sync_node_within_the_step_timeout_is_kept() -> None:
    done: list[str] = []
    graph = slow_and_fast(0.01, done).compile()
    graph.step_timeout = 5
    assert graph.invoke({}) == {"n": 1, "m": 1}
    slow = slow_and_fast(0.3, done).compile()
    slow.step_timeout = 0.05
    with pytest.raises(TimeoutError):
        slow.invoke({})
