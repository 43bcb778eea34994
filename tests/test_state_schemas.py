"""State schemas beyond a dict of keys, as LangGraph 1.2.24 has them.

- A schema without keys (``StateGraph(int)``, ``StateGraph(Annotated[list, add])``) is
  one root channel: the state is its value.
- A node returning a model or another annotated object writes the state keys it has,
  fields at their defaults included (a pydantic field left at a None default is not).
- The keys of ``input_schema``, ``output_schema`` and of a node's input schema (given,
  or its first parameter's annotation) are channels too; a node sees its schema's keys.
- Managed values (``RemainingSteps``, ``IsLastStep``) are computed for each task.

Expected values were produced by the same programs on LangGraph 1.2.24.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from lograph.runtime import END, START, StateGraph, verify_thread
from lograph.runtime.managed import IsLastStep, RemainingSteps
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, **extra}


# --- a state without keys ---------------------------------------------------------------


async def test_an_int_state_is_its_value(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    builder = StateGraph(int)
    builder.add_node("inc", lambda x: x + 1)
    builder.add_node("ten", lambda x: x * 10)
    builder.add_edge(START, "inc")
    builder.add_edge("inc", "ten")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        assert await graph.ainvoke(1, cfg("t")) == 20
        assert [c async for c in graph.astream(2, cfg("t"))] == [{"inc": 3}, {"ten": 30}]
        assert [c async for c in graph.astream(3, cfg("t"), stream_mode="values")] == [3, 4, 40]
        state = await graph.aget_state(cfg("t"))
        assert (state.values, state.next) == (40, ())
        assert [s.values async for s in graph.aget_state_history(cfg("t"), limit=3)] == [40, 4, 3]
        assert (await verify_thread(saver, "t", graph=graph)).ok


async def test_a_reduced_list_state_appends(anyio_backend: str) -> None:
    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("a", lambda items: ["a"])
    builder.add_node("b", lambda items: ["b", len(items)])
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile()
    assert await graph.ainvoke(["in"]) == ["in", "a", "b", 2]


# --- what an object a node returns writes -----------------------------------------------


class Docs(BaseModel):
    docs: list[str] = []
    query: str = ""
    score: int | None = None


class Found(BaseModel):  # another model: its fields that are state keys are written
    docs: list[str] = ["d1", "d2"]
    score: int | None = None


async def test_a_model_writes_its_fields_at_their_defaults(anyio_backend: str) -> None:
    builder = StateGraph(Docs)
    builder.add_node("find", lambda s: Found())
    builder.add_node("check", lambda s: {"query": f"{s.query} ({len(s.docs)} docs)"})
    builder.add_edge(START, "find")
    builder.add_edge("find", "check")
    out = await builder.compile().ainvoke({"query": "q", "score": 3})
    # docs (default ['d1', 'd2']) is written; score's None default is not
    assert out == {"docs": ["d1", "d2"], "query": "q (2 docs)", "score": 3}


async def test_a_dataclass_writes_the_state_keys_it_has(anyio_backend: str) -> None:
    @dataclass
    class Reply:
        query: str
        extra: str = "not a state key"

    builder = StateGraph(Docs)
    builder.add_node("reply", lambda s: Reply("answered"))
    builder.add_edge(START, "reply")
    assert await builder.compile().ainvoke({"query": "q"}) == {"query": "answered"}


# --- input, output and node input schemas ------------------------------------------------


class Overall(TypedDict):
    foo: str


class Private(TypedDict):
    bar: str


class Question(TypedDict):
    question: str


class Answer(TypedDict):
    answer: str


def ask(state: Question) -> Private:
    return {"bar": f"private {state['question']}", "foo": "seen"}


def think(state: Private) -> Overall:
    assert set(state) == {"bar"}  # a node sees the keys of the schema it reads
    return {"foo": state["bar"] + "!"}


def reply(state: Overall) -> Answer:
    assert set(state) == {"foo"}
    return {"answer": "about " + state["foo"]}


async def test_schema_keys_become_channels(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    builder = StateGraph(Overall, input_schema=Question, output_schema=Answer)
    builder.add_sequence([ask, think, reply])
    builder.add_edge(START, "ask")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        assert await graph.ainvoke({"question": "hi"}, cfg("t")) == {"answer": "about private hi!"}
        assert (await graph.aget_state(cfg("t"))).values == {
            "question": "hi", "bar": "private hi", "foo": "private hi!", "answer": "about private hi!"}
        updates = [c async for c in graph.astream({"question": "yo"}, cfg("t"))]
        assert updates == [{"ask": {"bar": "private yo", "foo": "seen"}}, {"think": {"foo": "private yo!"}},
                           {"reply": {"answer": "about private yo!"}}]
        assert (await verify_thread(saver, "t", graph=graph)).ok


def test_a_key_two_schemas_reduce_differently_is_refused() -> None:
    class Added(TypedDict):
        items: Annotated[list, operator.add]

    class Replaced(TypedDict):
        items: Annotated[list, lambda a, b: b]

    with pytest.raises(ValueError, match="'items' already exists"):
        StateGraph(Added, output_schema=Replaced)


# --- managed values ----------------------------------------------------------------------


class Loop(TypedDict):
    log: Annotated[list, operator.add]
    remaining: RemainingSteps
    last: IsLastStep


def looping(seen: list[tuple[int, bool]]) -> StateGraph:
    def work(state: Loop) -> dict[str, Any]:
        seen.append((state["remaining"], state["last"]))
        return {"log": [state["remaining"]], "remaining": 99}  # (a managed key is not written)

    builder = StateGraph(Loop)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_conditional_edges("work", lambda s: END if s["last"] else "work")
    return builder


async def test_managed_values_count_down_to_the_last_step(anyio_backend: str) -> None:
    seen: list[tuple[int, bool]] = []
    out = await looping(seen).compile().ainvoke({"log": []}, {"recursion_limit": 4})
    assert seen == [(3, False), (2, False), (1, True)]
    assert out == {"log": [3, 2, 1]}  # no managed key in the state


async def test_managed_values_in_a_resumed_run(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    seen: list[tuple[int, bool]] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = looping(seen).compile(checkpointer=saver, interrupt_after=["work"])
        await graph.ainvoke({"log": []}, cfg("t", recursion_limit=3))
        await graph.ainvoke(None, cfg("t", recursion_limit=3))
        # as LangGraph: a run continuing the thread counts its limit from the step it
        # resumes at, two more than a run given an input sees in its first step
        assert seen == [(2, False), (4, False)]
        assert (await verify_thread(saver, "t", graph=graph)).ok


def test_a_managed_key_in_an_input_schema_is_refused() -> None:
    class Steps(TypedDict):
        remaining: RemainingSteps

    with pytest.raises(ValueError, match="Managed channels are not permitted"):
        StateGraph(Loop, input_schema=Steps)


class Routed(TypedDict):
    bar: str


async def test_a_router_reads_the_schema_it_names(anyio_backend: str) -> None:
    def start(state: Overall) -> dict[str, Any]:
        return {"foo": "f", "bar": "go"}

    def router(state: Routed) -> str:
        assert state == {"bar": "go"}  # its own schema's keys, not the state's
        return "end" if state["bar"] == "go" else END

    builder = StateGraph(Overall)
    builder.add_node("start", start)
    builder.add_node("end", lambda s: {"foo": s["foo"] + "!"})
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", router)
    # as LangGraph: invoke returns the state schema's keys (the private "bar" is left out)
    assert await builder.compile().ainvoke({"foo": ""}) == {"foo": "f!"}
