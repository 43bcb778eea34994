"""Human in the loop and time travel: breakpoints, interrupt()/Command(resume), update_state, forks."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import END, START, Command, ResumeError, StateGraph, entrypoint, interrupt
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Job(TypedDict):
    log: Annotated[list, operator.add]
    status: str


def chain() -> StateGraph:
    b = StateGraph(Job)
    b.add_node("process", lambda s: {"log": ["process"], "status": "processing"})
    b.add_node("review", lambda s: {"log": ["review"], "status": "completed"})
    b.add_edge(START, "process")
    b.add_edge("process", "review")
    b.add_edge("review", END)
    return b


class Answers(TypedDict):
    answers: Annotated[list, operator.add]


def asker(name: str) -> Any:
    def node(state: Answers) -> dict[str, Any]:
        first = interrupt(f"{name}-1")
        second = interrupt(f"{name}-2")
        return {"answers": [f"{name}:{first}:{second}"]}

    return node


def parallel_askers() -> StateGraph:
    b = StateGraph(Answers)
    b.add_node("x", asker("x"))
    b.add_node("y", asker("y"))
    b.add_edge(START, "x")
    b.add_edge(START, "y")
    return b


async def log_of(saver: Any, thread: str) -> list[Any]:
    return await saver.log.read(thread)


async def test_interrupt_before_pauses_and_none_resumes(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver, interrupt_before=["review"])
        config = {"configurable": {"thread_id": "approval-task-789"}}
        out = await graph.ainvoke({"log": ["in"], "status": "started"}, config)
        assert out == {"log": ["in", "process"], "status": "processing"}
        state = await graph.aget_state(config)
        assert state.next == ("review",)
        out = await graph.ainvoke(None, config)
        assert out == {"log": ["in", "process", "review"], "status": "completed"}
        assert (await graph.aget_state(config)).next == ()


async def test_update_state_as_node_then_resume(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver, interrupt_before=["review"])
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"log": [], "status": "started"}, config)
        before = await graph.aget_state(config)
        new_config = await graph.aupdate_state(config, {"status": "approved"}, as_node="review")
        state = await graph.aget_state(config)
        assert state.values["status"] == "approved"
        assert state.next == ()  # review's edge leads to END
        assert state.metadata["source"] == "update"
        assert state.metadata["step"] == before.metadata["step"] + 1
        assert state.parent_config["configurable"]["checkpoint_id"] == before.config["configurable"]["checkpoint_id"]
        assert new_config["configurable"]["checkpoint_id"] == state.config["configurable"]["checkpoint_id"]
        out = await graph.ainvoke(None, config)
        assert out["status"] == "approved"


async def test_update_state_as_earlier_node_reruns_what_follows(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver, interrupt_before=["review"])
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"log": [], "status": "started"}, config)
        await graph.aupdate_state(config, {"log": ["edited"]}, as_node="process")
        assert (await graph.aget_state(config)).next == ("review",)
        out = await graph.ainvoke(None, config)
        assert out["log"] == ["process", "edited", "review"]


async def test_parallel_interrupts_have_distinct_ids_and_resume_by_map(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = parallel_askers().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "p"}}
        out = await graph.ainvoke({"answers": []}, config)
        pending = out["__interrupt__"]
        assert sorted(i.value for i in pending) == ["x-1", "y-1"]
        assert len({i.id for i in pending}) == 2
        # one at a time: only x's first interrupt is answered
        x_first = next(i for i in pending if i.value == "x-1")
        out = await graph.ainvoke(Command(resume={x_first.id: "A"}), config)
        assert sorted(i.value for i in out["__interrupt__"]) == ["x-2", "y-1"]
        # the rest together
        out = await graph.ainvoke(Command(resume={i.id: "B" for i in out["__interrupt__"]}), config)
        assert [i.value for i in out["__interrupt__"]] == ["y-2"]
        out = await graph.ainvoke(Command(resume={i.id: "C" for i in out["__interrupt__"]}), config)
        assert sorted(out["answers"]) == ["x:A:B", "y:B:C"]
        assert "__interrupt__" not in out


async def test_bad_resumes_are_errors_and_write_nothing(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = parallel_askers().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "p"}}
        await graph.ainvoke({"answers": []}, config)
        before = await log_of(saver, "p")
        with pytest.raises(ResumeError, match=r"multiple pending interrupts.*2 interrupts are pending"):
            await graph.ainvoke(Command(resume="plain"), config)
        with pytest.raises(ResumeError, match="no pending interrupt has id"):
            await graph.ainvoke(Command(resume={"0" * 32: "v"}), config)
        assert await log_of(saver, "p") == before
        done = chain().compile(checkpointer=saver)
        other = {"configurable": {"thread_id": "done"}}
        await done.ainvoke({"log": [], "status": "s"}, other)
        before = await log_of(saver, "done")
        with pytest.raises(ResumeError, match="nothing is waiting"):
            await done.ainvoke(Command(resume="v"), other)
        assert await log_of(saver, "done") == before


async def test_fork_from_an_old_checkpoint_leaves_the_original_branch(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "tt"}}
        await graph.ainvoke({"log": ["a"], "status": "started"}, config)
        history = [s async for s in graph.aget_state_history(config)]
        originals = {s.config["configurable"]["checkpoint_id"]: s.values for s in history}
        target = history[2]  # step 0: before "process"
        assert target.next == ("process",)
        out = await graph.ainvoke({"log": ["other"]}, target.config)
        assert out["log"] == ["a", "other", "process", "review"]
        head = await graph.aget_state(config)
        assert head.values["log"] == ["a", "other", "process", "review"]
        for cid, values in originals.items():
            again = await graph.aget_state({"configurable": {"thread_id": "tt", "checkpoint_id": cid}})
            assert again.values == values
        after = [s async for s in graph.aget_state_history(config)]
        assert len(after) == len(history) + 4
        assert [s.metadata["step"] for s in after][:4] == [4, 3, 2, 1]


async def test_replay_from_checkpoint_reruns_nodes(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "r"}}
        await graph.ainvoke({"log": [], "status": "s"}, config)
        history = [s async for s in graph.aget_state_history(config)]
        out = await graph.ainvoke(None, history[1].config)  # before review
        assert out["log"] == ["process", "review"]
        head = await graph.aget_state(config)
        assert head.metadata["source"] == "loop"
        newest = [s async for s in graph.aget_state_history(config, limit=2)]
        assert newest[1].metadata["source"] == "fork"


async def test_unknown_checkpoint_id_is_a_clear_error(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "u"}}
        await graph.ainvoke({"log": [], "status": "s"}, config)
        bad = {"configurable": {"thread_id": "u", "checkpoint_id": "00000000-0000-0063-0000-000000000000"}}
        with pytest.raises(ValueError, match="does not exist in thread 'u'"):
            await graph.aget_state(bad)
        with pytest.raises(ValueError, match="not a lograph checkpoint id"):
            await graph.ainvoke(None, {"configurable": {"thread_id": "u", "checkpoint_id": "nope"}})


# --- Command(update=, goto=) as input ------------------------------------------------------


class Gate(TypedDict):
    log: Annotated[list, operator.add]
    k: str


def gate(ran: list[str], fail_once: list[str] | None = None) -> StateGraph:
    def a(state: Gate) -> dict[str, Any]:
        ran.append("a")
        return {"log": [f"a:{state.get('k', '-')}"]}

    def b(state: Gate) -> dict[str, Any]:
        ran.append("b")
        if fail_once:
            raise RuntimeError(fail_once.pop())
        answer = interrupt("ok?") if state.get("k") == "ask" else "no"
        return {"log": [f"b:{state.get('k', '-')}:{answer}"]}

    g = StateGraph(Gate)
    g.add_node("a", a)
    g.add_node("b", b)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g


async def test_command_resume_with_update_edits_the_state_the_node_sees(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = gate([]).compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "c"}, "metadata": {"user": "ana"}}
        out = await graph.ainvoke({"log": [], "k": "ask"}, config)
        assert "__interrupt__" in out
        out = await graph.ainvoke(Command(resume="yes", update={"log": ["edited"]}), config)
        assert out == {"log": ["a:ask", "edited", "b:ask:yes"], "k": "ask"}  # as LangGraph 1.2.22
        history = [(s.metadata["source"], s.metadata["step"], s.next) async for s in graph.aget_state_history(config)]
        assert history[:3] == [("loop", 2, ()), ("loop", 1, ("b",)), ("loop", 0, ("a",))]
        writes = [e for e in await log_of(saver, "c") if e.kind == "node.writes" and e.task_id.startswith("0000")]
        assert len(writes) == 1  # the edit is in the log, as the input's writes


async def test_command_update_and_goto_on_a_finished_thread(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = gate(ran).compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "c"}}
        await graph.ainvoke({"log": [], "k": "x"}, config)
        out = await graph.ainvoke(Command(update={"log": ["u"], "k": "y"}), config)
        assert out == {"log": ["a:x", "b:x:no", "u"], "k": "y"}
        state = await graph.aget_state(config)
        assert (state.metadata["source"], state.metadata["step"], state.next) == ("loop", 3, ())
        out = await graph.ainvoke(Command(goto="b", update={"k": "z"}), config)
        assert out == {"log": ["a:x", "b:x:no", "u", "b:z:no"], "k": "z"}
        assert ran == ["a", "b", "b"]
        # the fold of the log alone agrees (the actor's cached fold dropped)
        saver.actor("c").forget()
        assert (await graph.aget_state(config)).values == out


async def test_bad_command_input_is_an_error_and_writes_nothing(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    from lograph.runtime import EmptyInputError, InvalidUpdateError

    async with open_saver(store_kind, tmp_path) as saver:
        graph = gate([]).compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "c"}}
        with pytest.raises(EmptyInputError):
            await graph.ainvoke(Command(update={"k": "y"}), config)
        await graph.ainvoke({"log": [], "k": "x"}, config)
        before = await log_of(saver, "c")
        with pytest.raises(InvalidUpdateError, match="'nope'"):
            await graph.ainvoke(Command(update={"nope": 1}), config)
        with pytest.raises(InvalidUpdateError, match="'ghost', which is not a node"):
            await graph.ainvoke(Command(goto="ghost"), config)
        assert await log_of(saver, "c") == before


async def test_command_update_survives_a_failed_step(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    ran: list[str] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = gate(ran, fail_once=["flaky"]).compile(checkpointer=saver, interrupt_before=["b"])
        config = {"configurable": {"thread_id": "c"}}
        await graph.ainvoke({"log": [], "k": "x"}, config)
        with pytest.raises(RuntimeError, match="flaky"):
            await graph.ainvoke(Command(update={"k": "edited"}), config, durability="sync")
        out = await graph.ainvoke(None, config, durability="sync")  # the edit is still there
        assert out == {"log": ["a:x", "b:edited:no"], "k": "edited"}
        assert ran == ["a", "b", "b"]


async def test_an_entrypoint_paused_again_returns_its_last_value_with_the_interrupt(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """LangGraph 1.2.22, same program: a later run that pauses returns the thread's last
    return value (a dict) with ``__interrupt__``; the first pause has none to show."""
    async with open_saver(store_kind, tmp_path) as saver:

        @entrypoint(checkpointer=saver)
        async def review(draft: str) -> dict[str, Any]:
            return {"draft": draft, "verdict": interrupt(f"approve {draft}?")}

        config = {"configurable": {"thread_id": "t"}}
        first = await review.ainvoke("v1", config)
        assert list(first) == ["__interrupt__"]
        assert await review.ainvoke(Command(resume="ok"), config) == {"draft": "v1", "verdict": "ok"}
        second = await review.ainvoke("v2", config)
        assert [i.value for i in second.pop("__interrupt__")] == ["approve v2?"]
        assert second == {"draft": "v1", "verdict": "ok"}
