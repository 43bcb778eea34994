"""Durable runs in one process: submit, join, stream, cancel, list; a Worker executing
them under a fenced lease; multitask strategies. On every store, on asyncio and trio.

(Workers in other processes, killed with SIGKILL: tests/test_runs_sigkill.py.)
"""

from __future__ import annotations

import itertools
import operator
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.eventlog import Kind, RunBusyError
from lograph.runtime import END, START, Command, RunError, Runs, StateGraph, Worker, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio

FAST = {"lease": 1.0, "poll": 0.01}


class S(TypedDict):
    log: Annotated[list[str], operator.add]


class Gates:
    """Nodes named in ``held`` wait at their start until the test opens them."""

    def __init__(self, *held: str) -> None:
        self.reached = {name: anyio.Event() for name in held}
        self.open = {name: anyio.Event() for name in held}
        self.ran: list[str] = []

    def graph(self, saver: Any, names: tuple[str, ...] = ("a", "b", "c"), fail: str = "",
              ask: str = "") -> Any:
        g = StateGraph(S)
        for name in names:
            async def node(state: S, name: str = name) -> dict[str, Any]:
                self.ran.append(name)
                if name in self.reached:
                    self.reached[name].set()
                    await self.open[name].wait()
                if name == fail:
                    raise ValueError(f"{name} failed")
                if name == ask:
                    return {"log": [f"{name}:{interrupt('ok?')}"]}
                return {"log": [name]}
            g.add_node(name, node)
        g.add_edge(START, names[0])
        for x, y in itertools.pairwise(names):
            g.add_edge(x, y)
        g.add_edge(names[-1], END)
        return g.compile(checkpointer=saver)


async def test_submit_join_and_an_idempotency_key(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(graph)
        first = await runs.submit("t", {"log": ["in"]}, durability="sync", idempotency_key="k",
                                  metadata={"user": "ann"})
        again = await runs.submit("t", {"log": ["other"]}, idempotency_key="k")
        assert first.created and not again.created and again.run_id == first.run_id
        assert first.record.status == "pending"  # recorded: no worker yet
        async with Worker(graph, **FAST):
            assert await first.join() == {"log": ["in", "a", "b", "c"]}
        record = await first.refresh()
        assert (record.status, record.attempts, record.metadata) == ("success", 1, {"user": "ann"})
        assert (await graph.aget_state({"configurable": {"thread_id": "t"}})).values == {
            "log": ["in", "a", "b", "c"]}
        # the log's run.started names the run (its metadata carries the run id)
        started = [e async for e in first.stream() if e.kind == Kind.RUN_STARTED]
        assert len(started) == 1
        assert [r.run_id for r in await runs.list(thread_id="t", status="success",
                                                  metadata={"user": "ann"})] == [first.run_id]
        assert await runs.counts() == {"success": 1}


async def test_bad_submissions_record_nothing(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        runs = Runs(saver)
        bad: list[dict[str, Any]] = [
            {"input": {"log": [object()]}},
            {"config": {"callbacks": []}},
            {"config": {"configurable": {"x": object()}}},
            {"multitask_strategy": "sometimes"},
            {"durability": "never"},
            {"metadata": {"k": [1]}},
            {"timeout": 0},
        ]
        for kwargs in bad:
            with pytest.raises((ValueError, TypeError)):
                await runs.submit("t", **{"input": {"log": []}, **kwargs})
        assert await runs.list() == []
        with pytest.raises(TypeError, match="checkpointer"):
            Runs(object())


async def test_outcomes_error_interrupt_and_timeout(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        failing = Gates().graph(saver, fail="b")
        runs = Runs(saver)
        broken = await runs.submit("t1", {"log": []})
        async with Worker(failing, **FAST):
            with pytest.raises(RunError, match="b failed") as caught:
                await broken.join()
        assert caught.value.status == "error"

        asking = Gates().graph(saver, ask="b")
        paused = await runs.submit("t2", {"log": []})
        async with Worker(asking, **FAST):
            out = await paused.join()
        assert out["log"] == ["a"] and (await paused.refresh()).status == "interrupted"
        resumed = await runs.submit("t2", Command(resume="yes"))
        async with Worker(asking, **FAST):
            assert await resumed.join() == {"log": ["a", "b:yes", "c"]}

        slow = gates.graph(saver)
        late = await runs.submit("t3", {"log": []}, timeout=0.2)
        async with Worker(slow, **FAST):
            with pytest.raises(RunError) as caught:
                await late.join()
        assert caught.value.status == "timeout"


async def test_cancel_pending_and_running_from_a_handle(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        running = await runs.submit("t", {"log": []}, durability="sync")
        queued = await runs.submit("t", {"log": ["later"]})
        assert (await queued.cancel()).status == "cancelled"  # pending: at once
        async with Worker(graph, **FAST):
            await gates.reached["b"].wait()
            # another process would do the same: the request is in the store
            await (await Runs(saver).get(running.run_id)).cancel()
            await anyio.sleep(0.5)  # the worker learns it with its next heartbeat
            gates.open["b"].set()
            with pytest.raises(RunError) as caught:
                await running.join()
        assert caught.value.status == "cancelled"
        # stopped at the step boundary after b: a and b are kept, c never ran
        state = await graph.aget_state({"configurable": {"thread_id": "t"}})
        assert state.values == {"log": ["a", "b"]} and state.next == ("c",)
        kinds = [e.kind for e in await saver.log.read("t")]
        assert kinds[-1] == Kind.RUN_FINISHED and "c" not in gates.ran
        with pytest.raises(RunError):
            await queued.join()
        assert [e async for e in queued.stream()] == []  # it never ran: no events are its


async def test_a_stream_rejoined_after_a_disconnect_misses_nothing(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("c")
        graph = gates.graph(saver)
        runs = Runs(saver)
        handle = await runs.submit("t", {"log": ["in"]}, durability="sync")
        async with Worker(graph, **FAST):
            seen = []
            async with aclosing(handle.stream()) as events:  # a client that goes away mid-run
                async for event in events:
                    seen.append(event.seq)
                    if event.kind == Kind.NODE_WRITES:
                        break
            gates.open["c"].set()
            rest = [e.seq async for e in (await runs.get(handle.run_id)).stream(after=seen[-1])]
        everything = [e.seq for e in await saver.log.read("t")]
        assert seen + rest == everything and everything == list(range(1, len(everything) + 1))


async def test_a_worker_that_lost_its_lease_writes_nothing(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(saver)
        handle = await runs.submit("t", {"log": ["in"]}, durability="sync")
        stale = await saver.log.claim_run("dead", 0.1)  # a worker that then stalls
        assert stale is not None
        await anyio.sleep(0.2)
        taker = Worker(graph, **FAST)
        done = await taker.run_once()  # another worker takes it over and finishes it
        assert done is not None and done.status == "success" and done.attempts == 2
        head = await saver.log.head("t")
        late = Worker(graph, **FAST)
        assert await late.execute(*stale) is None  # the stalled one wakes up: refused
        assert await saver.log.head("t") == head
        assert await handle.join() == {"log": ["in", "a", "b", "c"]}


async def test_strategy_reject_and_enqueue(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver, names=("a",))
        runs = Runs(saver)
        first = await runs.submit("t", {"log": ["1"]})
        with pytest.raises(RunBusyError):
            await runs.submit("t", {"log": ["x"]}, multitask_strategy="reject")
        second = await runs.submit("t", {"log": ["2"]})  # enqueue, the default
        async with Worker(graph, concurrency=4, **FAST):
            await first.join()
            assert await second.join() == {"log": ["1", "a", "2", "a"]}
        assert len(await runs.list()) == 2


async def test_strategy_interrupt_keeps_the_progress(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        first = await runs.submit("t", {"log": ["1"]}, durability="sync")
        async with Worker(graph, concurrency=2, lease=0.3, poll=0.01):
            await gates.reached["b"].wait()
            second = await runs.submit("t", {"log": ["2"]}, multitask_strategy="interrupt")
            await anyio.sleep(0.25)  # a heartbeat brings the request
            gates.open["b"].set()
            with pytest.raises(RunError) as caught:
                await first.join()
            assert caught.value.status == "interrupted"
            out = await second.join()
        # the first run's a and b stay (c never ran); the second run's input starts the
        # graph again from there, as any new input does
        assert out == {"log": ["1", "a", "b", "2", "a", "b", "c"]}
        assert gates.ran == ["a", "b", "a", "b", "c"]


async def test_strategy_rollback_sets_the_progress_aside(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        config = {"configurable": {"thread_id": "t"}}
        await Gates().graph(saver).ainvoke({"log": ["0"]}, config)  # the state before the run
        first = await runs.submit("t", {"log": ["1"]}, durability="sync")
        async with Worker(graph, concurrency=2, lease=0.3, poll=0.01):
            await gates.reached["b"].wait()
            second = await runs.submit("t", {"log": ["2"]}, multitask_strategy="rollback")
            await anyio.sleep(0.25)
            gates.open["b"].set()
            with pytest.raises(RunError) as caught:
                await first.join()
            assert caught.value.status == "cancelled"
            out = await second.join()
        assert out == {"log": ["0", "a", "b", "c", "2", "a", "b", "c"]}
        # nothing was deleted: the first run's writes are in the log, on their own branch
        events = await saver.log.read("t")
        first_run = [e for e in events if e.seq > (await first.refresh()).first_seq
                     and e.seq <= (await second.refresh()).first_seq]
        assert [e.kind for e in first_run].count(Kind.NODE_WRITES) == 2  # a and b
        # the second run forked from where the first began: its first event's parent is there
        second_start = (await second.refresh()).first_seq + 1
        fork = next(e for e in events if e.seq == second_start)
        assert fork.parent < (await first.refresh()).first_seq + 1
