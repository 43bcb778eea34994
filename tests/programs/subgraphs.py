"""LangGraph's "Use subgraphs" guide: shared and different state schemas (one and two
levels), streaming subgraph outputs, persistence (the parent's checkpointer, and a
subgraph with its own memory), and viewing an interrupted subgraph's state."""

import operator
from typing import Annotated

from langgraph.checkpoint.memory import MemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import START, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph.state import END  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command, interrupt  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


# Shared state schemas
class SubgraphState(TypedDict):
    foo: str
    bar: str


def subgraph_node_1(state: SubgraphState):
    return {"bar": "bar"}


def subgraph_node_2(state: SubgraphState):
    return {"foo": state["foo"] + state["bar"]}


subgraph_builder = StateGraph(SubgraphState)
subgraph_builder.add_node(subgraph_node_1)
subgraph_builder.add_node(subgraph_node_2)
subgraph_builder.add_edge(START, "subgraph_node_1")
subgraph_builder.add_edge("subgraph_node_1", "subgraph_node_2")
subgraph = subgraph_builder.compile()


class ParentState(TypedDict):
    foo: str


def node_1(state: ParentState):
    return {"foo": "hi! " + state["foo"]}


builder = StateGraph(ParentState)
builder.add_node("node_1", node_1)
builder.add_node("node_2", subgraph)
builder.add_edge(START, "node_1")
builder.add_edge("node_1", "node_2")
graph = builder.compile()

for chunk in graph.stream({"foo": "foo"}):
    print(chunk)

for chunk in graph.stream(
    {"foo": "foo"},
    stream_mode="updates",
    subgraphs=True,
):
    print(chunk)


# Different state schemas
class SubgraphState(TypedDict):
    bar: str
    baz: str


def subgraph_node_1(state: SubgraphState):
    return {"baz": "baz"}


def subgraph_node_2(state: SubgraphState):
    return {"bar": state["bar"] + state["baz"]}


subgraph_builder = StateGraph(SubgraphState)
subgraph_builder.add_node(subgraph_node_1)
subgraph_builder.add_node(subgraph_node_2)
subgraph_builder.add_edge(START, "subgraph_node_1")
subgraph_builder.add_edge("subgraph_node_1", "subgraph_node_2")
subgraph = subgraph_builder.compile()


def node_2(state: ParentState):
    response = subgraph.invoke({"bar": state["foo"]})
    return {"foo": response["bar"]}


builder = StateGraph(ParentState)
builder.add_node("node_1", node_1)
builder.add_node("node_2", node_2)
builder.add_edge(START, "node_1")
builder.add_edge("node_1", "node_2")
graph = builder.compile()

for chunk in graph.stream({"foo": "foo"}, subgraphs=True):
    print(chunk)


# Two levels of subgraphs
class GrandChildState(TypedDict):
    my_grandchild_key: str


def grandchild_1(state: GrandChildState) -> GrandChildState:
    return {"my_grandchild_key": state["my_grandchild_key"] + ", how are you"}


grandchild = StateGraph(GrandChildState)
grandchild.add_node("grandchild_1", grandchild_1)
grandchild.add_edge(START, "grandchild_1")
grandchild.add_edge("grandchild_1", END)
grandchild_graph = grandchild.compile()


class ChildState(TypedDict):
    my_child_key: str


def call_grandchild_graph(state: ChildState) -> ChildState:
    grandchild_graph_input = {"my_grandchild_key": state["my_child_key"]}
    grandchild_graph_output = grandchild_graph.invoke(grandchild_graph_input)
    return {"my_child_key": grandchild_graph_output["my_grandchild_key"] + " today?"}


child = StateGraph(ChildState)
child.add_node("child_1", call_grandchild_graph)
child.add_edge(START, "child_1")
child.add_edge("child_1", END)
child_graph = child.compile()


class ParentState(TypedDict):
    my_key: str


def parent_1(state: ParentState) -> ParentState:
    return {"my_key": "hi " + state["my_key"]}


def parent_2(state: ParentState) -> ParentState:
    return {"my_key": state["my_key"] + " bye!"}


def call_child_graph(state: ParentState) -> ParentState:
    child_graph_input = {"my_child_key": state["my_key"]}
    child_graph_output = child_graph.invoke(child_graph_input)
    return {"my_key": child_graph_output["my_child_key"]}


parent = StateGraph(ParentState)
parent.add_node("parent_1", parent_1)
parent.add_node("child", call_child_graph)
parent.add_node("parent_2", parent_2)
parent.add_edge(START, "parent_1")
parent.add_edge("parent_1", "child")
parent.add_edge("child", "parent_2")
parent.add_edge("parent_2", END)
parent_graph = parent.compile()

for chunk in parent_graph.stream({"my_key": "Bob"}, subgraphs=True):
    print(chunk)


# Add persistence
class State(TypedDict):
    foo: str


def subgraph_node_1(state: State):
    return {"foo": state["foo"] + "bar"}


subgraph_builder = StateGraph(State)
subgraph_builder.add_node(subgraph_node_1)
subgraph_builder.add_edge(START, "subgraph_node_1")
subgraph = subgraph_builder.compile()

builder = StateGraph(State)
builder.add_node("node_1", subgraph)
builder.add_edge(START, "node_1")
checkpointer = MemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "p1"}}
print(graph.invoke({"foo": "foo"}, config))
print(graph.get_state(config).values, graph.get_state(config).next)


# A subgraph with its own memory (checkpointer=True): it remembers across calls
class Notes(TypedDict):
    notes: Annotated[list[str], operator.add]


def take_note(state: Notes):
    return {"notes": [f"note {len(state['notes']) + 1}"]}


agent_builder = StateGraph(Notes)
agent_builder.add_node(take_note)
agent_builder.add_edge(START, "take_note")
agent = agent_builder.compile(checkpointer=True)


class Team(TypedDict):
    notes: Annotated[list[str], operator.add]
    rounds: int


def lead(state: Team):
    return {"rounds": state.get("rounds", 0) + 1}


def call_agent(state: Team):
    out = agent.invoke({"notes": []})
    return {"notes": [f"agent has {len(out['notes'])} notes"]}


builder = StateGraph(Team)
builder.add_node(lead)
builder.add_node("agent", call_agent)
builder.add_edge(START, "lead")
builder.add_edge("lead", "agent")
graph = builder.compile(checkpointer=MemorySaver())
config = {"configurable": {"thread_id": "team"}}
print(graph.invoke({"notes": []}, config))
print(graph.invoke({"notes": []}, config))


# View interrupted subgraph state
class State(TypedDict):
    foo: str


def subgraph_node_1(state: State):
    value = interrupt("Provide value:")
    return {"foo": state["foo"] + value}


subgraph_builder = StateGraph(State)
subgraph_builder.add_node(subgraph_node_1)
subgraph_builder.add_edge(START, "subgraph_node_1")
subgraph = subgraph_builder.compile()

builder = StateGraph(State)
builder.add_node("node_1", subgraph)
builder.add_edge(START, "node_1")
checkpointer = MemorySaver()
graph = builder.compile(checkpointer=checkpointer)

config = {"configurable": {"thread_id": "1"}}

result = graph.invoke({"foo": ""}, config)
print([i.value for i in result["__interrupt__"]])
parent_state = graph.get_state(config)
print(parent_state.values, parent_state.next, [t.name for t in parent_state.tasks])
subgraph_state = graph.get_state(config, subgraphs=True).tasks[0].state
print(subgraph_state.values, subgraph_state.next, [i.value for i in subgraph_state.interrupts])
print(subgraph_state.config["configurable"]["checkpoint_ns"].split(":")[0])

print(graph.invoke(Command(resume="bar"), config))
print(graph.get_state(config, subgraphs=True).tasks)
