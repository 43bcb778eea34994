"""LangGraph's typing idioms work as annotations and at run time (issue 18, item 2).

- ``StateGraph[State, Context, Input, Output](...)``: the class subscripts with its four
  parameters, and the graph it makes runs with those schemas.
- ``Command[Literal["a", "b"]]`` as a node's return annotation declares its routes:
  ``get_graph`` draws them, and the node may go to either.
- ``entrypoint.final[R, S]``: returns ``R`` to the caller and saves ``S`` as the next
  call's ``previous``; the output schema is ``R``'s.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from typing_extensions import TypedDict

from lograph.runtime import START, Command, Runtime, StateGraph, entrypoint
from tests._stores import open_saver


class State(TypedDict):
    question: str
    route: Annotated[list[str], operator.add]
    answer: str


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


@dataclass
class Context:
    tone: str


def triage(state: State) -> Command[Literal["short", "long"]]:
    goto = "short" if len(state["question"]) < 10 else "long"
    return Command(update={"route": ["triage"]}, goto=goto)


def short(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    return {"route": ["short"], "answer": f"{runtime.context.tone}: yes"}


def long(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    return {"route": ["long"], "answer": f"{runtime.context.tone}: it depends"}


def build() -> StateGraph[State, Context, In, Out]:
    b = StateGraph[State, Context, In, Out](State, Context, input_schema=In, output_schema=Out)
    b.add_node("triage", triage)
    b.add_node("short", short)
    b.add_node("long", long)
    b.add_edge(START, "triage")
    return b


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def test_command_literal_routes_are_drawn_as_conditional_edges() -> None:
    drawn = build().compile().get_graph()
    assert [(e.source, e.target, e.conditional) for e in drawn.edges] == [
        ("__start__", "triage", False), ("triage", "long", True), ("triage", "short", True),
        ("long", "__end__", False), ("short", "__end__", False)]


def test_the_four_parameter_subscript_keeps_the_schemas() -> None:
    b = build()
    assert b.context_schema is Context
    graph = b.compile()
    assert set(graph.get_input_jsonschema()["properties"]) == {"question"}
    assert set(graph.get_output_jsonschema()["properties"]) == {"answer"}
    assert graph.get_context_jsonschema()["title"] == "Context"  # type: ignore[index]


@pytest.mark.anyio
async def test_a_typed_graph_routes_by_its_command_annotation(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        out = await graph.ainvoke({"question": "why?"}, cfg("a"), context=Context("calm"))
        assert out == {"answer": "calm: yes"}
        out = await graph.ainvoke({"question": "why is the sky blue?"}, cfg("b"), context={"tone": "dry"})
        assert out == {"answer": "dry: it depends"}
        assert (await graph.aget_state(cfg("b"))).values["route"] == ["triage", "long"]


@pytest.mark.anyio
async def test_entrypoint_final_returns_one_value_and_saves_another(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        @entrypoint(checkpointer=saver)
        async def tally(word: str, *, previous: list[str] | None = None) -> entrypoint.final[int, list[str]]:
            words = [*(previous or []), word]
            return entrypoint.final(value=len(words), save=words)

        assert tally.get_output_jsonschema() == {"title": "LangGraphOutput", "type": "integer"}
        assert await tally.ainvoke("a", cfg("t")) == 1
        assert await tally.ainvoke("b", cfg("t")) == 2
        assert (await tally.aget_state(cfg("t"))).values == 2  # the returned value is the state
