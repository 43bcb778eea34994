"""Scheduling: deferred nodes, error handlers and timeouts of nodes and tasks.

A deferred node that was triggered waits until a step plans no other node, then runs
once (LangGraph's ``LastValueAfterFinish`` channels). The wait is a decision of the
step machine recorded in the checkpoint, so a resumed, crashed or verified thread
makes the same one. Expected values were produced by the same programs on LangGraph
1.2.24.
"""

from __future__ import annotations

import operator
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Kind
from lograph.eventlog.testing import FaultyLog, is_crash
from lograph.runtime import (
    DEFAULT_RUNTIME,
    END,
    START,
    Checkpointer,
    Command,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    RetryPolicy,
    Runtime,
    Send,
    StateGraph,
    TimeoutPolicy,
    entrypoint,
    get_stream_writer,
    interrupt,
    task,
    verify_thread,
)
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


# --- error handlers (add_node(error_handler=...), set_node_defaults) ------------------------


class Box(TypedDict, total=False):
    log: Annotated[list, operator.add]
    note: str


def broken(state: Box) -> dict[str, Any]:
    raise RuntimeError("broken")


def failing_graph(handler: Any, *, retry: Any = None) -> StateGraph:
    """START -> (bad, good); bad -> after. bad always fails; ``handler`` handles it."""
    builder = StateGraph(Box)
    builder.add_node("bad", broken, error_handler=handler, retry_policy=retry)
    builder.add_node("good", lambda s: {"log": ["good"]})
    builder.add_node("after", lambda s: {"log": ["after"]})
    builder.add_node("rescue", lambda s: {"log": ["rescue"]})
    for source, target in ((START, "bad"), (START, "good"), ("bad", "after")):
        builder.add_edge(source, target)
    return builder


async def test_an_error_handler_stands_in_for_the_failed_node(anyio_backend: str) -> None:
    seen: list[Any] = []

    async def handler(state: Box, error: NodeError) -> Any:
        seen.append((error.node, repr(error.error), state))
        return Command(update={"log": ["handled"], "note": error.node}, goto="rescue")

    retry = RetryPolicy(max_attempts=2, initial_interval=0, jitter=False, retry_on=RuntimeError)
    graph = failing_graph(handler, retry=retry).compile()
    chunks = [c async for c in graph.astream({"log": []}, stream_mode="updates")]
    assert seen == [("bad", "RuntimeError('broken')", {"log": []})]  # after both attempts
    assert {"__error_handler__bad": {"log": ["handled"], "note": "bad"}} in chunks
    # its routing replaces the failed node's edges: "after" does not run, "rescue" does
    assert await graph.ainvoke({"log": []}) == {"log": ["handled", "good", "rescue"], "note": "bad"}


async def test_a_failing_handler_fails_the_run(anyio_backend: str) -> None:
    def handler(state: Box) -> Any:
        raise ValueError("the handler broke too")

    with pytest.raises(ValueError, match="the handler broke too"):
        await failing_graph(handler).compile().ainvoke({"log": []})


async def test_node_defaults_give_every_node_a_handler_and_a_policy(anyio_backend: str) -> None:
    calls: Counter[str] = Counter()

    def flaky(state: Box) -> dict[str, Any]:
        calls["flaky"] += 1
        raise ConnectionError("down")

    def fallback(state: Box, error: NodeError) -> dict[str, Any]:
        return {"log": [f"fallback for {error.node}"]}

    builder = StateGraph(Box).set_node_defaults(
        retry_policy=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False),
        error_handler=fallback,
    )
    builder.add_node("flaky", flaky)
    builder.add_node("own", broken, error_handler=lambda s: {"log": ["own handler"]})
    builder.add_edge(START, "flaky")
    builder.add_edge(START, "own")
    out = await builder.compile().ainvoke({"log": []})
    assert out == {"log": ["fallback for flaky", "own handler"]}
    assert calls["flaky"] == 3  # the default policy applied before the handler took over


async def test_a_handler_in_another_process_gets_the_recorded_error(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    calls: Counter[str] = Counter()

    def counted_broken(state: Box) -> dict[str, Any]:
        calls["bad"] += 1
        raise RuntimeError("broken")

    def asks(state: Box, error: NodeError) -> dict[str, Any]:
        answer = interrupt(f"{error.node} failed: {error.error}")
        return {"log": [f"{answer} ({type(error.error).__name__})"]}

    def build(saver: Any) -> Any:
        builder = StateGraph(Box)
        builder.add_node("bad", counted_broken, error_handler=asks)
        builder.add_edge(START, "bad")
        return builder.compile(checkpointer=saver)

    async with open_saver(store_kind, tmp_path) as saver:
        out = await build(saver).ainvoke({"log": []}, cfg("t"))
        assert out["__interrupt__"][0].value == "bad failed: broken"
        graph = build(Checkpointer(saver.log))  # a new process: the exception is gone
        out = await graph.ainvoke(Command(resume="fixed"), cfg("t"))
        assert out == {"log": ["fixed (RecordedError)"]}
        assert calls["bad"] == 1  # the failed node did not run again
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_crash_around_a_handled_failure_resumes_to_the_same_end(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    def handler(state: Box) -> dict[str, Any]:
        return {"log": ["handled"]}

    async with open_log(store_kind, tmp_path) as inner:
        counting = FaultyLog(inner)
        want = await failing_graph(handler).compile(checkpointer=Checkpointer(counting)).ainvoke(
            {"log": []}, cfg("count"), durability="sync")
        for at in range(1, counting.calls + 1):
            faulty = FaultyLog(inner, at=at)
            try:
                await failing_graph(handler).compile(checkpointer=Checkpointer(faulty)).ainvoke(
                    {"log": []}, cfg(f"t{at}"), durability="sync")
            except BaseException as e:
                if not is_crash(e):
                    raise
            graph = failing_graph(handler).compile(checkpointer=Checkpointer(inner))
            started = (await graph.aget_state(cfg(f"t{at}"))).values
            out = await graph.ainvoke(None if started else {"log": []}, cfg(f"t{at}"), durability="sync")
            assert out == want, f"crash at #{at}"
            written = [b["name"] for b in bodies(await inner.read(f"t{at}"), Kind.NODE_WRITES)]
            assert written.count("__error_handler__bad") == 1, f"crash at #{at}: {written}"


# --- timeouts ----------------------------------------------------------------------------


class Count(TypedDict, total=False):
    n: int


def timed_graph(node: Any, **kw: Any) -> Any:
    builder = StateGraph(Count)
    builder.add_node("slow", node, **kw)
    builder.add_edge(START, "slow")
    return builder.compile()


async def test_a_run_timeout_stops_the_attempt(anyio_backend: str) -> None:
    async def slow(state: Count) -> dict[str, Any]:
        await anyio.sleep(5)
        return {"n": 1}

    with pytest.raises(NodeTimeoutError) as info:
        await timed_graph(slow, timeout=0.05).ainvoke({"n": 0})
    assert (info.value.node, info.value.kind, info.value.timeout) == ("slow", "run", 0.05)
    assert info.value.run_timeout == 0.05 and info.value.idle_timeout is None


async def test_progress_keeps_an_idle_timeout_from_firing(anyio_backend: str) -> None:
    async def busy(state: Count) -> dict[str, Any]:
        write = get_stream_writer()
        for i in range(6):
            await anyio.sleep(0.03)
            write(i)  # progress, each well within the idle limit
        return {"n": 1}

    graph = timed_graph(busy, timeout=TimeoutPolicy(idle_timeout=0.1))
    assert await graph.ainvoke({"n": 0}) == {"n": 1}
    # with heartbeats only, stream writes are not progress
    strict = timed_graph(busy, timeout=TimeoutPolicy(idle_timeout=0.1, refresh_on="heartbeat"))
    with pytest.raises(NodeTimeoutError) as info:
        await strict.ainvoke({"n": 0})
    assert info.value.kind == "idle"


async def test_a_timeout_is_retried_and_recorded(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    attempts: list[int] = []

    async def once_slow(state: Count) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            await anyio.sleep(5)
        return {"n": len(attempts)}

    async with open_saver(store_kind, tmp_path) as saver:
        builder = StateGraph(Count)
        builder.add_node("slow", once_slow, timeout=timedelta(milliseconds=50),
                         retry_policy=RetryPolicy(initial_interval=0, jitter=False))
        builder.add_edge(START, "slow")
        graph = builder.compile(checkpointer=saver)
        assert await graph.ainvoke({"n": 0}, cfg("t")) == {"n": 2}
        failed = bodies(await saver.log.read("t"), Kind.NODE_FAILED)
        assert [(f["type"], f["attempt"], f["final"]) for f in failed] == [("NodeTimeoutError", 1, False)]


async def test_task_and_entrypoint_timeouts(anyio_backend: str) -> None:
    @task(timeout=0.05)
    async def slow_task(x: int) -> int:
        await anyio.sleep(5)
        return x

    @entrypoint()
    async def flow(x: int) -> int:
        return await slow_task(x)

    with pytest.raises(NodeTimeoutError, match="slow_task"):
        await flow.ainvoke(1)

    @entrypoint(timeout=TimeoutPolicy(run_timeout=0.05))
    async def slow_flow(x: int) -> int:
        await anyio.sleep(5)
        return x

    with pytest.raises(NodeTimeoutError, match="slow_flow"):
        await slow_flow.ainvoke(1)


def test_a_timeout_is_refused_where_it_cannot_work() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        StateGraph(Count).add_node("x", lambda s: s, timeout=0)
    with pytest.raises(ValueError, match="greater than 0"):
        task(timeout=timedelta(0))
    sync = StateGraph(Count).add_node("x", lambda s: s, timeout=1.0).add_edge(START, "x")
    with pytest.raises(ValueError, match="only supported for async nodes"):
        sync.compile()
    with pytest.raises(ValueError, match="Task 'plain' is sync"):
        @task(timeout=1.0)
        def plain() -> None: ...
    with pytest.raises(ValueError, match="only supported for async nodes"):
        @entrypoint(timeout=1.0)
        def flow(x: int) -> int: ...


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # (trio's Cancelled cannot be raised by user code)
async def test_a_node_raising_cancellation_itself_fails_the_run(anyio_backend: str) -> None:
    async def boom(state: Count) -> dict[str, Any]:
        raise anyio.get_cancelled_exc_class()("raised by the node")

    with pytest.raises(NodeCancelledError) as info:
        await timed_graph(boom).ainvoke({"n": 0})
    assert info.value.node == "slow"


async def test_heartbeats_keep_a_strict_idle_timeout_from_firing(anyio_backend: str) -> None:
    async def beating(state: Count, runtime: Runtime) -> dict[str, Any]:
        for _ in range(6):
            await anyio.sleep(0.03)
            runtime.heartbeat()
        return {"n": 1}

    graph = timed_graph(beating, timeout=TimeoutPolicy(idle_timeout=0.1, refresh_on="heartbeat"))
    assert await graph.ainvoke({"n": 0}) == {"n": 1}
    DEFAULT_RUNTIME.heartbeat()  # outside an attempt: nothing to refresh
