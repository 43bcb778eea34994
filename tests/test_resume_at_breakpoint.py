"""``Command(resume=...)`` on a thread that waits with no interrupt pending (a static
breakpoint, a failed step) continues it as ``invoke(None)`` does, as LangGraph does; the
answer is what the first ``interrupt()`` of the step's first task returns, so that node
does not pause again. A thread with nothing to run still refuses it, and a resume that
cannot be placed writes nothing. On every store, asyncio and trio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import pytest

from lograph.runtime import START, Command, ResumeError, StateGraph, interrupt, verify_thread
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Trail(TypedDict):
    trail: str


def asking() -> StateGraph:
    def ask(state: Trail) -> dict[str, Any]:
        return {"trail": f"{state['trail']}|asked:{interrupt('which way?')}"}

    def after(state: Trail) -> dict[str, Any]:
        return {"trail": state["trail"] + "|after"}

    b = StateGraph(Trail)
    b.add_node("ask", ask)
    b.add_node("after", after)
    b.add_edge(START, "ask")
    b.add_edge("ask", "after")
    return b


async def events(saver: Any, thread: str) -> list[Any]:
    return list(await saver.log.read(thread))


async def test_an_answer_at_a_breakpoint_goes_to_the_nodes_first_interrupt(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking().compile(checkpointer=saver, interrupt_before=["ask"])
        config = {"configurable": {"thread_id": "before"}}
        assert await graph.ainvoke({"trail": "in"}, config) == {"trail": "in"}
        assert (await graph.aget_state(config)).next == ("ask",)
        assert await graph.ainvoke(Command(resume="left"), config) == {"trail": "in|asked:left|after"}
        assert (await graph.aget_state(config)).next == ()
        assert (await verify_thread(saver, "before", graph=graph)).ok


async def test_an_answer_after_a_node_continues_the_run(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking().compile(checkpointer=saver, interrupt_after=["ask"])
        config = {"configurable": {"thread_id": "after"}}
        out = await graph.ainvoke({"trail": "in"}, config)
        assert [i.value for i in out["__interrupt__"]] == ["which way?"]
        assert await graph.ainvoke(Command(resume="right"), config) == {"trail": "in|asked:right"}
        # paused at the breakpoint after "ask": the next answer continues to "after",
        # whose code asks nothing
        assert await graph.ainvoke(Command(resume="unused"), config) == {"trail": "in|asked:right|after"}
        # the run is over: nothing to answer or run, so a resume is refused, nothing written
        before = await events(saver, "after")
        with pytest.raises(ResumeError, match="nothing is waiting"):
            await graph.ainvoke(Command(resume="late"), config)
        assert await events(saver, "after") == before


async def test_an_answer_after_a_failed_step_retries_it(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    calls: list[str] = []

    def flaky(state: Trail) -> dict[str, Any]:
        calls.append(state["trail"])
        if len(calls) == 1:
            raise ValueError("first try fails")
        return {"trail": f"{state['trail']}|{interrupt('again?')}"}

    b = StateGraph(Trail)
    b.add_node("flaky", flaky)
    b.add_edge(START, "flaky")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "failed"}}
        with pytest.raises(ValueError, match="first try fails"):
            await graph.ainvoke({"trail": "in"}, config)
        assert await graph.ainvoke(Command(resume="yes"), config) == {"trail": "in|yes"}
        assert calls == ["in", "in"]


async def test_answers_a_breakpoint_cannot_take_are_refused(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking().compile(checkpointer=saver, interrupt_before=["ask", "after"])
        config = {"configurable": {"thread_id": "refused"}}
        await graph.ainvoke({"trail": "in"}, config)
        at_ask = await graph.aget_state(config)
        await graph.ainvoke(Command(resume="left"), config)
        assert (await graph.aget_state(config)).next == ("after",)
        before = await events(saver, "refused")
        # a map by interrupt id names an interrupt that is not pending
        with pytest.raises(ResumeError, match="no pending interrupt has id"):
            await graph.ainvoke(Command(resume={"0" * 32: "x"}), config)
        # an earlier checkpoint's breakpoint: its step gets new task ids on the new branch
        with pytest.raises(ResumeError, match=r"invoke\(None, config\)"):
            await graph.ainvoke(Command(resume="x"), at_ask.config)
        assert await events(saver, "refused") == before
