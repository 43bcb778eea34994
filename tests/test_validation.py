"""Building a graph wrong is refused when it is built, with LangGraph's words first.

Where LangGraph 1.2.24's tests match on a message, lograph's message starts with the
same words, and lograph's own help comes after them. Nothing here writes to a log.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from lograph.runtime import START, GraphValidationError, InvalidUpdateError, StateGraph, entrypoint


class State(TypedDict):
    text: str


def noop(state: State) -> dict[str, Any]:
    return {}


def test_an_edge_from_an_unknown_node() -> None:
    b = StateGraph(State)
    b.add_node("known", noop)
    b.add_edge(START, "known")
    b.add_edge("ghost", "known")
    with pytest.raises(GraphValidationError, match=r"^Found edge starting at unknown node 'ghost'"):
        b.compile()


class NotASaver:
    pass


@pytest.mark.parametrize("saver", [NotASaver(), "memory", {}])
def test_a_checkpointer_that_is_not_a_saver_is_a_type_error(saver: Any) -> None:
    b = StateGraph(State)
    b.add_node("known", noop)
    b.add_edge(START, "known")
    with pytest.raises(TypeError, match=f"^Invalid checkpointer provided.*{type(saver).__name__}"):
        b.compile(checkpointer=saver)
    with pytest.raises(TypeError, match=r"^Invalid checkpointer provided"):
        entrypoint(checkpointer=saver)(lambda x: x)


@pytest.mark.parametrize("saver", [None, True, False])
def test_none_true_and_false_are_checkpointers(saver: Any) -> None:
    b = StateGraph(State)
    b.add_node("known", noop)
    b.add_edge(START, "known")
    assert b.compile(checkpointer=saver) is not None


def test_add_sequence_refuses_nothing_and_repeated_names_before_adding() -> None:
    def first(state: State) -> dict[str, Any]:
        return {"text": state["text"] + "1"}

    b = StateGraph(State)
    with pytest.raises(GraphValidationError, match=r"^Sequence requires at least one node"):
        b.add_sequence([])
    with pytest.raises(GraphValidationError, match=r"^Node names must be unique.*'first'"):
        b.add_sequence([first, first])
    with pytest.raises(GraphValidationError, match="'again'"):
        b.add_sequence([("again", first), ("again", first)])
    assert b.nodes == {}  # nothing was added
    b.add_sequence([first, ("second", first)])
    b.add_edge(START, "first")
    assert b.compile().invoke({"text": ""}) == {"text": "11"}
    with pytest.raises(GraphValidationError, match="'first' already exists"):
        b.add_sequence([first])


def one_argument(a: Any) -> Any:
    return a


def three_arguments(a: Any, b: Any, c: Any) -> Any:
    return a


class OneArgument(TypedDict):
    items: Annotated[list, one_argument]


class ThreeArguments(TypedDict):
    items: Annotated[list, three_arguments]


class OneArgumentModel(BaseModel):
    items: Annotated[list, one_argument] = []


@pytest.mark.parametrize("schema", [OneArgument, ThreeArguments, OneArgumentModel])
def test_a_reducer_must_take_two_arguments(schema: Any) -> None:
    with pytest.raises(ValueError, match=r"^Invalid reducer signature\. Expected \(a, b\) -> c"):
        StateGraph(schema)


def merge(left: list, right: list, *, unique: bool = False) -> list:
    return left + right


class Good(TypedDict):
    merged: Annotated[list, merge]
    summed: Annotated[int, operator.add]


def test_reducers_with_keyword_options_and_builtins_are_reducers() -> None:
    b = StateGraph(Good)
    b.add_node("a", lambda s: {"merged": [1], "summed": 2})
    b.add_edge(START, "a")
    assert b.compile().invoke({"merged": [0], "summed": 1}) == {"merged": [0, 1], "summed": 3}


def test_two_values_for_a_plain_key_in_one_step() -> None:
    b = StateGraph(State)
    b.add_node("a", lambda s: {"text": "a"})
    b.add_node("b", lambda s: {"text": "b"})
    b.add_edge(START, "a")
    b.add_edge(START, "b")
    with pytest.raises(InvalidUpdateError, match=r"^At key 'text': Can receive only one value per step"):
        b.compile().invoke({"text": ""})
