"""Review of the engine's recent changes (subgraphs, Command input, "w" deltas, inline input
step, delta snapshots, journal hold/backpressure, paced streams).

Each ``xfail(strict=True)`` test is a minimal repro of a bug found in the review; remove
its marker with the fix. The other tests pin tricky cases that were verified to work
(expected values from twin programs run on LangGraph 1.2.22 where semantics were in doubt).

The invariant behind most checks: the live state of a thread (the actor's cached fold)
equals the fold of its log from scratch, with and without snapshots.
"""

from __future__ import annotations

import operator
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.adapters.memory import MemorySaver
from lograph.eventlog import Kind, MemoryLog, ancestry, decode, fold
from lograph.runtime import (
    START,
    Checkpointer,
    Command,
    EmptyInputError,
    NonDeterminismError,
    RetryPolicy,
    Send,
    StateGraph,
    entrypoint,
    interrupt,
    task,
)
from tests._stores import open_saver
from tests.faults import AFTER, BEFORE, FaultyLog, is_crash, recorded_results, verify_chain

pytestmark = pytest.mark.anyio

NO_WAIT = RetryPolicy(initial_interval=0.0, jitter=False)


def cfg(thread: str = "t", **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


async def scratch(log: Any, thread: str = "t") -> Any:
    """The fold of the thread's head branch from its first event: no cache, no snapshot."""
    head = await log.head(thread)
    chain = ancestry(await log.read(thread), head)
    assert chain is not None
    return fold(None, chain)


class Items(TypedDict, total=False):
    log: Annotated[list, operator.add]
    note: str
    profile: dict


class Outer(TypedDict):
    topic: str
    log: Annotated[list, operator.add]
    verdict: str


class Inner(TypedDict):
    topic: str
    verdict: str
    draft: str


def reviewed_subgraph(ran: list[str]) -> Any:
    """write -> check; check asks a human."""

    async def write(state: Inner) -> dict[str, Any]:
        ran.append("write")
        return {"draft": f"draft on {state['topic']}"}

    async def check(state: Inner) -> dict[str, Any]:
        ran.append("check")
        answer = interrupt({"draft": state["draft"]})
        return {"verdict": f"{state['draft']}: {answer}"}

    b = StateGraph(Inner)
    b.add_node("write", write)
    b.add_node("check", check)
    b.add_edge(START, "write")
    b.add_edge("write", "check")
    return b.compile()


def team_graph(sub: Any, saver: Any, ran: list[str]) -> Any:
    """plan -> team (the subgraph) -> publish."""

    async def plan(state: Outer) -> dict[str, Any]:
        ran.append("plan")
        return {"log": ["plan"]}

    async def publish(state: Outer) -> dict[str, Any]:
        return {"log": [f"publish {state['verdict']}"]}

    b = StateGraph(Outer)
    b.add_node("plan", plan)
    b.add_node("team", sub)
    b.add_node("publish", publish)
    b.add_edge(START, "plan")
    b.add_edge("plan", "team")
    b.add_edge("team", "publish")
    return b.compile(checkpointer=saver)


# =============================================================================================
# Bugs
# =============================================================================================


async def test_a_node_changing_a_value_in_place_is_recorded(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async def rename(state: Items) -> dict[str, Any]:
        state["profile"]["name"] = "changed"
        return {"profile": state["profile"]}

    b = StateGraph(Items)
    b.add_node("rename", rename)
    b.add_edge(START, "rename")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"profile": {"name": "x"}}, cfg())
        assert out["profile"] == {"name": "changed"}
        assert (await scratch(saver.log)).values["profile"] == {"name": "changed"}
        restarted = b.compile(checkpointer=Checkpointer(saver.log))
        assert (await restarted.aget_state(cfg())).values["profile"] == {"name": "changed"}


async def test_mutating_the_returned_output_leaves_the_thread_alone(anyio_backend: str) -> None:
    async def reply(state: Items) -> dict[str, Any]:
        return {"log": ["reply"]}

    b = StateGraph(Items)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    saver = MemorySaver()
    graph = b.compile(checkpointer=saver)
    out = await graph.ainvoke({"log": ["hi"]}, cfg())
    out["log"].append("the caller's own note")
    await graph.ainvoke({"log": ["again"]}, cfg())
    live = (await graph.aget_state(cfg())).values["log"]
    assert live == (await scratch(saver.log)).values["log"] == ["hi", "reply", "again", "reply"]


async def test_mutating_get_state_values_or_the_input_leaves_the_thread_alone(anyio_backend: str) -> None:
    async def reply(state: Items) -> dict[str, Any]:
        return {"log": ["reply"]}

    b = StateGraph(Items)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    saver = MemorySaver()
    graph = b.compile(checkpointer=saver)
    given = {"log": ["hi"], "profile": {"name": "ana"}}
    await graph.ainvoke(given, cfg())
    given["profile"]["name"] = "mutated by the caller"
    (await graph.aget_state(cfg())).values["log"].append("mutated by the caller")
    live = (await graph.aget_state(cfg())).values
    assert live == {"log": ["hi", "reply"], "profile": {"name": "ana"}}
    assert live == (await scratch(saver.log)).values


async def test_update_state_without_as_node_after_an_update_infers_the_last_updater(
    anyio_backend: str,
) -> None:
    def appender(name: str) -> Any:
        async def node(state: Items) -> dict[str, Any]:
            return {"log": [name]}

        return node

    b = StateGraph(Items)
    for name in "abc":
        b.add_node(name, appender(name))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    graph = b.compile(checkpointer=MemorySaver(), interrupt_before=["b"])
    await graph.ainvoke({"log": []}, cfg())
    await graph.aupdate_state(cfg(), {"note": "1"}, as_node="a")
    assert (await graph.aget_state(cfg())).next == ("b",)
    await graph.aupdate_state(cfg(), {"note": "2"})
    state = await graph.aget_state(cfg())
    assert (state.next, state.values) == (("b",), {"log": ["a"], "note": "2"})  # as LangGraph


async def test_a_second_command_input_keeps_the_first_commands_goto_and_update(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []

    async def a(state: Items) -> dict[str, Any]:
        ran.append("a")
        return {"log": ["a"]}

    async def ask(state: Items) -> dict[str, Any]:
        ran.append("ask")
        answer = interrupt("q")
        return {"log": [f"ask:{answer}:{state.get('note')}"]}

    b = StateGraph(Items)
    b.add_node("a", a)
    b.add_node("ask", ask)
    b.add_edge(START, "a")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"log": []}, cfg())
        out = await graph.ainvoke(Command(goto="ask", update={"log": ["cmd1"]}), cfg())
        assert out["log"] == ["a", "cmd1"] and "__interrupt__" in out
        out = await graph.ainvoke(Command(resume="yes", update={"note": "n2"}), cfg())
        assert out == {"log": ["a", "cmd1", "ask:yes:n2"], "note": "n2"}
        assert ran == ["a", "ask", "ask"]


async def test_update_state_addressed_to_a_subgraph_updates_it(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """As LangGraph: an update addressed at a waiting subgraph's checkpoint updates the
    subgraph (as the node that wrote last in it); the top graph's next run continues it
    from there and asks again, with what the update changed."""
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = team_graph(reviewed_subgraph(ran), saver, ran)
        await graph.ainvoke({"topic": "owls", "log": []}, cfg())
        sub = (await graph.aget_state(cfg(), subgraphs=True)).tasks[0].state
        await graph.aupdate_state(sub.config, {"draft": "EDITED"})
        again = await graph.ainvoke(None, cfg())
        assert [i.value for i in again["__interrupt__"]] == [{"draft": "EDITED"}]
        out = await graph.ainvoke(Command(resume="ok"), cfg())
        assert out["verdict"] == "EDITED: ok"
        assert ran == ["plan", "write", "check", "check", "check"]  # write did not run again


async def test_command_update_on_a_past_checkpoint_is_applied_to_the_fork(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    def node(name: str) -> Any:
        async def fn(state: Items) -> dict[str, Any]:
            return {"log": [f"{name}:{state.get('note')}"]}

        return fn

    b = StateGraph(Items)
    b.add_node("a", node("a"))
    b.add_node("b", node("b"))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"log": [], "note": "orig"}, cfg())
        past = [s async for s in graph.aget_state_history(cfg()) if s.next == ("b",)][0]  # noqa: RUF015
        out = await graph.ainvoke(Command(update={"note": "forked"}), past.config)
        assert out == {"log": ["a:orig", "b:forked"], "note": "forked"}  # as LangGraph 1.2.22


async def test_live_subgraph_state_applies_finished_writes_in_task_path_order(anyio_backend: str) -> None:
    async def a(state: Items) -> dict[str, Any]:
        await anyio.sleep(0.02)
        return {"log": ["a"]}

    async def b_(state: Items) -> dict[str, Any]:
        return {"log": ["b"]}

    async def c(state: Items) -> dict[str, Any]:
        await anyio.sleep(0.04)
        interrupt("q")
        return {"log": ["c"]}

    ib = StateGraph(Items)
    for name, fn in (("a", a), ("b", b_), ("c", c)):
        ib.add_node(name, fn)
        ib.add_edge(START, name)
    ob = StateGraph(Items)
    ob.add_node("team", ib.compile())
    ob.add_edge(START, "team")
    graph = ob.compile(checkpointer=MemorySaver())
    await graph.ainvoke({"log": []}, cfg())
    sub = (await graph.aget_state(cfg(), subgraphs=True)).tasks[0].state
    assert sub.next == ("c",)
    assert sub.values["log"] == ["a", "b"]


async def test_get_state_by_id_shows_the_steps_results_errors_and_interrupts(anyio_backend: str) -> None:
    async def a(state: Items) -> dict[str, Any]:
        return {"log": ["a"]}

    async def boom(state: Items) -> dict[str, Any]:
        raise ValueError("boom")

    b = StateGraph(Items)
    b.add_node("a", a)
    b.add_node("boom", boom)
    b.add_edge(START, "a")
    b.add_edge(START, "boom")
    graph = b.compile(checkpointer=MemorySaver())
    with pytest.raises(ValueError):
        await graph.ainvoke({"log": []}, cfg())
    record = [s async for s in graph.aget_state_history(cfg())][0]  # noqa: RUF015
    assert [(t.name, t.error, t.result) for t in record.tasks] == [
        ("a", None, {"log": ["a"]}), ("boom", "ValueError('boom')", None)]
    by_id = await graph.aget_state(record.config)
    assert by_id.tasks == record.tasks


async def test_history_next_is_the_checkpoints_own_plan_after_a_command_goto(anyio_backend: str) -> None:
    def node(name: str) -> Any:
        async def fn(state: Items) -> dict[str, Any]:
            return {"log": [name]}

        return fn

    b = StateGraph(Items)
    for name in "abc":
        b.add_node(name, node(name))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    graph = b.compile(checkpointer=MemorySaver(), interrupt_before=["b"])
    await graph.ainvoke({"log": []}, cfg())
    await graph.ainvoke(Command(goto="c"), cfg())
    nexts = [(s.metadata["step"], s.next) async for s in graph.aget_state_history(cfg())]
    assert nexts == [(2, ()), (1, ("b",)), (0, ("a",)), (-1, ("__start__",))]  # as LangGraph 1.2.22


async def test_async_backpressure_wakes_every_waiting_task(anyio_backend: str) -> None:
    saver = Checkpointer(FaultyLog(MemoryLog(), delay=0.02))

    @task
    async def double(i: int) -> int:
        return 2 * i

    @entrypoint(checkpointer=saver)
    async def flow(n: int) -> int:
        futures = [double(i) for i in range(n)]
        return sum([await f for f in futures])

    with anyio.fail_after(2):  # well under a second when every waiter is woken
        assert await flow.ainvoke(700, cfg(), durability="async") == 700 * 699


async def test_nondeterminism_inside_a_subgraph_writes_nothing(anyio_backend: str) -> None:
    ran: list[str] = []
    fail = ["first run fails"]

    @task
    async def alpha() -> str:
        ran.append("alpha")
        return "a"

    @task
    async def beta() -> str:
        ran.append("beta")
        return "b"

    def version(saver: Any, first: Any) -> Any:
        async def work(state: Items) -> dict[str, Any]:
            value = await first()
            if fail:
                raise ValueError(fail.pop())
            return {"log": [value]}

        ib = StateGraph(Items)
        ib.add_node("work", work)
        ib.add_edge(START, "work")
        ob = StateGraph(Items)
        ob.add_node("team", ib.compile())
        ob.add_edge(START, "team")
        return ob.compile(checkpointer=saver)

    saver = MemorySaver()
    with pytest.raises(ValueError):
        await version(saver, alpha).ainvoke({"log": []}, cfg(), durability="sync")
    before = await saver.log.read("t")
    with pytest.raises(NonDeterminismError):
        await version(saver, beta).ainvoke(None, cfg(), durability="sync")
    assert ran == ["alpha"]
    assert await saver.log.read("t") == before


async def test_nondeterminism_is_not_retried(anyio_backend: str) -> None:
    ran: list[str] = []
    fail = ["first run fails"]

    @task
    async def alpha() -> str:
        return "a"

    @task
    async def beta() -> str:
        return "b"

    saver = MemorySaver()

    def version(first: Any) -> Any:
        @entrypoint(checkpointer=saver, retry=NO_WAIT)
        async def flow(x: int) -> str:
            ran.append("body")
            value = await first()
            if fail:
                raise ValueError(fail.pop())  # not retried by default: the run fails
            return value

        return flow

    with pytest.raises(ValueError):
        await version(alpha).ainvoke(1, cfg())
    ran.clear()
    with pytest.raises(NonDeterminismError):
        await version(beta).ainvoke(None, cfg())
    assert ran == ["body"]


async def test_sync_sibling_writes_are_durable_while_a_replayed_node_runs(anyio_backend: str) -> None:
    inner = MemoryLog()
    phase = {"n": 1}
    b_done = anyio.Event()
    seen: dict[str, bool] = {}

    @task
    async def fetch() -> str:
        return "f"

    def build(saver: Checkpointer) -> Any:
        async def a(state: Items) -> dict[str, Any]:
            value = await fetch()
            if phase["n"] == 1:
                await anyio.sleep(0.05)  # the crash (at b's commit) happens meanwhile
            else:
                await b_done.wait()
                await anyio.sleep(0.02)
                events = await inner.read("t")
                seen["b"] = any(e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "b" for e in events)
            return {"log": ["a" + value]}

        async def b_(state: Items) -> dict[str, Any]:
            await anyio.sleep(0.01)
            if phase["n"] == 2:
                b_done.set()
            return {"log": ["b"]}

        g = StateGraph(Items)
        g.add_node("a", a)
        g.add_node("b", b_)
        g.add_edge(START, "a")
        g.add_edge(START, "b")
        return g.compile(checkpointer=saver)

    # appends: 1 the step's start, 2 fetch's result, 3 b's writes (crash before it)
    faulty = FaultyLog(inner, at=3, when=BEFORE)
    with pytest.raises(BaseException) as info:
        await build(Checkpointer(faulty)).ainvoke({"log": []}, cfg(), durability="sync")
    assert is_crash(info.value)
    assert Kind.TASK_RESULT in [e.kind for e in await inner.read("t")]
    phase["n"] = 2
    out = await build(Checkpointer(inner)).ainvoke(None, cfg(), durability="sync")
    assert out == {"log": ["af", "b"]}
    assert seen["b"], "b finished while a ran, but its writes were not committed"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sys_exit_in_a_node_ends_an_async_mode_run(backend: str) -> None:
    import sys
    import threading

    def quit_(state: Items) -> dict[str, Any]:
        sys.exit(3)

    b = StateGraph(Items)
    b.add_node("quit", quit_)
    b.add_edge(START, "quit")
    graph = b.compile(checkpointer=MemorySaver())
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await graph.ainvoke({"log": []}, cfg(), durability="async")
        except BaseException as e:  # noqa: BLE001 - what reached the caller
            raised.append(e)

    # in a daemon thread with its own loop: a hung run cannot be cancelled, only abandoned
    worker = threading.Thread(target=anyio.run, args=(run,), kwargs={"backend": backend}, daemon=True)
    worker.start()
    worker.join(2)
    assert not worker.is_alive(), "the run hangs"
    assert raised and isinstance(raised[0], SystemExit | BaseExceptionGroup)


# =============================================================================================
# Verified behaviour (regression tests)
# =============================================================================================


class Mix(TypedDict, total=False):
    log: Annotated[list, operator.add]
    note: str
    n: int


class MixInner(TypedDict, total=False):
    log: Annotated[list, operator.add]
    k: int


def mixed_graph(saver: Checkpointer, flags: dict[str, bool]) -> Any:
    """One step: a retried node (which then sends two workers), an interrupting node and a
    subgraph whose own step fans out with Send (one branch may interrupt); joined at tail."""

    async def fan(state: MixInner) -> dict[str, Any]:
        return {"log": ["fan"]}

    async def leaf(state: MixInner) -> dict[str, Any]:
        await anyio.sleep(0.0005 * (3 - state["k"]))
        if flags.get("ask_leaf") and state["k"] == 1:
            return {"log": [f"leaf{state['k']}={interrupt('leaf?')}"]}
        return {"log": [f"leaf{state['k']}"]}

    ib = StateGraph(MixInner)
    ib.add_node("fan", fan)
    ib.add_node("leaf", leaf)
    ib.add_edge(START, "fan")
    ib.add_conditional_edges("fan", lambda s: [Send("leaf", {"k": i}) for i in (1, 2)])
    flaky = {"left": 1}

    async def left(state: Mix) -> dict[str, Any]:
        if flaky["left"]:
            flaky["left"] -= 1
            raise ConnectionError("flaky")
        return {"log": ["left"]}

    async def right(state: Mix) -> dict[str, Any]:
        await anyio.sleep(0.001)
        if flags.get("ask_right"):
            answer = interrupt("right?")
            return {"log": [f"right={answer}"], "note": str(answer)}
        return {"log": ["right"]}

    async def worker(state: MixInner) -> dict[str, Any]:
        return {"log": [f"w{state['k']}"]}

    async def tail(state: Mix) -> dict[str, Any]:
        return {"log": ["tail"], "n": len(state["log"])}

    b = StateGraph(Mix)
    b.add_node("left", left, retry=NO_WAIT)
    b.add_node("right", right)
    b.add_node("worker", worker)
    b.add_node("team", ib.compile())
    b.add_node("tail", tail)
    b.add_edge(START, "left")
    b.add_edge(START, "team")
    b.add_edge(START, "right")
    b.add_conditional_edges("left", lambda s: [Send("worker", {"k": i}) for i in range(2)])
    b.add_edge(["worker", "right", "team"], "tail")
    return b.compile(checkpointer=saver)


async def assert_live_equals_log(graph: Any, saver: Checkpointer, flags: dict[str, bool]) -> None:
    """The cached live state == a fresh process reading through snapshots == one folding
    the log from scratch (snapshots dropped); history records agree too."""

    def key(s: Any) -> Any:
        return (s.values, s.next, [i.id for i in s.interrupts], s.config,
                [(t.name, t.id, t.result, t.state and (t.state.values, t.state.next)) for t in s.tasks])

    live = await graph.aget_state(cfg(), subgraphs=True)
    via_snapshots = mixed_graph(Checkpointer(saver.log, snapshot_every=1), flags)
    assert key(await via_snapshots.aget_state(cfg(), subgraphs=True)) == key(live)
    await saver.log.delete_snapshots("t")
    from_scratch = mixed_graph(Checkpointer(saver.log), flags)
    assert key(await from_scratch.aget_state(cfg(), subgraphs=True)) == key(live)
    assert graph.structure.state.visible((await scratch(saver.log)).values) == (
        await graph.aget_state(live.config)).values
    async for record in graph.aget_state_history(cfg(), limit=3):
        again = await from_scratch.aget_state(record.config)
        assert again.values == record.values  # (next/tasks: see the by-id bug test)


async def test_subgraph_send_interrupts_retries_updates_and_forks_fold_like_the_live_state(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    flags = {"ask_leaf": True, "ask_right": True}
    async with open_saver(store_kind, tmp_path) as opened:
        saver = Checkpointer(opened.log, snapshot_every=1)  # a snapshot at every run's end
        graph = mixed_graph(saver, flags)
        out = await graph.ainvoke({"log": ["in"]}, cfg(), durability="sync")
        assert len(out["__interrupt__"]) == 2  # right, and leaf1 inside the subgraph
        await assert_live_equals_log(graph, saver, flags)
        first = (await graph.aget_state(cfg())).interrupts[0]
        await graph.ainvoke(Command(resume={first.id: "A"}), cfg(), durability="async")  # partial
        await assert_live_equals_log(graph, saver, flags)
        rest = {i.id: "B" for i in (await graph.aget_state(cfg())).interrupts}
        out = await graph.ainvoke(Command(resume=rest), cfg(), durability="exit")
        assert out["log"][-1] == "tail" and "__interrupt__" not in out
        await assert_live_equals_log(graph, saver, flags)
        flags.update(ask_leaf=False, ask_right=False)
        await graph.aupdate_state(cfg(), {"note": "edited"}, as_node="right")
        await graph.ainvoke(Command(update={"log": ["cmd"]}, goto="right"), cfg())
        await assert_live_equals_log(graph, saver, flags)
        past = [s async for s in graph.aget_state_history(cfg()) if s.next == ("left", "right", "team")][0]  # noqa: RUF015
        await graph.ainvoke(None, past.config)  # time travel: a fork re-runs from there
        await assert_live_equals_log(graph, saver, flags)
        events = await opened.log.read("t")
        verify_chain(events)
        ops = [op[0] for e in events if e.kind == Kind.CHECKPOINT for op in decode(e.body)["delta"].values()]
        assert "w" in ops  # the delta-by-reference path was exercised


async def test_pull_and_send_writes_to_one_list_apply_in_task_path_order(anyio_backend: str) -> None:
    """Pulls by name, then Send packets by index (not completion order); a Send task that
    failed once and was retried writes once; the fold of the "w" deltas agrees."""
    fails = {"n": 1}

    async def src(state: MixInner) -> dict[str, Any]:
        return {"log": ["src"]}

    async def zed(state: MixInner) -> dict[str, Any]:
        await anyio.sleep(0.01)
        return {"log": ["zed"]}

    async def alpha(state: MixInner) -> dict[str, Any]:
        return {"log": ["alpha"]}

    async def worker(state: MixInner) -> dict[str, Any]:
        if state["k"] == 1 and fails["n"]:
            fails["n"] -= 1
            raise ConnectionError("flaky")
        await anyio.sleep(0.005 * (3 - state["k"]))
        return {"log": [f"w{state['k']}"]}

    b = StateGraph(MixInner)
    b.add_node("src", src)
    b.add_node("zed", zed)
    b.add_node("alpha", alpha)
    b.add_node("worker", worker, retry=NO_WAIT)
    b.add_edge(START, "src")
    b.add_conditional_edges("src", lambda s: ["zed", "alpha"] + [Send("worker", {"k": i}) for i in range(3)])
    saver = MemorySaver()
    graph = b.compile(checkpointer=saver)
    out = await graph.ainvoke({"log": ["in"]}, cfg(), durability="sync")
    assert out == {"log": ["in", "src", "alpha", "zed", "w0", "w1", "w2"]}  # as LangGraph 1.2.22
    events = await saver.log.read("t")
    failed = [decode(e.body) for e in events if e.kind == Kind.NODE_FAILED]
    assert [(f["name"], f["final"]) for f in failed] == [("worker", False)]
    last = decode([e for e in events if e.kind == Kind.CHECKPOINT][-1].body)
    assert last["delta"]["log"] == ["w"]
    assert (await scratch(saver.log)).values["log"] == out["log"]


async def test_updating_the_caller_while_its_subgraph_waits_restarts_the_subgraph(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """As LangGraph 1.2.22: a caller's update_state makes a new checkpoint, so the waiting
    subgraph's namespace (its task id) is new: it starts over with the edited input."""
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as opened:
        saver = Checkpointer(opened.log, snapshot_every=1)
        graph = team_graph(reviewed_subgraph(ran), saver, ran)
        await graph.ainvoke({"topic": "owls", "log": []}, cfg())
        await graph.aupdate_state(cfg(), {"topic": "cats"})
        state = await graph.aget_state(cfg(), subgraphs=True)
        assert (state.values, state.next, state.interrupts) == ({"topic": "cats", "log": ["plan"]}, ("team",), ())
        fresh = state.tasks[0].state  # as LangGraph: its new namespace has no state yet
        assert (fresh.values, fresh.next, fresh.metadata) == ({}, (), None)
        out = await graph.ainvoke(None, cfg())
        assert out["__interrupt__"][0].value == {"draft": "draft on cats"}
        out = await graph.ainvoke(Command(resume="ok"), cfg())
        assert out == {"topic": "cats", "log": ["plan", "publish draft on cats: ok"], "verdict": "draft on cats: ok"}
        assert ran == ["plan", "write", "check", "write", "check", "check"]
        assert (await scratch(opened.log)).values == out


async def test_restart_from_a_snapshot_taken_while_a_subgraph_waits(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as opened:
        graph = team_graph(reviewed_subgraph(ran), Checkpointer(opened.log, snapshot_every=1), ran)
        await graph.ainvoke({"topic": "owls", "log": []}, cfg())
        head = await opened.log.head("t")
        assert head in await opened.log.snapshots("t")  # the snapshot holds the subgraph mid-flight
        restarted = team_graph(reviewed_subgraph(ran), Checkpointer(opened.log, snapshot_every=1), ran)
        sub = (await restarted.aget_state(cfg(), subgraphs=True)).tasks[0].state
        assert (sub.values["draft"], sub.next) == ("draft on owls", ("check",))
        out = await restarted.ainvoke(Command(resume="fine"), cfg())
        assert out["log"] == ["plan", "publish draft on owls: fine"]
        assert ran == ["plan", "write", "check", "check"]  # write did not run again
        assert (await scratch(opened.log)).values == out


async def test_command_goto_while_paused_before_a_node_runs_both_and_keeps_breakpoints(
    anyio_backend: str,
) -> None:
    def node(name: str) -> Any:
        async def fn(state: Items) -> dict[str, Any]:
            return {"log": [f"{name}:{state.get('note')}"]}

        return fn

    b = StateGraph(Items)
    for name in "abcd":
        b.add_node(name, node(name))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "d")
    b.add_edge("c", "d")
    saver = MemorySaver()
    graph = b.compile(checkpointer=saver, interrupt_before=["b", "d"])
    await graph.ainvoke({"log": []}, cfg())
    out = await graph.ainvoke(Command(update={"note": "x"}, goto="c"), cfg())
    assert out == {"log": ["a:None", "b:x", "c:x"], "note": "x"}  # as LangGraph 1.2.22
    assert (await graph.aget_state(cfg())).next == ("d",)
    out = await graph.ainvoke(None, cfg())
    assert out["log"] == ["a:None", "b:x", "c:x", "d:x"]
    saver.actor("t").forget()
    assert (await graph.aget_state(cfg())).values == out


class Crashy(TypedDict, total=False):
    log: Annotated[list, operator.add]
    k: int


def crashy_graph(saver: Checkpointer, runs: Counter[str]) -> Any:
    """plan -> (team: fan -> Send leaf x2 -> tail) beside side -> join end."""

    def node(name: str) -> Any:
        async def fn(state: Crashy) -> dict[str, Any]:
            runs[name] += 1
            await anyio.sleep(0.001)
            return {"log": [name]}

        return fn

    async def leaf(state: Crashy) -> dict[str, Any]:
        runs["leaf"] += 1
        await anyio.sleep(0.001 * state["k"])
        return {"log": [f"leaf{state['k']}"]}

    ib = StateGraph(Crashy)
    ib.add_node("fan", node("fan"))
    ib.add_node("leaf", leaf)
    ib.add_node("tail", node("tail"))
    ib.add_edge(START, "fan")
    ib.add_conditional_edges("fan", lambda s: [Send("leaf", {"k": i}) for i in (1, 2)])
    ib.add_edge("leaf", "tail")
    b = StateGraph(Crashy)
    b.add_node("plan", node("plan"))
    b.add_node("team", ib.compile())
    b.add_node("side", node("side"))
    b.add_node("end", node("end"))
    b.add_edge(START, "plan")
    b.add_edge("plan", "team")
    b.add_edge("plan", "side")
    b.add_edge(["team", "side"], "end")
    return b.compile(checkpointer=saver)


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_crash_anywhere_in_a_subgraph_with_send_beside_a_sibling(anyio_backend: str, mode: str) -> None:
    """Crash at every append (before and after commit), restart, resume: the final state is
    the uncrashed one, the log folds to it, and nothing recorded runs again."""
    expected = await crashy_graph(MemorySaver(), Counter()).ainvoke({"log": ["in"]}, cfg(), durability=mode)
    crashes = 0
    for when in (BEFORE, AFTER):
        for at in range(1, 40):
            inner = MemoryLog()
            runs: Counter[str] = Counter()
            faulty = FaultyLog(inner, at=at, when=when)
            try:
                await crashy_graph(Checkpointer(faulty), runs).ainvoke({"log": ["in"]}, cfg(), durability=mode)
            except BaseException as e:
                if not is_crash(e):
                    raise
            else:
                break  # fewer appends than `at`
            crashes += 1
            before = Counter(runs)
            on_disk = await inner.read("t")
            verify_chain(on_disk)
            durable = recorded_results(on_disk)
            leaves = sum(1 for e in on_disk if e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "leaf")
            graph = crashy_graph(Checkpointer(inner), runs)
            try:
                out = await graph.ainvoke(None, cfg(), durability=mode)
            except EmptyInputError:
                out = await graph.ainvoke({"log": ["in"]}, cfg(), durability=mode)
            where = f"{mode}/{when}#{at}"
            assert out == expected, where
            assert (await scratch(inner)).values == expected, where
            for name in ("plan", "fan", "tail", "side", "end"):
                assert runs[name] - before[name] == (0 if name in durable else 1), (where, name)
            assert runs["leaf"] - before["leaf"] == 2 - leaves, where
    assert crashes >= (2 if mode == "exit" else 8)
