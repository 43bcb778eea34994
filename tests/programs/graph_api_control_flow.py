"""LangGraph's "Use the graph API" guide: runtime context, retry policies, node caching,
a sequence of steps, parallel branches, a deferred node and conditional branching.

Stand-ins: the retry example's database and model become a node that fails twice with
sqlite3.OperationalError and then answers; the cached node counts its calls. Nodes that
run in parallel print from concurrent threads, so `in_parallel` prints their lines in
sorted order (the order they run in is up to the threads, on LangGraph as on lograph)."""

import contextlib
import io
import operator
import sqlite3
from typing import Annotated, Literal, Sequence

from langgraph.cache.memory import InMemoryCache  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.runtime import Runtime  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import CachePolicy, RetryPolicy  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


# Add runtime configuration
class ContextSchema(TypedDict):
    my_runtime_value: str


class State(TypedDict):
    my_state_value: str


def node(state: State, runtime: Runtime[ContextSchema]):
    if runtime.context["my_runtime_value"] == "a":
        return {"my_state_value": 1}
    elif runtime.context["my_runtime_value"] == "b":
        return {"my_state_value": 2}
    else:
        raise ValueError("Unknown values.")


builder = StateGraph(State, context_schema=ContextSchema)
builder.add_node(node)
builder.add_edge(START, "node")
builder.add_edge("node", END)
graph = builder.compile()

print(graph.invoke({}, context={"my_runtime_value": "a"}))
print(graph.invoke({}, context={"my_runtime_value": "b"}))
try:
    graph.invoke({}, context={"my_runtime_value": "c"})
except ValueError as e:
    print("ValueError:", e)


# Add retry policies
attempts = []


def query_database(state: MessagesState):
    attempts.append(len(attempts) + 1)
    if len(attempts) < 3:
        raise sqlite3.OperationalError("database is locked")
    return {"messages": [{"role": "ai", "content": f"rows after {len(attempts)} attempts"}]}


def call_model(state: MessagesState):
    return {"messages": [{"role": "ai", "content": "SELECT * FROM Artist LIMIT 10;"}]}


builder = StateGraph(MessagesState)
builder.add_node(
    "query_database",
    query_database,
    retry_policy=RetryPolicy(retry_on=sqlite3.OperationalError, initial_interval=0.01),
)
builder.add_node("model", call_model, retry_policy=RetryPolicy(max_attempts=5))
builder.add_edge(START, "model")
builder.add_edge("model", "query_database")
builder.add_edge("query_database", END)
graph = builder.compile()
print([m.content for m in graph.invoke({"messages": [{"role": "user", "content": "hi"}]})["messages"]])
print(attempts)


# Add node caching
calls = []


class Doubled(TypedDict):
    x: int
    result: int


def expensive_node(state: Doubled):
    calls.append(state["x"])
    return {"result": state["x"] * 2}


builder = StateGraph(Doubled)
builder.add_node("expensive_node", expensive_node, cache_policy=CachePolicy(ttl=120))
builder.set_entry_point("expensive_node")
builder.set_finish_point("expensive_node")
graph = builder.compile(cache=InMemoryCache())
print(graph.invoke({"x": 5}, stream_mode="updates"))
print(graph.invoke({"x": 5}, stream_mode="updates"))
print(graph.invoke({"x": 6}, stream_mode="updates"))
print(calls)


# Create a sequence of steps
class State(TypedDict):
    value_1: str
    value_2: int


def step_1(state: State):
    return {"value_1": "a"}


def step_2(state: State):
    current_value_1 = state["value_1"]
    return {"value_1": f"{current_value_1} b"}


def step_3(state: State):
    return {"value_2": 10}


builder = StateGraph(State)
builder.add_node(step_1)
builder.add_node(step_2)
builder.add_node(step_3)
builder.add_edge(START, "step_1")
builder.add_edge("step_1", "step_2")
builder.add_edge("step_2", "step_3")
graph = builder.compile()
print(graph.invoke({"value_1": "c"}))

builder = StateGraph(State).add_sequence([step_1, step_2, step_3])
builder.add_edge(START, "step_1")
graph = builder.compile()
print(graph.invoke({"value_1": "c"}))


def in_parallel(run):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = run()
    print("\n".join(sorted(out.getvalue().split("\n"))).strip())
    return result


# Run graph nodes in parallel
class State(TypedDict):
    aggregate: Annotated[list, operator.add]


def a(state: State):
    print(f'Adding "A" to {state["aggregate"]}')
    return {"aggregate": ["A"]}


def b(state: State):
    print(f'Adding "B" to {state["aggregate"]}')
    return {"aggregate": ["B"]}


def b_2(state: State):
    print(f'Adding "B_2" to {state["aggregate"]}')
    return {"aggregate": ["B_2"]}


def c(state: State):
    print(f'Adding "C" to {state["aggregate"]}')
    return {"aggregate": ["C"]}


def d(state: State):
    print(f'Adding "D" to {state["aggregate"]}')
    return {"aggregate": ["D"]}


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)
builder.add_node(c)
builder.add_node(d)
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("a", "c")
builder.add_edge("b", "d")
builder.add_edge("c", "d")
builder.add_edge("d", END)
graph = builder.compile()
print(in_parallel(lambda: graph.invoke({"aggregate": []}, {"configurable": {"thread_id": "foo"}})))


# Defer node execution
builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)
builder.add_node(b_2)
builder.add_node(c)
builder.add_node(d, defer=True)
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("a", "c")
builder.add_edge("b", "b_2")
builder.add_edge("b_2", "d")
builder.add_edge("c", "d")
builder.add_edge("d", END)
graph = builder.compile()
print(in_parallel(lambda: graph.invoke({"aggregate": []})))


# Conditional branching
class State(TypedDict):
    aggregate: Annotated[list, operator.add]
    which: str


def a(state: State):
    print(f'Adding "A" to {state["aggregate"]}')
    return {"aggregate": ["A"], "which": "c"}


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)
builder.add_node(c)
builder.add_edge(START, "a")
builder.add_edge("b", END)
builder.add_edge("c", END)


def conditional_edge(state: State) -> Literal["b", "c"]:
    return state["which"]


builder.add_conditional_edges("a", conditional_edge)
graph = builder.compile()

result = graph.invoke({"aggregate": []})
print(result)


def route_bc_or_cd(state: State) -> Sequence[str]:
    if state["which"] == "cd":
        return ["c", "d"]
    return ["b", "c"]


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)
builder.add_node(c)
builder.add_node(d)
builder.add_edge(START, "a")
builder.add_conditional_edges("a", route_bc_or_cd)
graph = builder.compile()
print(in_parallel(lambda: graph.invoke({"aggregate": []})))
print(sorted(map(str, in_parallel(lambda: graph.invoke({"aggregate": [], "which": "cd"}, stream_mode="updates")))))
