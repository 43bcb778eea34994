"""LangGraph's "Use the graph API" guide, "Combine control flow and state updates with
Command": routing with Command, navigating to a node of the parent graph from a
subgraph, and a tool that updates the graph's state through ToolNode.

Adaptations: `random.choice` draws from a seeded generator of its own, so that both paths
are shown in a fixed order;
the tool's `get_user_info` is a dictionary."""

import operator
import random
from typing import Annotated

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.graph import START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.prebuilt import ToolNode  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import Literal, TypedDict

rng = random.Random(7)  # its own generator: LangGraph itself draws from the global one


class State(TypedDict):
    foo: str


def node_a(state: State) -> Command[Literal["node_b", "node_c"]]:
    print("Called A")
    value = rng.choice(["b", "c"])
    if value == "b":
        goto = "node_b"
    else:
        goto = "node_c"
    return Command(
        update={"foo": value},
        goto=goto,
    )


def node_b(state: State):
    print("Called B")
    return {"foo": state["foo"] + "b"}


def node_c(state: State):
    print("Called C")
    return {"foo": state["foo"] + "c"}


builder = StateGraph(State)
builder.add_edge(START, "node_a")
builder.add_node(node_a)
builder.add_node(node_b)
builder.add_node(node_c)
graph = builder.compile()

for _ in range(4):
    print(graph.invoke({"foo": ""}))
print(graph.get_graph().draw_mermaid())


# Navigate to a node in a parent graph
class State(TypedDict):
    foo: Annotated[str, operator.add]


def node_a(state: State):
    print("Called A")
    value = rng.choice(["a", "b"])
    if value == "a":
        goto = "node_b"
    else:
        goto = "node_c"
    return Command(
        update={"foo": value},
        goto=goto,
        graph=Command.PARENT,
    )


subgraph = StateGraph(State).add_node(node_a).add_edge(START, "node_a").compile()


def node_b(state: State):
    print("Called B")
    return {"foo": "b"}


def node_c(state: State):
    print("Called C")
    return {"foo": "c"}


builder = StateGraph(State)
builder.add_edge(START, "subgraph")
builder.add_node("subgraph", subgraph)
builder.add_node(node_b)
builder.add_node(node_c)
graph = builder.compile()

for _ in range(4):
    print(graph.invoke({"foo": ""}))


# Use inside tools
USERS = {"u-1": {"name": "Ann", "plan": "pro"}}


def get_user_info(user_id):
    return USERS[user_id]


@tool
def lookup_user_info(tool_call_id: Annotated[str, InjectedToolCallId], config: RunnableConfig):
    """Use this to look up user information to better assist them with their questions."""
    user_info = get_user_info(config.get("configurable", {}).get("user_id"))
    return Command(
        update={
            "user_info": user_info,
            "messages": [ToolMessage("Successfully looked up user information", tool_call_id=tool_call_id)]
        }
    )


class SupportState(MessagesState):
    user_info: dict


def agent(state: SupportState):
    return {"messages": [AIMessage("", tool_calls=[{"name": "lookup_user_info", "args": {}, "id": "call-1"}])]}


builder = StateGraph(SupportState)
builder.add_node(agent)
builder.add_node("tools", ToolNode([lookup_user_info]))
builder.add_edge(START, "agent")
builder.add_edge("agent", "tools")
graph = builder.compile()
result = graph.invoke({"messages": [{"role": "user", "content": "who am I?"}]},
                      {"configurable": {"user_id": "u-1"}})
print(result["user_info"])
for message in result["messages"]:
    message.pretty_print()
