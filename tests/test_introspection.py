"""Describing a compiled graph: ``get_graph()`` (Mermaid and ASCII drawings, ``xray``),
``get_subgraphs()``, ``get_input_jsonschema()`` / ``get_output_jsonschema()``.

Nothing here runs a graph or touches a store.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Required

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from lograph.runtime import END, START, Command, GraphValidationError, StateGraph, entrypoint


class State(TypedDict):
    items: Annotated[list, operator.add]
    note: str


def step(state: State) -> dict[str, Any]:
    return {}


def two_step_graph() -> Any:
    b = StateGraph(State)
    b.add_node("first", step)
    b.add_node("second", step)
    b.add_edge(START, "first")
    b.add_edge("first", "second")
    return b.compile()


def edges_of(graph: Any) -> set[tuple[str, str, bool, Any]]:
    return {(e.source, e.target, e.conditional, e.data) for e in graph.edges}


def test_a_chain_draws_as_mermaid() -> None:
    drawn = two_step_graph().get_graph()
    assert list(drawn.nodes) == ["__start__", "first", "second", "__end__"]
    text = drawn.draw_mermaid()
    assert "\t__start__ --> first;\n\tfirst --> second;\n\tsecond --> __end__;\n" in text
    assert "__start__([<p>__start__</p>]):::first" in text and "__end__([<p>__end__</p>]):::last" in text


def test_routes_a_graph_declares_are_dotted_and_labelled() -> None:
    def route(state: State) -> Literal["left", "right"]:
        return "left"

    def left(state: State) -> Command[Literal["right", "__end__"]]:
        return Command(goto="right")

    b = StateGraph(State)
    b.add_node("start", step)
    b.add_node("left", left)
    b.add_node("right", step)
    b.add_node("last", step, destinations={"start": "again"})
    b.add_edge(START, "start")
    b.add_conditional_edges("start", route)
    b.add_conditional_edges("right", lambda s: True, {True: "last", False: END})
    b.add_edge("last", END)
    drawn = b.compile(interrupt_before=["right"]).get_graph()
    assert edges_of(drawn) == {
        ("__start__", "start", False, None),
        ("start", "left", True, None), ("start", "right", True, None),  # Literal annotation
        ("left", "right", True, None), ("left", "__end__", True, None),  # Command[Literal]
        ("right", "last", True, "True"), ("right", "__end__", True, "False"),  # path map
        ("last", "start", True, "again"),  # destinations=
    }  # (as LangGraph: no edge to END from "last", which is a source; "left" reaches END)
    assert drawn.nodes["right"].metadata == {"__interrupt": "before"}
    text = drawn.draw_mermaid()
    assert "right -. &nbsp;True&nbsp; .-> last;" in text and "start -.-> left;" in text


def test_a_router_that_declares_no_ends_is_not_followed() -> None:
    b = StateGraph(State)
    b.add_node("a", step)
    b.add_node("b", step)
    b.add_edge(START, "a")
    b.add_conditional_edges("a", lambda s: "b")  # no path map, no Literal annotation
    drawn = b.compile().get_graph()
    assert edges_of(drawn) == {("__start__", "a", False, None), ("a", "__end__", False, None)}
    assert list(drawn.nodes) == ["__start__", "a", "b", "__end__"]  # "b" is drawn, unconnected


def test_a_loop_ends_where_the_walk_stopped() -> None:
    """A cycle is walked for 250 steps; the node of the last step then gets the
    conditional edge to END (as LangGraph draws it)."""
    b = StateGraph(State)
    b.add_node("ask", step)
    b.add_node("answer", step)
    b.add_edge(START, "ask")
    b.add_edge("ask", "answer")
    b.add_edge("answer", "ask")
    drawn = b.compile().get_graph()
    assert [(e.source, e.target, e.conditional) for e in drawn.edges] == [
        ("__start__", "ask", False), ("answer", "ask", False), ("ask", "answer", False),
        ("answer", "__end__", True)]
    assert drawn.draw_mermaid(with_styles=False) == (
        "graph TD;\n\t__start__ --> ask;\n\tanswer --> ask;\n\task --> answer;\n"
        "\tanswer -.-> __end__;\n")


def test_the_json_names_node_kinds_as_langgraph_does() -> None:
    inner = two_step_graph()
    b = StateGraph(State)
    b.add_node("inner", inner)
    b.add_node("late", step, defer=True)
    b.add_edge(START, "inner")
    b.add_edge("inner", "late")
    nodes = {n["id"]: n for n in b.compile(interrupt_after=["inner"]).get_graph().to_json()["nodes"]}
    assert nodes["__start__"] == {"id": "__start__", "type": "runnable", "data": {
        "id": ["langgraph", "_internal", "_runnable", "RunnableCallable"], "name": "__start__"}}
    assert nodes["inner"]["data"]["id"] == ["langgraph", "graph", "state", "CompiledStateGraph"]
    assert nodes["inner"]["metadata"] == {"__interrupt": "after"}
    assert nodes["late"]["metadata"] == {"defer": True}
    assert nodes["__end__"] == {"id": "__end__"}


def test_an_entrypoint_draws_its_function_then_start() -> None:
    @entrypoint()
    def work(n: int) -> int:
        return n

    drawn = work.get_graph()
    assert list(drawn.nodes) == ["work", "__start__", "__end__"]
    assert [(e.source, e.target, e.conditional) for e in drawn.edges] == [
        ("__start__", "work", False), ("work", "__end__", True)]
    assert drawn.to_json()["nodes"][0]["data"]["id"][-1] == "RunnableCallable"


def test_an_error_handler_is_drawn_before_its_node_unconnected() -> None:
    b = StateGraph(State)
    b.add_node("risky", step, error_handler=lambda s: {})
    b.add_edge(START, "risky")
    drawn = b.compile().get_graph()
    assert list(drawn.nodes) == ["__start__", "__error_handler__risky", "risky", "__end__"]
    assert {(e.source, e.target) for e in drawn.edges} == {("__start__", "risky"), ("risky", "__end__")}


def test_joins_and_an_ascii_drawing() -> None:
    b = StateGraph(State)
    for name in ("fetch", "parse", "merge"):
        b.add_node(name, step)
    b.add_edge(START, "fetch")
    b.add_edge(START, "parse")
    b.add_edge(["fetch", "parse"], "merge")
    drawn = b.compile().get_graph()
    assert {("fetch", "merge", False, None), ("parse", "merge", False, None)} <= edges_of(drawn)
    art = drawn.draw_ascii()
    assert all(name in art for name in ("fetch", "parse", "merge", "__end__"))


def test_a_join_that_waits_across_steps_gets_implicit_edges() -> None:
    """``[a, c] -> d`` where ``c`` runs a step after ``a``: ``d`` is triggered by no
    write of the step before it alone, so it gets a conditional edge from that step's
    nodes too (LangGraph's walk)."""
    b = StateGraph(State)
    for name in ("a", "b", "c", "d"):
        b.add_node(name, step)
    b.add_edge(START, "a")
    b.add_edge(START, "b")
    b.add_edge("b", "c")
    b.add_edge(["a", "c"], "d")
    assert edges_of(b.compile().get_graph()) == {
        ("__start__", "a", False, None), ("__start__", "b", False, None), ("b", "c", False, None),
        ("a", "d", False, None), ("c", "d", False, None), ("d", "__end__", False, None)}


def test_destinations_must_name_nodes() -> None:
    b = StateGraph(State)
    b.add_node("a", step, destinations=("nowhere",))
    b.add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="nowhere"):
        b.compile()
    with pytest.raises(GraphValidationError, match="tuple of node names"):
        StateGraph(State).add_node("a", step, destinations="a")


def outer_with_subgraphs() -> tuple[Any, Any, Any]:
    inner = two_step_graph()
    mb = StateGraph(State)
    mb.add_node("inner", inner)
    mb.add_edge(START, "inner")
    middle = mb.compile()

    def calls(state: State) -> dict[str, Any]:  # calls a graph in its code
        return inner.invoke(state)

    def quiet(state: State) -> dict[str, Any]:  # a stateless subgraph is not listed
        return stateless.invoke(state)

    sb = StateGraph(State)
    sb.add_node("x", step)
    sb.add_edge(START, "x")
    stateless = sb.compile(checkpointer=False)

    b = StateGraph(State)
    b.add_node("middle", middle)
    b.add_node("calls", calls)
    b.add_node("quiet", quiet)
    b.add_edge(START, "middle")
    b.add_edge("middle", "calls")
    b.add_edge("calls", "quiet")
    return b.compile(), middle, inner


def test_get_subgraphs_finds_graph_nodes_and_graphs_nodes_call() -> None:
    outer, middle, inner = outer_with_subgraphs()
    assert [(n, g) for n, g in outer.get_subgraphs()] == [("middle", middle), ("calls", inner)]
    assert [(n, g) for n, g in outer.get_subgraphs(recurse=True)] == [
        ("middle", middle), ("middle|inner", inner), ("calls", inner)]
    assert list(outer.get_subgraphs(namespace="calls")) == [("calls", inner)]
    assert list(outer.get_subgraphs(namespace="middle|inner", recurse=True)) == [("middle|inner", inner)]
    assert list(inner.get_subgraphs()) == []


class _Holder:
    """A graph reached through attributes: ``holder.agents.inner.invoke``."""


_holder = _Holder()


def _calls_through_attributes(state: State) -> Any:
    return _holder.agents.inner.invoke(state)  # type: ignore[attr-defined]


def _calls_nothing(state: State) -> dict[str, Any]:
    return {"note": str(len(state["items"]))}


def test_subgraphs_reached_through_globals_and_attributes_and_none_without_reading_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner = two_step_graph()
    _holder.agents = type("Agents", (), {"inner": inner})()  # type: ignore[attr-defined]
    b = StateGraph(State)
    b.add_node("deep", _calls_through_attributes)
    b.add_node("plain", _calls_nothing)
    b.add_edge(START, "deep")
    b.add_edge("deep", "plain")
    outer = b.compile()
    assert list(outer.get_subgraphs()) == [("deep", inner)]

    # a node that reaches no graph is answered without reading its source
    import langchain_core.runnables.utils as lc_utils

    read: list[str] = []

    def reading(fn: Any) -> list[Any]:
        read.append(fn.__name__)
        return []

    monkeypatch.setattr(lc_utils, "get_function_nonlocals", reading)
    b = StateGraph(State)
    b.add_node("plain", _calls_nothing)
    b.add_edge(START, "plain")
    assert list(b.compile().get_subgraphs()) == []
    assert read == []


@pytest.mark.anyio
async def test_async_forms(anyio_backend: str) -> None:
    outer, _, _ = outer_with_subgraphs()
    assert [n async for n, _ in outer.aget_subgraphs(recurse=True)] == ["middle", "middle|inner", "calls"]
    drawn = await outer.aget_graph(xray=1)
    assert "middle:inner" in drawn.nodes  # one level drawn inside
    assert "middle:inner:first" not in drawn.nodes


def test_xray_draws_subgraphs_inside_their_nodes() -> None:
    outer, _, _ = outer_with_subgraphs()
    drawn = outer.get_graph(xray=True)
    assert {"middle:inner:first", "middle:inner:second", "calls:first", "calls:second"} <= set(drawn.nodes)
    assert "middle" not in drawn.nodes and "quiet" in drawn.nodes
    assert ("middle:inner:second", "calls:first", False, None) in edges_of(drawn)
    assert "\tsubgraph calls\n\tcalls\\3afirst(first)\n" in drawn.draw_mermaid()


def test_json_schemas_of_state_input_and_output() -> None:
    class In(TypedDict):
        question: str

    class Out(BaseModel):
        answer: str = ""

    class Full(TypedDict):
        question: str
        answer: str

    b = StateGraph(Full, input_schema=In, output_schema=Out)
    b.add_node("a", lambda s: {"answer": "yes"})
    b.add_edge(START, "a")
    graph = b.compile()
    assert graph.get_input_jsonschema() == {
        "properties": {"question": {"title": "Question", "type": "string"}},
        "required": ["question"], "title": "In", "type": "object"}
    assert graph.get_output_jsonschema()["properties"] == {
        "answer": {"default": "", "title": "Answer", "type": "string"}}
    whole = two_step_graph().get_input_jsonschema()
    assert whole["title"] == "State" and set(whole["properties"]) == {"items", "note"}


def test_json_schema_of_a_dataclass_state_and_of_an_entrypoint() -> None:
    @dataclass
    class Data:
        count: int
        label: str = "x"

    b = StateGraph(Data)
    b.add_node("a", lambda s: {"count": 1})
    b.add_edge(START, "a")
    schema = b.compile().get_output_jsonschema()
    assert schema["required"] == ["count"] and schema["properties"]["label"]["default"] == "x"

    @entrypoint()
    def double(n: int) -> entrypoint.final[str, int]:
        return entrypoint.final(value=str(n * 2), save=n)

    # an entrypoint's graph is named "LangGraph", as LangGraph names it
    assert double.get_input_jsonschema() == {"title": "LangGraphInput", "type": "integer"}
    assert double.get_output_jsonschema() == {"title": "LangGraphOutput", "type": "string"}


class Reply(BaseModel):
    text: str


class Ask(TypedDict):
    question: str


def test_an_entrypoint_describes_its_annotations() -> None:
    @entrypoint()
    def bare(question: Ask, *, previous: Any = None) -> entrypoint.final:
        return entrypoint.final(value=Reply(text=""), save=None)

    @entrypoint()
    def typed(question: Ask) -> Reply:
        return Reply(text=question["question"])

    @entrypoint()
    def untyped(question):  # type: ignore[no-untyped-def]
        return question

    assert bare.get_output_jsonschema() == {"title": "LangGraphOutput"}  # final unparameterized: Any
    assert typed.get_output_jsonschema() == Reply.model_json_schema()  # a model: its own schema
    ask = typed.get_input_jsonschema()
    assert ask["title"] == "LangGraphInput" and ask["$ref"] == "#/$defs/Ask"
    assert untyped.get_input_jsonschema() == {"title": "LangGraphInput"}
    with pytest.raises(TypeError):
        entrypoint.final[int]  # both the returned and the saved type, or neither


def test_a_dataclass_state_schema_gives_each_key_its_default() -> None:
    @dataclass
    class Data:
        count: int
        items: Annotated[list[int], operator.add] = field(default_factory=lambda: [1])
        label: Annotated[str | None, "a note"] = None
        maybe: int | None = 0
        needed: str = field(default=...)  # type: ignore[assignment]

    b = StateGraph(Data)
    b.add_node("a", lambda s: {"count": 1})
    b.add_edge(START, "a")
    graph = b.compile()
    for schema in (graph.get_input_jsonschema(), graph.get_output_jsonschema()):
        assert set(schema["required"]) == {"count", "needed"}
        props = schema["properties"]
        assert props["items"]["default"] == [1] and props["label"]["default"] is None
        assert props["maybe"]["default"] == 0
    assert graph.get_input_jsonschema()["title"] == "LangGraphInput"


def test_typeddict_keys_are_required_as_declared() -> None:
    class Base(TypedDict):
        shared: str

    class In(Base, total=False):
        loose: str
        must: Required[str]

    class Full(In):
        extra: NotRequired[int]

    b = StateGraph(Full, input_schema=In)
    b.add_node("a", step)
    b.add_edge(START, "a")
    schema = b.compile().get_input_jsonschema()
    assert set(schema["required"]) == {"shared", "must"}
    assert set(schema["properties"]) == {"shared", "loose", "must"}


def test_a_state_without_keys_is_described_as_its_value() -> None:
    b = StateGraph(Annotated[list, operator.add])
    b.add_node("a", lambda s: ["x"])
    b.add_edge(START, "a")
    graph = b.compile(name="Lister")
    assert graph.get_input_jsonschema() == {
        "default": None, "items": {}, "title": "ListerInput", "type": "array"}


def test_get_subgraphs_matches_whole_namespace_segments() -> None:
    def named(name: str) -> Any:
        b = StateGraph(State)
        b.add_node(f"{name}_step", step)
        b.add_edge(START, f"{name}_step")
        return b.compile()

    review_inside = named("inner_review")
    rb = StateGraph(State)
    rb.add_node("review", review_inside)
    rb.add_edge(START, "review")
    research = rb.compile()
    research_review, review = named("rr"), named("review")
    b = StateGraph(State)
    b.add_node("research", research)
    b.add_node("research_review", research_review)
    b.add_node("review", review)
    b.add_edge(START, "research")
    b.add_edge("research", "research_review")
    b.add_edge("research_review", "review")
    parent = b.compile()
    for namespace, graph in [("research", research), ("research_review", research_review),
                             ("review", review), ("research|review", review_inside)]:
        assert list(parent.get_subgraphs(namespace=namespace, recurse=True)) == [(namespace, graph)]
    assert list(parent.get_subgraphs(namespace="research|review")) == []  # deeper needs recurse
    assert list(parent.get_subgraphs(namespace="research:1234|review:5678", recurse=True)) == [
        ("research|review", review_inside)]


@dataclass
class Context:
    model: str
    temperature: float = 0.0


def test_the_context_schema_as_json_schema() -> None:
    b = StateGraph(State, context_schema=Context)
    b.add_node("a", step)
    b.add_edge(START, "a")
    schema = b.compile().get_context_jsonschema()
    assert schema is not None and schema["required"] == ["model"] and schema["title"] == "Context"
    assert two_step_graph().get_context_jsonschema() is None
    b = StateGraph(State, context_schema=int)
    b.add_node("a", step)
    b.add_edge(START, "a")
    with pytest.raises(ValueError, match="Invalid context schema type"):
        b.compile().get_context_jsonschema()


def test_a_pregel_graph_is_drawn_from_its_channels() -> None:
    """A low-level ``Pregel`` graph has no edges: the walk follows its channels (a
    node that writes what another subscribes to is drawn before it)."""
    from lograph.runtime import NodeBuilder, Pregel
    from lograph.runtime.channels import EphemeralValue, LastValue

    one = NodeBuilder().subscribe_only("a").do(lambda x: x + 1).write_to("b")
    two = NodeBuilder().subscribe_only("b").do(lambda x: x * 2).write_to("c")
    app = Pregel(nodes={"one": one, "two": two},
                 channels={"a": EphemeralValue(int), "b": EphemeralValue(int), "c": LastValue(int)},
                 input_channels="a", output_channels="c")
    drawn = app.get_graph()
    assert list(drawn.nodes) == ["one", "two", "__start__", "__end__"]
    assert [(e.source, e.target, e.conditional) for e in drawn.edges] == [
        ("__start__", "one", False), ("one", "two", False), ("two", "__end__", False)]
    assert app.invoke(1) == 4
