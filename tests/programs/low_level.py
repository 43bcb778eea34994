"""LangGraph's "Graph API concepts" page: multiple schemas (input, output, private),
reducers (examples A and B), nodes taking runtime and config, conditional edges with a
path map and a conditional entry point, Send, Command with a graph update, runtime
context with a dataclass default, and the recursion limit."""

from dataclasses import dataclass
from operator import add
from typing import Annotated, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.runtime import Runtime  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command, Send  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


# Multiple schemas
class InputState(TypedDict):
    user_input: str


class OutputState(TypedDict):
    graph_output: str


class OverallState(TypedDict):
    foo: str
    user_input: str
    graph_output: str


class PrivateState(TypedDict):
    bar: str


def node_1(state: InputState) -> OverallState:
    return {"foo": state["user_input"] + " name"}


def node_2(state: OverallState) -> PrivateState:
    return {"bar": state["foo"] + " is"}


def node_3(state: PrivateState) -> OutputState:
    return {"graph_output": state["bar"] + " Lance"}


builder = StateGraph(OverallState, input_schema=InputState, output_schema=OutputState)
builder.add_node("node_1", node_1)
builder.add_node("node_2", node_2)
builder.add_node("node_3", node_3)
builder.add_edge(START, "node_1")
builder.add_edge("node_1", "node_2")
builder.add_edge("node_2", "node_3")
builder.add_edge("node_3", END)
graph = builder.compile()
print(graph.invoke({"user_input": "My"}))
print(list(graph.stream({"user_input": "My"})))


# Reducers: example A (overwrite) and example B (operator.add)
class StateA(TypedDict):
    foo: int
    bar: list[str]


class StateB(TypedDict):
    foo: int
    bar: Annotated[list[str], add]


for State in (StateA, StateB):
    builder = StateGraph(State)
    builder.add_node("first", lambda state: {"foo": 2})
    builder.add_node("second", lambda state: {"bar": ["bye"]})
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    print(builder.compile().invoke({"foo": 1, "bar": ["hi"]}))


# Nodes
class State(TypedDict):
    input: str
    results: str


@dataclass
class Context:
    user_id: str


builder = StateGraph(State, context_schema=Context)


def plain_node(state: State):
    return state


def node_with_runtime(state: State, runtime: Runtime[Context]):
    print("In node: ", runtime.context.user_id)
    return {"results": f"Hello, {state['input']}!"}


def node_with_config(state: State, config: RunnableConfig):
    print("In node with thread_id: ", config["configurable"]["thread_id"])
    return {"results": f"Hello, {state['input']}!"}


builder.add_node("plain_node", plain_node)
builder.add_node("node_with_runtime", node_with_runtime)
builder.add_node("node_with_config", node_with_config)
builder.add_edge(START, "plain_node")
builder.add_edge("plain_node", "node_with_runtime")
builder.add_edge("node_with_runtime", "node_with_config")
graph = builder.compile()
print(graph.invoke({"input": "Ann"}, {"configurable": {"thread_id": "t-1"}}, context=Context(user_id="u-7")))


# Conditional edges with a path map, and a conditional entry point
class Route(TypedDict):
    flag: bool
    visited: Annotated[list[str], add]


def routing_function(state: Route) -> bool:
    return state["flag"]


builder = StateGraph(Route)
builder.add_node("node_a", lambda state: {"visited": ["a"]})
builder.add_node("node_b", lambda state: {"visited": ["b"]})
builder.add_node("node_c", lambda state: {"visited": ["c"]})
builder.add_edge(START, "node_a")
builder.add_conditional_edges("node_a", routing_function, {True: "node_b", False: "node_c"})
graph = builder.compile()
print(graph.invoke({"flag": True, "visited": []}), graph.invoke({"flag": False, "visited": []}))

builder = StateGraph(Route)
builder.add_node("node_b", lambda state: {"visited": ["b"]})
builder.add_node("node_c", lambda state: {"visited": ["c"]})
builder.add_conditional_edges(START, routing_function, {True: "node_b", False: "node_c"})
graph = builder.compile()
print(graph.invoke({"flag": True, "visited": []}), graph.invoke({"flag": False, "visited": []}))


# Send
class Subjects(TypedDict):
    subjects: list[str]
    jokes: Annotated[list[str], add]


def continue_to_jokes(state: Subjects):
    return [Send("generate_joke", {"subject": s}) for s in state["subjects"]]


builder = StateGraph(Subjects)
builder.add_node("generate_joke", lambda state: {"jokes": [f"a joke about {state['subject']}"]})
builder.add_conditional_edges(START, continue_to_jokes)
print(builder.compile().invoke({"subjects": ["cats", "dogs"], "jokes": []}))


# Command
class Foo(TypedDict):
    foo: str


def my_node(state: Foo) -> Command[Literal["my_other_node"]]:
    return Command(
        update={"foo": "bar"},
        goto="my_other_node"
    )


builder = StateGraph(Foo)
builder.add_node(my_node)
builder.add_node("my_other_node", lambda state: {"foo": state["foo"] + "!"})
builder.add_edge(START, "my_node")
print(builder.compile().invoke({"foo": ""}))


# Runtime context, and the recursion limit
@dataclass
class ContextSchema:
    llm_provider: str = "openai"


def node_a(state: Foo, runtime: Runtime[ContextSchema]):
    return {"foo": runtime.context.llm_provider}


graph = StateGraph(Foo, context_schema=ContextSchema)
graph.add_node(node_a)
graph.add_edge(START, "node_a")
graph = graph.compile()
print(graph.invoke({"foo": ""}, context={"llm_provider": "anthropic"}))
print(graph.invoke({"foo": ""}, context=ContextSchema()))
print(graph.invoke({"foo": ""}, config={"recursion_limit": 5}, context={"llm_provider": "anthropic"}))

loop = StateGraph(Foo)
loop.add_node("spin", lambda state: {"foo": state["foo"] + "."})
loop.add_edge(START, "spin")
loop.add_edge("spin", "spin")
try:
    loop.compile().invoke({"foo": ""}, config={"recursion_limit": 5})
except GraphRecursionError as e:
    print(type(e).__name__, str(e).splitlines()[0])
