"""interrupt(value, response_schema=...): the schema an interrupt shows, the answer it
checks, and a refused answer that leaves the thread as it was (the interrupt pending)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import pytest
from pydantic import BaseModel, ValidationError
from typing_extensions import TypedDict

from lograph.eventlog import fold
from lograph.runtime import (
    START,
    Command,
    InvalidUpdateError,
    ParentCommand,
    RetryPolicy,
    StateGraph,
    entrypoint,
    interrupt,
    is_invalid_resume,
    task,
    verify_thread,
)
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    ok: bool
    reason: str = ""


class VerdictDict(TypedDict):
    ok: bool


@dataclass
class VerdictData:
    ok: bool


class Slot(TypedDict):
    got: Any


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


def asking(schema: Any) -> StateGraph:
    def ask(state: Slot) -> dict[str, Any]:
        return {"got": interrupt({"q": "ship it?"}, response_schema=schema)}

    return StateGraph(Slot).add_node("ask", ask).add_edge(START, "ask")


def cfg(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def checkpoints(graph: Any, config: dict[str, Any]) -> int:
    return len([s async for s in graph.aget_state_history(config)])


VERDICT_SCHEMA = {"properties": {"ok": {"title": "Ok", "type": "boolean"}}, "required": ["ok"],
                  "type": "object"}


@pytest.mark.parametrize(("schema", "shown", "answer"), [
    (None, None, {"ok": "yes", "more": 1}),
    ({"type": "object"}, {"type": "object"}, {"ok": "yes", "more": 1}),
    (Verdict, Verdict.model_json_schema(), Verdict(ok=True)),
    (VerdictDict, {**VERDICT_SCHEMA, "title": "VerdictDict"}, {"ok": True}),
    (VerdictData, {**VERDICT_SCHEMA, "title": "VerdictData"}, VerdictData(ok=True)),
], ids=["none", "json-schema", "model", "typeddict", "dataclass"])
async def test_the_interrupt_shows_its_schema_and_the_answer_comes_back_validated(
    anyio_backend: str, store_kind: str, tmp_path: Path, schema: Any, shown: Any, answer: Any,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking(schema).compile(checkpointer=saver)
        out = await graph.ainvoke({"got": None}, cfg())
        [pending] = out["__interrupt__"]
        assert (pending.value, pending.response_schema) == ({"q": "ship it?"}, shown)
        state = await graph.aget_state(cfg())
        assert state.interrupts == (pending,) and state.tasks[0].interrupts == (pending,)
        # a dict schema is shown only; a type checks the answer and returns what it makes
        assert await graph.ainvoke(Command(resume={"ok": "yes", "more": 1}), cfg()) == {"got": answer}
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_refused_answer_raises_and_the_interrupt_waits_again(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking(Verdict).compile(checkpointer=saver)
        await graph.ainvoke({"got": None}, cfg())
        [pending] = (await graph.aget_state(cfg())).interrupts
        before = await checkpoints(graph, cfg())
        for answer in (Command(resume={"ok": "maybe"}), Command(resume={pending.id: [1, 2]})):
            with pytest.raises(ValidationError, match="Verdict") as raised:
                await graph.ainvoke(answer, cfg())
            assert is_invalid_resume(raised.value)
            state = await graph.aget_state(cfg())
            assert state.interrupts == (pending,) and state.next == ("ask",)
            assert state.values == {"got": None}
            assert await checkpoints(graph, cfg()) == before  # no step was taken
        # the log, folded afresh, holds the interrupt pending and no answer to it
        cp = fold(None, await saver.log.read("t"))
        assert list(cp.interrupts) == [pending.id] and cp.resumes == {}
        assert (await verify_thread(saver, "t", graph=graph)).ok
        # invoke(None) runs the node again: it asks again, with the same id
        out = await graph.ainvoke(None, cfg())
        assert out["__interrupt__"] == [pending]
        assert await graph.ainvoke(Command(resume={pending.id: {"ok": False}}), cfg()) == {
            "got": Verdict(ok=False)}
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_refused_second_answer_keeps_the_first(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    def two(state: Slot) -> dict[str, Any]:
        name = interrupt("name?")
        verdict = interrupt("ok?", response_schema=VerdictDict)
        return {"got": [name, verdict]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Slot).add_node("two", two).add_edge(START, "two").compile(checkpointer=saver)
        await graph.ainvoke({"got": None}, cfg())
        await graph.ainvoke(Command(resume="ada"), cfg())
        [second] = (await graph.aget_state(cfg())).interrupts
        assert second.value == "ok?"
        with pytest.raises(ValidationError):
            await graph.ainvoke(Command(resume={"ok": {}}), cfg())
        assert (await graph.aget_state(cfg())).interrupts == (second,)
        assert await graph.ainvoke(Command(resume={"ok": 1}), cfg()) == {"got": ["ada", {"ok": True}]}


async def test_a_refused_answer_lets_the_other_answered_tasks_finish(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    effects: list[str] = []

    async def mail(state: Trail) -> dict[str, Any]:
        interrupt("mail?", response_schema=Verdict)
        effects.append("mailed")
        await anyio.sleep(0.05)  # still running when its sibling's answer is refused
        return {"trail": ["mail"]}

    async def audit(state: Trail) -> dict[str, Any]:
        interrupt("audit?", response_schema=Verdict)
        return {"trail": ["audit"]}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Trail).add_node("mail", mail).add_node("audit", audit)
                 .add_edge(START, "mail").add_edge(START, "audit").compile(checkpointer=saver))
        await graph.ainvoke({"trail": []}, cfg())
        ids = {i.value: i.id for i in (await graph.aget_state(cfg())).interrupts}
        with pytest.raises(ValidationError):
            await graph.ainvoke(Command(resume={ids["mail?"]: {"ok": True}, ids["audit?"]: {"ok": "?"}}), cfg())
        assert [i.value for i in (await graph.aget_state(cfg())).interrupts] == ["audit?"]
        assert effects == ["mailed"]
        out = await graph.ainvoke(Command(resume={ids["audit?"]: {"ok": True}}), cfg())
        assert (sorted(out["trail"]), effects) == (["audit", "mail"], ["mailed"])
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_refused_answer_is_neither_retried_nor_handled(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    runs: list[str] = []
    handled: list[Any] = []

    def ask(state: Slot) -> dict[str, Any]:
        runs.append("ask")
        return {"got": interrupt("ok?", response_schema=Verdict)}

    def fallback(state: Slot) -> dict[str, Any]:
        handled.append(state)
        return {"got": "handled"}

    async with open_saver(store_kind, tmp_path) as saver:
        graph = (StateGraph(Slot)
                 .add_node("ask", ask, retry_policy=RetryPolicy(retry_on=Exception, initial_interval=0),
                           error_handler=fallback)
                 .add_edge(START, "ask").compile(checkpointer=saver))
        await graph.ainvoke({"got": None}, cfg())
        with pytest.raises(ValidationError):
            await graph.ainvoke(Command(resume="no"), cfg())
        assert (runs, handled) == (["ask", "ask"], [])
        assert await graph.ainvoke(Command(resume={"ok": True}), cfg()) == {"got": Verdict(ok=True)}


async def test_a_refused_answer_inside_a_task_is_not_its_recorded_result(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    @task
    def approve(item: str) -> Any:
        return interrupt(f"approve {item}?", response_schema=VerdictData)

    async with open_saver(store_kind, tmp_path) as saver:
        @entrypoint(checkpointer=saver)
        def flow(item: str) -> Any:
            return approve(item).result()

        out = await flow.ainvoke("car", cfg())
        [pending] = out if isinstance(out, list) else (await flow.aget_state(cfg())).interrupts
        with pytest.raises(ValidationError) as raised:
            await flow.ainvoke(Command(resume={"ok": "perhaps"}), cfg())
        assert is_invalid_resume(raised.value)
        assert (await flow.aget_state(cfg())).interrupts == (pending,)
        assert await flow.ainvoke(Command(resume={"ok": "true"}), cfg()) == VerdictData(ok=True)
        assert (await verify_thread(saver, "t", graph=flow)).ok


async def test_a_refused_answer_inside_a_subgraph(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    inner = asking(Verdict).compile()

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Slot).add_node("inner", inner).add_edge(START, "inner").compile(checkpointer=saver)
        out = await graph.ainvoke({"got": None}, cfg())
        [pending] = out["__interrupt__"]
        assert pending.response_schema == Verdict.model_json_schema()
        with pytest.raises(ValidationError):
            await graph.ainvoke(Command(resume={"ok": "no way"}), cfg())
        assert (await graph.aget_state(cfg())).interrupts == (pending,)
        assert await graph.ainvoke(Command(resume={"ok": "no"}), cfg()) == {"got": Verdict(ok=False)}
        assert (await verify_thread(saver, "t", graph=graph)).ok


def test_is_invalid_resume_knows_only_refused_answers() -> None:
    with pytest.raises(ValidationError) as raised:
        Verdict.model_validate({"ok": "maybe"})
    assert not is_invalid_resume(raised.value)
    assert not is_invalid_resume(ValueError("maybe"))


async def test_parent_command_from_the_top_graph_reaches_the_caller(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    def up(state: Slot) -> Any:
        return Command(graph=Command.PARENT, goto="elsewhere", update={"got": 1})

    async with open_saver(store_kind, tmp_path) as saver:
        graph = StateGraph(Slot).add_node("up", up).add_edge(START, "up").compile(checkpointer=saver)
        with pytest.raises(ParentCommand) as raised:
            await graph.ainvoke({"got": 0}, cfg())
        command = raised.value.args[0]
        assert (command.goto, command.update) == ("elsewhere", {"got": 1})
        assert isinstance(raised.value, InvalidUpdateError)  # and lograph's error for it
        assert "not running as a subgraph" in str(raised.value)
        assert (await graph.aget_state(cfg())).next == ("up",)  # nothing of the node kept
