"""LangGraph's "Use the functional API" guide, "Human-in-the-loop": the three-task workflow
that waits for feedback, and the agent whose tool calls a human reviews (accepted,
revised, or answered with feedback), resumed with Command(resume=...).

Stand-ins: the model is a scripted fake chat model; the weather tool is a function."""

from typing import Union

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.func import entrypoint, task  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph.message import add_messages  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command, interrupt  # noqa: TID251 - the program as LangGraph's docs write it


@task
def step_1(input_query):
    """Append bar."""
    return f"{input_query} bar"


@task
def human_feedback(input_query):
    """Append user input."""
    feedback = interrupt(f"Please provide feedback: {input_query}")
    return f"{input_query} {feedback}"


@task
def step_3(input_query):
    """Append qux."""
    return f"{input_query} qux"


checkpointer = InMemorySaver()


@entrypoint(checkpointer=checkpointer)
def graph(input_query):
    result_1 = step_1(input_query).result()
    result_2 = human_feedback(result_1).result()
    result_3 = step_3(result_2).result()
    return result_3


config = {"configurable": {"thread_id": "1"}}
for event in graph.stream("foo", config):
    print({k: (v if k != "__interrupt__" else [i.value for i in v]) for k, v in event.items()})
    print("\n")

print(graph.get_state(config).next)
for event in graph.stream(Command(resume="baz"), config):
    print(event)
    print("\n")


# Review tool calls
@tool
def get_weather(location: str):
    """Call to get the weather from a specific location."""
    if any([city in location.lower() for city in ["sf", "san francisco"]]):
        return "It's sunny!"
    elif "boston" in location.lower():
        return "It's rainy!"
    else:
        return f"I am not sure what the weather is in {location}"


tools = [get_weather]
tools_by_name = {t.name: t for t in tools}


def script():
    yield AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "sf"}, "id": "c1"}])
    yield AIMessage("It's sunny in San Francisco!")
    yield AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "Boston"}, "id": "c2"}])
    yield AIMessage("It's rainy in Boston, MA!")
    yield AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "Rome"}, "id": "c3"}])
    yield AIMessage("", tool_calls=[{"name": "get_weather", "args": {"location": "Rome, Italy"}, "id": "c4"}])
    yield AIMessage("I am not sure about Rome, Italy.")


model = GenericFakeChatModel(messages=script())


@task
def call_model(messages):
    """Call model with a sequence of messages."""
    return model.invoke(messages)


@task
def call_tool(tool_call):
    tool = tools_by_name[tool_call["name"]]
    observation = tool.invoke(tool_call["args"])
    return ToolMessage(content=observation, tool_call_id=tool_call["id"])


def review_tool_call(tool_call: ToolCall) -> Union[ToolCall, ToolMessage]:
    """Review a tool call, returning a validated version."""
    human_review = interrupt(
        {
            "question": "Is this correct?",
            "tool_call": tool_call,
        }
    )
    review_action = human_review["action"]
    review_data = human_review.get("data")
    if review_action == "continue":
        return tool_call
    elif review_action == "update":
        updated_tool_call = {**tool_call, **{"args": review_data}}
        return updated_tool_call
    elif review_action == "feedback":
        return ToolMessage(
            content=review_data, name=tool_call["name"], tool_call_id=tool_call["id"]
        )


@entrypoint(checkpointer=checkpointer)
def agent(messages, previous):
    if previous is not None:
        messages = add_messages(previous, messages)

    llm_response = call_model(messages).result()
    while True:
        if not llm_response.tool_calls:
            break

        tool_results = []
        tool_calls = []
        for i, tool_call in enumerate(llm_response.tool_calls):
            review = review_tool_call(tool_call)
            if isinstance(review, ToolMessage):
                tool_results.append(review)
            else:
                tool_calls.append(review)
                if review != tool_call:
                    llm_response.tool_calls[i] = review

        tool_result_futures = [call_tool(tool_call) for tool_call in tool_calls]
        remaining_tool_results = [fut.result() for fut in tool_result_futures]

        messages = add_messages(
            messages,
            [llm_response, *tool_results, *remaining_tool_results],
        )

        llm_response = call_model(messages).result()

    messages = add_messages(messages, llm_response)
    return entrypoint.final(value=llm_response, save=messages)


def show(update):
    for name, value in update.items():
        if name == "__interrupt__":
            print(name, [i.value["tool_call"]["args"] for i in value])
        elif isinstance(value, AIMessage | ToolMessage):
            print(name, type(value).__name__, repr(value.content), value.tool_calls if isinstance(value, AIMessage) else "")
        else:
            print(name, value)


for turn, resume in [
    ("What's the weather in SF?", {"action": "continue"}),
    ("What's the weather in Boston?", {"action": "update", "data": {"location": "Boston, MA"}}),
    ("What's the weather in Rome?", {"action": "feedback", "data": "Please use the format 'City, Country'."}),
]:
    config = {"configurable": {"thread_id": "agent"}}
    for update in agent.stream([{"role": "user", "content": turn}], config, stream_mode="updates"):
        show(update)
    while agent.get_state(config).next:
        for update in agent.stream(Command(resume=resume), config, stream_mode="updates"):
            show(update)
        resume = {"action": "continue"}
    print("---")
print(agent.get_state(config).values.content)
