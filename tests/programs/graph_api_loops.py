"""LangGraph's "Use the graph API" guide: map-reduce with Send, loops, the recursion
limit, `RemainingSteps` to stop before it, loops with branches, and the async graph.

Stand-in: the async example's chat model is a langchain-core fake chat model. In the
loop with branches, C and D run in parallel and print from their threads: those lines
are printed sorted (see `in_parallel`)."""

import asyncio
import contextlib
import io
import operator
from typing import Annotated, Literal

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.errors import GraphRecursionError  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.managed.is_last_step import RemainingSteps  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Send  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


def in_parallel(run):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            result = run()
        except GraphRecursionError:
            result = "Recursion Error"
    print("\n".join(sorted(out.getvalue().split("\n"))).strip())
    return result


# Map-Reduce and the Send API
class OverallState(TypedDict):
    topic: str
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]
    best_selected_joke: str


def generate_topics(state: OverallState):
    return {"subjects": ["lions", "elephants", "penguins"]}


def generate_joke(state: OverallState):
    joke_map = {
        "lions": "Why don't lions like fast food? Because they can't catch it!",
        "elephants": "Why don't elephants use computers? They're afraid of the mouse!",
        "penguins": "Why don't penguins like talking to strangers at parties? Because they find it hard to break the ice."
    }
    return {"jokes": [joke_map[state["subject"]]]}


def continue_to_jokes(state: OverallState):
    return [Send("generate_joke", {"subject": s}) for s in state["subjects"]]


def best_joke(state: OverallState):
    return {"best_selected_joke": "penguins"}


builder = StateGraph(OverallState)
builder.add_node("generate_topics", generate_topics)
builder.add_node("generate_joke", generate_joke)
builder.add_node("best_joke", best_joke)
builder.add_edge(START, "generate_topics")
builder.add_conditional_edges("generate_topics", continue_to_jokes, ["generate_joke"])
builder.add_edge("generate_joke", "best_joke")
builder.add_edge("best_joke", END)
graph = builder.compile()

steps = list(graph.stream({"topic": "animals"}))
for step in steps[:1] + sorted(steps[1:4], key=str) + steps[4:]:
    print(step)
print(graph.invoke({"topic": "animals"})["jokes"])


# Create and control loops
class State(TypedDict):
    aggregate: Annotated[list, operator.add]


def a(state: State):
    print(f'Node A sees {state["aggregate"]}')
    return {"aggregate": ["A"]}


def b(state: State):
    print(f'Node B sees {state["aggregate"]}')
    return {"aggregate": ["B"]}


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)


def route(state: State) -> Literal["b", END]:
    if len(state["aggregate"]) < 7:
        return "b"
    else:
        return END


builder.add_edge(START, "a")
builder.add_conditional_edges("a", route)
builder.add_edge("b", "a")
graph = builder.compile()

print(graph.invoke({"aggregate": []}))

try:
    graph.invoke({"aggregate": []}, {"recursion_limit": 4})
except GraphRecursionError:
    print("Recursion Error")


# Return state on hitting the recursion limit
class State(TypedDict):
    aggregate: Annotated[list, operator.add]
    remaining_steps: RemainingSteps


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)


def route(state: State) -> Literal["b", END]:
    if state["remaining_steps"] <= 2:
        return END
    else:
        return "b"


builder.add_edge(START, "a")
builder.add_conditional_edges("a", route)
builder.add_edge("b", "a")
graph = builder.compile()

result = graph.invoke({"aggregate": []}, {"recursion_limit": 4})
print(result)


# Loops with branches
class State(TypedDict):
    aggregate: Annotated[list, operator.add]


def c(state: State):
    print(f'Node C sees {state["aggregate"]}')
    return {"aggregate": ["C"]}


def d(state: State):
    print(f'Node D sees {state["aggregate"]}')
    return {"aggregate": ["D"]}


builder = StateGraph(State)
builder.add_node(a)
builder.add_node(b)
builder.add_node(c)
builder.add_node(d)


def route(state: State) -> Literal["b", END]:
    if len(state["aggregate"]) < 7:
        return "b"
    else:
        return END


builder.add_edge(START, "a")
builder.add_conditional_edges("a", route)
builder.add_edge("b", "c")
builder.add_edge("b", "d")
builder.add_edge(["c", "d"], "a")
graph = builder.compile()

print(in_parallel(lambda: graph.invoke({"aggregate": []})))
print(in_parallel(lambda: graph.invoke({"aggregate": []}, {"recursion_limit": 4})))


# Async
llm = GenericFakeChatModel(messages=iter([AIMessage("Hello! How can I help?")]))


async def node(state: MessagesState):
    new_message = await llm.ainvoke(state["messages"])
    return {"messages": [new_message]}


builder = StateGraph(MessagesState).add_node(node).set_entry_point("node")
graph = builder.compile()


async def main():
    input_message = {"role": "user", "content": "Hello"}
    result = await graph.ainvoke({"messages": [input_message]})
    for message in result["messages"]:
        message.pretty_print()


asyncio.run(main())
