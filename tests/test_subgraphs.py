"""Subgraphs: a compiled graph as a node, and a graph invoked inside a node.

Their checkpoints live in the caller's thread under ``checkpoint_ns`` ("<node>:<task id>");
an interrupt inside one surfaces to the caller, and resuming continues inside it without
re-running its finished nodes. Every test runs on every store, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import Kind, decode
from lograph.runtime import END, START, Command, InvalidUpdateError, StateGraph, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Outer(TypedDict):
    topic: str
    log: Annotated[list, operator.add]
    verdict: str


class Inner(TypedDict):
    topic: str  # shared with the caller: its input
    verdict: str  # shared with the caller: its output
    draft: str  # the subgraph's own


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


class Boom(Exception):
    pass


def inner_graph(ran: list[str], *, ask: bool = False, fail_once: list[str] | None = None) -> Any:
    async def write(state: Inner) -> dict[str, Any]:
        ran.append("write")
        return {"draft": f"draft on {state['topic']}"}

    async def check(state: Inner) -> dict[str, Any]:
        ran.append("check")
        if fail_once:
            raise Boom(fail_once.pop())
        if ask:
            answer = interrupt({"draft": state["draft"]})
            return {"verdict": f"{state['draft']}: {answer}"}
        return {"verdict": f"{state['draft']}: fine"}

    b = StateGraph(Inner)
    b.add_node("write", write)
    b.add_node("check", check)
    b.add_edge(START, "write")
    b.add_edge("write", "check")
    b.add_edge("check", END)
    return b.compile()


def outer_graph(sub: Any, saver: Any, ran: list[str]) -> Any:
    async def plan(state: Outer) -> dict[str, Any]:
        ran.append("plan")
        return {"log": ["plan"]}

    async def publish(state: Outer) -> dict[str, Any]:
        ran.append("publish")
        return {"log": [f"publish {state['verdict']}"]}

    b = StateGraph(Outer)
    b.add_node("plan", plan)
    b.add_node("team", sub)
    b.add_node("publish", publish)
    b.add_edge(START, "plan")
    b.add_edge("plan", "team")
    b.add_edge("team", "publish")
    b.add_edge("publish", END)
    return b.compile(checkpointer=saver)


async def test_compiled_graph_as_a_node(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = outer_graph(inner_graph(ran), saver, ran)
        out = await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))
        assert out == {"topic": "owls", "log": ["plan", "publish draft on owls: fine"],
                       "verdict": "draft on owls: fine"}
        assert "draft" not in out  # the subgraph's own key stays in the subgraph
        assert ran == ["plan", "write", "check", "publish"]
        # the subgraph's checkpoints are in the same thread, under its namespace
        events = await saver.log.read("t")
        namespaces = {e.ns for e in events if e.kind == Kind.CHECKPOINT}
        (sub_ns,) = namespaces - {""}
        assert sub_ns.startswith("team:")
        # the caller's history lists only its own checkpoints
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        assert all(s.config["configurable"]["checkpoint_ns"] == "" for s in history)
        assert [s.metadata["step"] for s in history] == [3, 2, 1, 0, -1]


async def test_interrupt_in_subgraph_resumes_without_rerunning_its_finished_nodes(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = outer_graph(inner_graph(ran, ask=True), saver, ran)
        out = await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))
        (pending,) = out["__interrupt__"]
        assert pending.value == {"draft": "draft on owls"}
        assert ran == ["plan", "write", "check"]

        state = await graph.aget_state(cfg("t"), subgraphs=True)
        assert state.next == ("team",)
        assert [i.id for i in state.interrupts] == [pending.id]
        (team,) = state.tasks
        sub_state = team.state
        assert sub_state is not None and sub_state.next == ("check",)
        assert sub_state.values["draft"] == "draft on owls"
        sub_ns = sub_state.config["configurable"]["checkpoint_ns"]
        assert sub_ns == f"team:{team.id}"
        # the same state, addressed by its namespace
        direct = await graph.aget_state({"configurable": {"thread_id": "t", "checkpoint_ns": sub_ns}})
        assert direct.values == sub_state.values and direct.next == ("check",)
        # without subgraphs=True: where to read it (its namespace), as LangGraph gives it
        plain = (await graph.aget_state(cfg("t"))).tasks[0].state
        assert plain == {"configurable": {"thread_id": "t", "checkpoint_ns": sub_ns}}

        out = await graph.ainvoke(Command(resume="approved"), cfg("t"))
        assert out["log"] == ["plan", "publish draft on owls: approved"]
        assert ran == ["plan", "write", "check", "check", "publish"]  # write ran once


async def test_subgraph_failure_resumes_inside_the_subgraph(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = outer_graph(inner_graph(ran, fail_once=["disk full"]), saver, ran)
        with pytest.raises(Boom):
            await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"), durability="sync")
        assert ran == ["plan", "write", "check"]
        out = await graph.ainvoke(None, cfg("t"), durability="sync")
        assert out["log"] == ["plan", "publish draft on owls: fine"]
        assert ran == ["plan", "write", "check", "check", "publish"]


@pytest.mark.parametrize("style", ["async", "sync"])
async def test_graph_invoked_inside_a_node(
    anyio_backend: str, store_kind: str, tmp_path: Path, style: str
) -> None:
    ran: list[str] = []
    sub = inner_graph(ran, ask=True)
    async with open_saver(store_kind, tmp_path) as saver:
        if style == "async":
            async def team(state: Outer) -> dict[str, Any]:
                ran.append("team")
                result = await sub.ainvoke({"topic": state["topic"]})
                return {"verdict": result["verdict"]}
        else:
            def team(state: Outer) -> dict[str, Any]:  # type: ignore[misc]
                ran.append("team")
                result = sub.invoke({"topic": state["topic"]})
                return {"verdict": result["verdict"]}

        b = StateGraph(Outer)
        b.add_node("team", team)
        b.add_edge(START, "team")
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))
        assert "__interrupt__" in out
        state = await graph.aget_state(cfg("t"), subgraphs=True)
        assert state.tasks[0].state.values["draft"] == "draft on owls"  # shown as stored
        out = await graph.ainvoke(Command(resume="ok"), cfg("t"))
        assert out["verdict"] == "draft on owls: ok"
        # the caller's code before the subgraph call runs again; the subgraph's nodes do not
        assert ran == ["team", "write", "check", "team", "check"]


async def test_command_parent_routes_the_caller(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async def escalate(state: Inner) -> Command:
        return Command(graph=Command.PARENT, goto="human", update={"log": ["escalated"]})

    async def never(state: Inner) -> dict[str, Any]:
        raise AssertionError("the subgraph ended with the command")

    ib = StateGraph(Inner)
    ib.add_node("escalate", escalate)
    ib.add_node("never", never)
    ib.add_edge(START, "escalate")
    ib.add_edge("escalate", "never")
    sub = ib.compile()

    async def human(state: Outer) -> dict[str, Any]:
        return {"verdict": "seen by a human", "log": ["human"]}

    async def robot(state: Outer) -> dict[str, Any]:
        return {"verdict": "robot", "log": ["robot"]}

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Outer)
        b.add_node("team", sub)
        b.add_node("human", human)
        b.add_node("robot", robot)
        b.add_edge(START, "team")
        b.add_edge("human", END)
        b.add_edge("robot", END)
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))
        assert out == {"topic": "owls", "log": ["escalated", "human"], "verdict": "seen by a human"}
        writes = [decode(e.body) for e in await saver.log.read("t") if e.kind == Kind.NODE_WRITES and not e.ns]
        assert [w["name"] for w in writes] == ["team", "human"]  # the command is the caller's write


async def test_command_parent_outside_a_subgraph_is_an_error(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async def node(state: Outer) -> Command:
        return Command(graph=Command.PARENT, goto="x")

    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Outer)
        b.add_node("node", node)
        b.add_edge(START, "node")
        graph = b.compile(checkpointer=saver)
        with pytest.raises(InvalidUpdateError, match="not running as a subgraph"):
            await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))


async def test_nested_subgraphs_and_breakpoints(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    ran: list[str] = []
    innermost = inner_graph(ran)

    mb = StateGraph(Inner)
    mb.add_node("deep", innermost)
    mb.add_edge(START, "deep")
    middle = mb.compile(interrupt_before=["deep"])  # a breakpoint inside the subgraph

    async with open_saver(store_kind, tmp_path) as saver:
        graph = outer_graph(middle, saver, ran)
        out = await graph.ainvoke({"topic": "owls", "log": []}, cfg("t"))
        assert out["log"] == ["plan"] and ran == ["plan"]
        state = await graph.aget_state(cfg("t"), subgraphs=True)
        assert state.next == ("team",)
        assert state.tasks[0].state.next == ("deep",)
        out = await graph.ainvoke(None, cfg("t"))
        assert out["log"] == ["plan", "publish draft on owls: fine"]
        assert ran == ["plan", "write", "check", "publish"]
        namespaces = {e.ns for e in await saver.log.read("t")}
        assert any(ns.count("|") == 1 and ns.split("|")[1].startswith("deep:") for ns in namespaces)
