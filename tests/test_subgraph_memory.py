"""What a nested graph keeps: ``compile(checkpointer=True | False | None | a store)``,
and a graph called inside a node with a thread of its own.

- ``True``: the subgraph's state is kept per thread of its caller, across the caller's
  steps and runs (namespace ``"<node>"``, no task id); it resumes, is listed in history
  by its namespace, and a fork of the caller sees it as it was at the fork point.
- ``False``: nothing is written, but it still runs as a subgraph (``Command.PARENT``).
- a store of its own: nested in a caller it runs on the caller's log, as in LangGraph.
- a config with another ``thread_id``: a run of its own on that thread.

Every test runs on every store, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.adapters.memory import InMemorySaver
from lograph.runtime import END, START, Command, StateGraph, entrypoint, interrupt, task
from lograph.runtime._checkpointer import Checkpointer
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Notes(TypedDict):
    notes: Annotated[list, operator.add]


class Caller(TypedDict):
    said: str
    heard: Annotated[list, operator.add]


def cfg(thread: str, **more: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **more}}


class Boom(Exception):
    pass


def note_taker(seen: list[list[str]], *, ask: bool = False) -> StateGraph:
    """A subgraph that appends what its caller said (after a question, if ``ask``)."""

    async def take(state: Notes) -> dict[str, Any]:
        seen.append(list(state["notes"]))
        if ask:
            answer = interrupt("ok?")
            return {"notes": [f"took {answer}"]}
        return {"notes": [f"took {len(state['notes'])}"]}

    b = StateGraph(Notes)
    b.add_node("take", take)
    b.add_edge(START, "take")
    b.add_edge("take", END)
    return b


def caller_of(sub: Any, saver: Any) -> Any:
    """A caller whose node ``talk`` calls ``sub`` with what was said."""

    async def talk(state: Caller) -> dict[str, Any]:
        out = await sub.ainvoke({"notes": [state["said"]]})
        return {"heard": [out["notes"][-1]]}

    b = StateGraph(Caller)
    b.add_node("talk", talk)
    b.add_edge(START, "talk")
    b.add_edge("talk", END)
    return b.compile(checkpointer=saver)


# -- checkpointer=True ------------------------------------------------------------------------


async def test_kept_subgraph_state_accumulates_across_runs(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = caller_of(note_taker(seen).compile(checkpointer=True), saver)
        await graph.ainvoke({"said": "a", "heard": []}, cfg("t"))
        await graph.ainvoke({"said": "b", "heard": []}, cfg("t"))
        out = await graph.ainvoke({"said": "c", "heard": []}, cfg("t"))
        assert seen == [["a"], ["a", "took 1", "b"], ["a", "took 1", "b", "took 3", "c"]]
        assert out["heard"] == ["took 1", "took 3", "took 5"]
        # another thread of the caller has a subgraph state of its own
        await graph.ainvoke({"said": "x", "heard": []}, cfg("other"))
        assert seen[-1] == ["x"]
        # after a restart (a cold cache over the same log), the state is read back
        if store_kind != "memory":
            again = caller_of(note_taker(seen).compile(checkpointer=True), Checkpointer(saver.log))
            await again.ainvoke({"said": "d", "heard": []}, cfg("t"))
            assert seen[-1][-2:] == ["took 5", "d"]


async def test_kept_subgraph_as_a_node_is_listed_by_namespace(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    sub = note_taker(seen).compile(checkpointer=True)

    async def first(state: Notes) -> dict[str, Any]:
        return {"notes": ["first"]}

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Notes)
        b.add_node("first", first)
        b.add_node("memo", sub)
        b.add_edge(START, "first")
        b.add_edge("first", "memo")
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"notes": ["go"]}, cfg("t"))
        await graph.ainvoke({"notes": ["again"]}, cfg("t"))
        assert seen[0] == ["go", "first"]
        # the second call starts from the state the first left (reducers apply to it)
        assert seen[1][:4] == ["go", "first", "took 2", "go"]

        sub_cfg = cfg("t", checkpoint_ns="memo")
        state = await graph.aget_state(sub_cfg)
        assert state.values["notes"][-1].startswith("took")
        assert state.config["configurable"]["checkpoint_ns"] == "memo"
        history = [s async for s in graph.aget_state_history(sub_cfg)]
        assert history and all(s.config["configurable"]["checkpoint_ns"] == "memo" for s in history)
        assert [s.metadata["source"] for s in history].count("input") == 2
        steps = [s.metadata["step"] for s in history]
        assert steps == sorted(steps, reverse=True)  # continues across calls, newest first
        # each subgraph checkpoint names the caller's checkpoint it ran under
        top_ids = {s.config["configurable"]["checkpoint_id"] async for s in graph.aget_state_history(cfg("t"))}
        assert all(set(s.metadata["parents"]) == {""} for s in history)
        assert all(s.metadata["parents"][""] in top_ids for s in history)
        # the saver lists the same checkpoints
        listed = [t async for t in saver.alist(sub_cfg)]
        assert [t.config["configurable"]["checkpoint_id"] for t in listed] == [
            s.config["configurable"]["checkpoint_id"] for s in history]
        # the caller's history still lists only its own checkpoints
        assert {s.config["configurable"]["checkpoint_ns"]
                async for s in graph.aget_state_history(cfg("t"))} == {""}


async def test_kept_subgraph_interrupt_resumes_and_keeps_state(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = caller_of(note_taker(seen, ask=True).compile(checkpointer=True), saver)
        out = await graph.ainvoke({"said": "a", "heard": []}, cfg("t"), durability="sync")
        assert [i.value for i in out["__interrupt__"]] == ["ok?"]
        # resumed by a process that starts cold
        graph = caller_of(note_taker(seen, ask=True).compile(checkpointer=True), Checkpointer(saver.log))
        out = await graph.ainvoke(Command(resume="yes"), cfg("t"), durability="sync")
        assert out["heard"] == ["took yes"]
        out = await graph.ainvoke({"said": "b", "heard": []}, cfg("t"), durability="sync")
        assert "__interrupt__" in out
        out = await graph.ainvoke(Command(resume="sure"), cfg("t"), durability="sync")
        assert out["heard"] == ["took yes", "took sure"]
        assert seen == [["a"], ["a"], ["a", "took yes", "b"], ["a", "took yes", "b"]]


async def test_kept_subgraph_is_not_run_again_when_its_caller_fails_after_it(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    sub = note_taker(seen).compile(checkpointer=True)
    failures = ["disk full"]

    async def talk(state: Caller) -> dict[str, Any]:
        out = await sub.ainvoke({"notes": [state["said"]]})
        if failures:
            raise Boom(failures.pop())
        return {"heard": [out["notes"][-1]]}

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Caller)
        b.add_node("talk", talk)
        b.add_edge(START, "talk")
        graph = b.compile(checkpointer=saver)
        with pytest.raises(Boom):
            await graph.ainvoke({"said": "a", "heard": []}, cfg("t"), durability="sync")
        out = await graph.ainvoke(None, cfg("t"), durability="sync")
        assert out["heard"] == ["took 1"]
        assert seen == [["a"]]  # the subgraph's node ran once; the rerun read its result


async def test_fork_of_the_caller_sees_the_kept_state_of_its_fork_point(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = caller_of(note_taker(seen).compile(checkpointer=True), saver)
        await graph.ainvoke({"said": "a", "heard": []}, cfg("t"))
        await graph.ainvoke({"said": "b", "heard": []}, cfg("t"))
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        before_second = next(s for s in history if s.next == ("talk",))  # newest first: run 2
        seen.clear()
        await graph.ainvoke(None, before_second.config)  # replay from there
        assert seen == [["a", "took 1", "b"]]  # the subgraph as the first run left it
        forked = await graph.aupdate_state(before_second.config, {"said": "z"})
        seen.clear()
        await graph.ainvoke(None, forked)
        assert seen == [["a", "took 1", "z"]]


async def test_kept_subgraphs_called_in_one_node_are_apart(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    fruit_seen: list[list[str]] = []
    veg_seen: list[list[str]] = []
    fruit = note_taker(fruit_seen).compile(checkpointer=True)
    veg = note_taker(veg_seen).compile(checkpointer=True)

    def both(state: Caller) -> dict[str, Any]:  # a sync node: its calls run on the loop
        f = fruit.invoke({"notes": ["fruit " + state["said"]]})
        v = veg.invoke({"notes": ["veg " + state["said"]]})
        return {"heard": [f["notes"][-1], v["notes"][-1]]}

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Caller)
        b.add_node("both", both)
        b.add_edge(START, "both")
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"said": "1", "heard": []}, cfg("t"))
        await graph.ainvoke({"said": "2", "heard": []}, cfg("t"))
        assert fruit_seen == [["fruit 1"], ["fruit 1", "took 1", "fruit 2"]]
        assert veg_seen == [["veg 1"], ["veg 1", "took 1", "veg 2"]]
        for ns in ("both", "both|1"):
            assert (await graph.aget_state(cfg("t", checkpoint_ns=ns))).values["notes"]


async def test_kept_graph_called_as_a_top_graph_is_refused(anyio_backend: str) -> None:
    sub = note_taker([]).compile(checkpointer=True)
    with pytest.raises(RuntimeError, match="root graphs"):
        await sub.ainvoke({"notes": ["x"]}, cfg("t"))


# -- checkpointer=False, a store of its own, a thread of its own ------------------------------


async def test_stateless_subgraph_writes_nothing_and_can_route_its_caller(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    async def escalate(state: Notes) -> Command:
        seen.append(list(state["notes"]))
        if state["notes"][-1] == "help":
            return Command(graph=Command.PARENT, goto="human", update={"heard": ["escalated"]})
        return Command(update={"notes": ["fine"]})

    ib = StateGraph(Notes)
    ib.add_node("escalate", escalate)
    ib.add_edge(START, "escalate")
    sub = ib.compile(checkpointer=False)

    async def talk(state: Caller) -> dict[str, Any]:
        out = await sub.ainvoke({"notes": [state["said"]]})
        return {"heard": [out["notes"][-1]]}

    async def human(state: Caller) -> dict[str, Any]:
        return {"heard": ["human"]}

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Caller)
        b.add_node("talk", talk)
        b.add_node("human", human)
        b.add_edge(START, "talk")
        graph = b.compile(checkpointer=saver)
        assert (await graph.ainvoke({"said": "a", "heard": []}, cfg("t")))["heard"] == ["fine"]
        assert (await graph.ainvoke({"said": "b", "heard": []}, cfg("t")))["heard"] == ["fine", "fine"]
        assert seen == [["a"], ["b"]]  # fresh each time
        assert {e.ns for e in await saver.log.read("t")} == {""}  # nothing of it in the log
        out = await graph.ainvoke({"said": "help", "heard": []}, cfg("t"))
        assert out["heard"][-2:] == ["escalated", "human"]


async def test_interrupt_in_a_stateless_subgraph_is_refused(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = caller_of(note_taker([], ask=True).compile(checkpointer=False), saver)
        with pytest.raises(RuntimeError, match="checkpointer=False"):
            await graph.ainvoke({"said": "a", "heard": []}, cfg("t"))


async def test_subgraph_with_a_store_of_its_own_nests_in_its_caller(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[list[str]] = []
    own = InMemorySaver()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = caller_of(note_taker(seen, ask=True).compile(checkpointer=own), saver)
        out = await graph.ainvoke({"said": "a", "heard": []}, cfg("t"))
        assert [i.value for i in out["__interrupt__"]] == ["ok?"]
        out = await graph.ainvoke(Command(resume="yes"), cfg("t"))
        assert out["heard"] == ["took yes"]
        assert any(e.ns.startswith("talk:") for e in await saver.log.read("t"))
        assert not await own.log.threads()  # as LangGraph: the caller's store is used
    await own.aclose()


async def test_graph_called_with_its_own_thread_id_is_its_own_thread(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    class Count(TypedDict):
        count: int

    async def bump(state: Count) -> dict[str, Any]:
        return {"count": (state.get("count") or 0) + 1}

    async with open_saver(store_kind, tmp_path) as saver:
        cb = StateGraph(Count)
        cb.add_node("bump", bump)
        cb.add_edge(START, "bump")
        child = cb.compile(checkpointer=saver)

        def talk(state: Caller) -> dict[str, Any]:  # sync: the call runs on the node's loop
            out = child.invoke({}, cfg("counter"))
            return {"heard": [str(out["count"])]}

        async def atalk(state: Caller) -> dict[str, Any]:
            out = await child.ainvoke({}, cfg("counter"))
            return {"heard": [str(out["count"])]}

        for name, fn in (("sync", talk), ("async", atalk)):
            b = StateGraph(Caller)
            b.add_node("talk", fn)
            b.add_edge(START, "talk")
            graph = b.compile(checkpointer=saver)
            await graph.ainvoke({"said": "a", "heard": []}, cfg(f"t-{name}"))
            await graph.ainvoke({"said": "b", "heard": []}, cfg(f"t-{name}"))
            assert {e.ns for e in await saver.log.read(f"t-{name}")} == {""}
        state = await child.aget_state(cfg("counter"))
        assert state.values == {"count": 4}
        assert state.config["configurable"]["checkpoint_ns"] == ""


# -- the functional API --------------------------------------------------------------------------


async def test_entrypoints_called_inside_entrypoints_and_tasks(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[Any] = []

    @entrypoint()
    async def double(x: Any) -> Any:
        ran.append(x)
        return {"twice": x * 2}

    @task
    async def via_task(x: Any) -> Any:
        return await double.ainvoke(x)

    async with open_saver(store_kind, tmp_path) as saver:

        @entrypoint(checkpointer=saver)
        async def outer(items: list[int]) -> Any:
            direct = await double.ainvoke(items[0])
            tasked = await via_task(items)
            answer = interrupt("more?")
            return [direct, tasked, answer]

        out = await outer.ainvoke([3, 4], cfg("t"))
        assert "__interrupt__" in out
        assert ran == [3, [3, 4]]
        out = await outer.ainvoke(Command(resume="no"), cfg("t"))
        assert out == [{"twice": 6}, {"twice": [3, 4, 3, 4]}, "no"]
        assert ran == [3, [3, 4]]  # on resume, the nested entrypoint and the task are replayed
