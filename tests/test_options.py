"""Nothing silently ignored: every public call takes only the options it implements.

An unknown keyword is a TypeError naming it; a LangGraph keyword for a feature lograph
does not have yet is a NotImplementedError naming the feature; either happens before
anything is written to the thread's log.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, StateGraph, entrypoint, task
from tests._stores import open_saver


class State(TypedDict):
    log: Annotated[list, operator.add]


def step(state: State) -> dict[str, Any]:
    return {"log": ["ran"]}


def builder() -> StateGraph:
    b = StateGraph(State)
    b.add_node("step", step)
    b.add_edge(START, "step")
    return b


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.parametrize(("make", "feature"), [
    (lambda: builder().add_node("meta", step, metadata={"k": 1}), "node metadata"),
])
def test_a_langgraph_option_lograph_lacks_is_refused_by_name(make: Any, feature: str) -> None:
    with pytest.raises(NotImplementedError, match=feature):
        make()


@pytest.mark.parametrize("make", [
    lambda: StateGraph(State, nonsense=1),
    lambda: builder().add_node("x", step, nonsense=1),
    lambda: builder().compile(nonsense=1),
    lambda: entrypoint(nonsense=1),
    lambda: task(nonsense=1),
])
def test_an_unknown_option_is_a_type_error_naming_it(make: Any) -> None:
    with pytest.raises(TypeError, match="nonsense"):
        make()


def test_defaults_ask_for_nothing() -> None:
    b = StateGraph(State, None, config_schema=None, input_schema=None)
    b.add_node("step", step, defer=False, metadata=None, cache_policy=None)
    b.add_edge(START, "step")
    assert b.compile(store=None, cache=None, debug=False) is not None


@pytest.mark.anyio
@pytest.mark.parametrize(("call", "what"), [
    (lambda g: g.ainvoke({"log": []}, cfg("t"), output_keys=["log"]), NotImplementedError),
    (lambda g: g.ainvoke({"log": []}, cfg("t"), print_mode="nonsense"), ValueError),
    (lambda g: g.ainvoke({"log": []}, cfg("t"), control=object()), TypeError),
    (lambda g: g.ainvoke({"log": []}, cfg("t"), checkpoint_during=True), NotImplementedError),
    (lambda g: g.ainvoke({"log": []}, cfg("t"), nonsense=1), TypeError),
    (lambda g: g.aupdate_state(cfg("t"), {"log": ["x"]}, task_id="abc"), NotImplementedError),
    (lambda g: g.aupdate_state(cfg("t"), {"log": ["x"]}, nonsense=1), TypeError),
])
async def test_a_refused_call_writes_nothing(
    anyio_backend: str, store_kind: str, tmp_path: Path, call: Any, what: type[Exception],
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder().compile(checkpointer=saver)
        with pytest.raises(what):
            await call(graph)
        assert await saver.log.read("t") == []


@pytest.mark.anyio
async def test_a_refused_stream_writes_nothing(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder().compile(checkpointer=saver)
        with pytest.raises(NotImplementedError, match="output_keys"):
            graph.astream({"log": []}, cfg("t"), output_keys=["log"])
        with pytest.raises(TypeError, match="nonsense"):
            graph.astream({"log": []}, cfg("t"), nonsense=1)
        assert await saver.log.read("t") == []
        assert (await graph.ainvoke({"log": []}, cfg("t"))) == {"log": ["ran"]}  # still usable


def test_the_sync_calls_refuse_too(tmp_path: Path) -> None:
    from lograph.adapters.memory import MemorySaver

    saver = MemorySaver()
    graph = builder().compile(checkpointer=saver)
    with pytest.raises(NotImplementedError, match="output_keys"):
        graph.invoke({"log": []}, cfg("t"), output_keys=["log"])
    with pytest.raises(TypeError, match="nonsense"):
        list(graph.stream({"log": []}, cfg("t"), nonsense=1))
    with pytest.raises(NotImplementedError, match="task_id"):
        graph.update_state(cfg("t"), {"log": ["x"]}, task_id="abc")
    assert graph.invoke({"log": []}, cfg("t")) == {"log": ["ran"]}


def test_langgraphs_typing_idioms_subscript_and_run() -> None:
    from typing import Literal

    from lograph.adapters.memory import MemorySaver
    from lograph.runtime import Command

    def route(state: State) -> Command[Literal["done"]]:
        return Command(update={"log": ["routed"]}, goto="done")

    b: StateGraph[State, None, State, State] = StateGraph[State](State)
    b.add_node("route", route)
    b.add_node("done", step)
    b.add_edge(START, "route")
    graph = b.compile(checkpointer=MemorySaver())
    assert graph.invoke({"log": []}, cfg("t")) == {"log": ["routed", "ran"]}

    @entrypoint(checkpointer=MemorySaver())
    def count(n: int, *, previous: int | None = None) -> entrypoint.final[int, int]:
        total = (previous or 0) + n
        return entrypoint.final(value=total, save=total)

    assert count.invoke(2, cfg("c")) == 2 and count.invoke(3, cfg("c")) == 5
    # the annotations evaluate (this file's are strings until asked for)
    import typing

    names = {"Command": Command, "Literal": Literal}
    assert typing.get_type_hints(route, localns=names)["return"] == Command[Literal["done"]]
    assert typing.get_type_hints(count.__wrapped__)["return"] == entrypoint.final[int, int]
