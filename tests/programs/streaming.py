"""LangGraph's "Stream outputs" guide, "Stream from a workflow": updates, values, several
modes at once, custom data from a writer (get_stream_writer and the `writer` argument),
LLM tokens in `messages` mode (sync and async), and the metadata they carry.

Stand-ins: the chat model is langchain-core's GenericFakeChatModel (it streams a reply
word by word); `your_custom_streaming_client` yields three chunks."""

import asyncio
from dataclasses import dataclass
from typing import TypedDict

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import StreamWriter  # noqa: TID251 - the program as LangGraph's docs write it


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State):
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State):
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node(refine_topic)
    .add_node(generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .add_edge("generate_joke", END)
    .compile()
)

for chunk in graph.stream(
    {"topic": "ice cream"},
    stream_mode="updates",
):
    print(chunk)

for chunk in graph.stream(
    {"topic": "ice cream"},
    stream_mode="values",
):
    print(chunk)

for mode, chunk in graph.stream({"topic": "ice cream"}, stream_mode=["updates", "values"]):
    print(mode, chunk)


# LLM tokens
@dataclass
class MyState:
    topic: str
    joke: str = ""


def new_llm():
    return GenericFakeChatModel(messages=iter([AIMessage("Why did the ice cream cross the road?")]))


llm = new_llm()


def call_model(state: MyState):
    """Call the LLM to generate a joke about a topic"""
    llm_response = llm.invoke(
        [
            {"role": "user", "content": f"Generate a joke about {state.topic}"}
        ]
    )
    return {"joke": llm_response.content}


graph = (
    StateGraph(MyState)
    .add_node(call_model)
    .add_edge(START, "call_model")
    .compile()
)

for message_chunk, metadata in graph.stream(
    {"topic": "ice cream"},
    stream_mode="messages",
):
    if message_chunk.content:
        print(message_chunk.content, end="|", flush=True)
print()
print({k: metadata[k] for k in ("langgraph_step", "langgraph_node", "langgraph_triggers", "langgraph_path")})


# Use with any LLM
def your_custom_streaming_client(topic):
    yield from [f"A {topic}", " walks into", " a bar"]


class TopicState(TypedDict):
    topic: str
    result: str


def call_arbitrary_model(state):
    """Example node that calls an arbitrary model and streams the output"""
    writer = get_stream_writer()
    for chunk in your_custom_streaming_client(state["topic"]):
        writer({"custom_llm_chunk": chunk})
    return {"result": "completed"}


graph = (
    StateGraph(TopicState)
    .add_node(call_arbitrary_model)
    .add_edge(START, "call_arbitrary_model")
    .compile()
)

for chunk in graph.stream(
    {"topic": "cats"},
    stream_mode="custom",
):
    print(chunk)
for mode, chunk in graph.stream({"topic": "dogs"}, stream_mode=["custom", "updates"]):
    print(mode, chunk)


# Async: an LLM call with the node's config, and a `writer` argument
llm = new_llm()


async def call_model_async(state, config):
    topic = state["topic"]
    print("Generating joke...")
    joke_response = await llm.ainvoke(
        [{"role": "user", "content": f"Write a joke about {topic}"}],
        config,
    )
    return {"joke": joke_response.content}


async def generate_joke_async(state: State, writer: StreamWriter):
    writer({"custom_key": "Streaming custom data while generating a joke"})
    return {"joke": f"This is a joke about {state['topic']}"}


async def main():
    graph = (
        StateGraph(State)
        .add_node("call_model", call_model_async)
        .add_edge(START, "call_model")
        .compile()
    )
    async for chunk, metadata in graph.astream(
        {"topic": "ice cream"},
        stream_mode="messages",
    ):
        if chunk.content:
            print(chunk.content, end="|", flush=True)
    print()

    graph = (
        StateGraph(State)
        .add_node("generate_joke", generate_joke_async)
        .add_edge(START, "generate_joke")
        .compile()
    )
    async for chunk in graph.astream(
        {"topic": "ice cream"},
        stream_mode="custom",
    ):
        print(chunk)


asyncio.run(main())
