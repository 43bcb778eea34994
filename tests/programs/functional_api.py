"""LangGraph's "Use the functional API" guide: a simple workflow, parallel tasks, calling
a graph and another entrypoint from an entrypoint, streaming with a writer, a retry
policy, cached tasks, `entrypoint.final`, and the chatbot that remembers its thread.

Stand-ins: the guide's chat models are langchain-core fake chat models; thread ids
that the guide draws with uuid4 are fixed strings."""

from typing import Optional

from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.cache.memory import InMemoryCache  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.config import get_stream_writer  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.func import entrypoint, task  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import StateGraph, add_messages  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import CachePolicy, RetryPolicy, StreamWriter  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


# Extended example: simple workflow
@task
def is_even(number: int) -> bool:
    return number % 2 == 0


@task
def format_message(is_even: bool) -> str:
    return "The number is even." if is_even else "The number is odd."


checkpointer = InMemorySaver()


@entrypoint(checkpointer=checkpointer)
def workflow(inputs: dict) -> str:
    """Simple workflow to classify a number."""
    even = is_even(inputs["number"]).result()
    return format_message(even).result()


config = {"configurable": {"thread_id": "simple-1"}}
result = workflow.invoke({"number": 7}, config=config)
print(result)
print(workflow.get_state(config).values)

# Extended example: compose an essay with an LLM
llm = FakeListChatModel(responses=["Flight began with kites and balloons."])


@task
def compose_essay(topic: str) -> str:
    """Generate an essay about the given topic."""
    return llm.invoke([
        {"role": "system", "content": "You are a helpful assistant that writes essays."},
        {"role": "user", "content": f"Write an essay about {topic}."}
    ]).content


@entrypoint(checkpointer=checkpointer)
def workflow(topic: str) -> str:
    """Simple workflow that generates an essay with an LLM."""
    return compose_essay(topic).result()


print(workflow.invoke("the history of flight", config={"configurable": {"thread_id": "essay-1"}}))


# Parallel execution
@task
def add_one(number: int) -> int:
    return number + 1


@entrypoint(checkpointer=checkpointer)
def graph(numbers: list[int]) -> list[str]:
    futures = [add_one(i) for i in numbers]
    return [f.result() for f in futures]


print(graph.invoke([1, 2, 3], {"configurable": {"thread_id": "parallel-1"}}))


# Calling graphs
class State(TypedDict):
    foo: int


def double(state: State) -> State:
    return {"foo": state["foo"] * 2}


builder = StateGraph(State)
builder.add_node("double", double)
builder.set_entry_point("double")
graph = builder.compile()


@entrypoint(checkpointer=checkpointer)
def workflow(x: int) -> dict:
    result = graph.invoke({"foo": x})
    return {"bar": result["foo"]}


print(workflow.invoke(5, config={"configurable": {"thread_id": "graph-1"}}))  # Output: {'bar': 10}


# Call other entrypoints
@entrypoint()
def multiply(inputs: dict) -> int:
    return inputs["a"] * inputs["b"]


@entrypoint(checkpointer=checkpointer)
def main(inputs: dict) -> dict:
    result = multiply.invoke({"a": inputs["x"], "b": inputs["y"]})
    return {"product": result}


print(main.invoke({"x": 6, "y": 7}, config={"configurable": {"thread_id": "nested-1"}}))  # Output: {'product': 42}


@task
def square_then_multiply(x: int) -> int:
    return multiply.invoke({"a": x * x, "b": 2})  # an entrypoint inside a task


@entrypoint(checkpointer=checkpointer)
def outer(x: int) -> int:
    return square_then_multiply(x).result()


print(outer.invoke(3, {"configurable": {"thread_id": "nested-2"}}))


# Streaming
@entrypoint(checkpointer=checkpointer)
def main(inputs: dict) -> int:
    writer = get_stream_writer()
    writer("Started processing")
    result = inputs["x"] * 2
    writer(f"Result is {result}")
    return result


config = {"configurable": {"thread_id": "abc"}}
for mode, chunk in main.stream(
    {"x": 5},
    stream_mode=["custom", "updates"],
    config=config
):
    print(f"{mode}: {chunk}")


@task
def add_two(x: int, writer: StreamWriter) -> int:
    writer("hello from a task")
    return x + 2


@entrypoint(checkpointer=checkpointer)
def main(inputs: dict, writer: StreamWriter) -> int:
    writer("hello")
    result = add_two(inputs["x"]).result()
    writer("world")
    return result


for chunk in main.stream({"x": 3}, stream_mode=["custom", "updates"], config={"configurable": {"thread_id": "w"}}):
    print(chunk)


# Retry policy
attempts = 0
retry_policy = RetryPolicy(retry_on=ValueError)


@task(retry_policy=retry_policy)
def get_info():
    global attempts
    attempts += 1
    if attempts < 2:
        raise ValueError('Failure')
    return "OK"


@entrypoint(checkpointer=checkpointer)
def main(inputs, writer):
    return get_info().result()


config = {
    "configurable": {
        "thread_id": "1"
    }
}
print(repr(main.invoke({'any_input': 'foobar'}, config=config)), attempts)


# Caching tasks
@task(cache_policy=CachePolicy(ttl=120))
def slow_add(x: int) -> int:
    return x * 2


@entrypoint(cache=InMemoryCache())
def main(inputs: dict) -> dict[str, int]:
    result1 = slow_add(inputs["x"]).result()
    result2 = slow_add(inputs["x"]).result()
    return {"result1": result1, "result2": result2}


for chunk in main.stream({"x": 5}, stream_mode="updates"):
    print(chunk)


# Decouple return value from saved value
@entrypoint(checkpointer=checkpointer)
def accumulate(n: int, *, previous: Optional[int]) -> entrypoint.final[int, int]:
    previous = previous or 0
    total = previous + n
    return entrypoint.final(value=previous, save=total)


config = {"configurable": {"thread_id": "my-thread"}}
print(accumulate.invoke(1, config=config))  # 0
print(accumulate.invoke(2, config=config))  # 1
print(accumulate.invoke(3, config=config))  # 3
print(accumulate.get_state(config).values)


# Chatbot example
model = GenericFakeChatModel(messages=iter([
    AIMessage("Hi Bob! How are you doing today?"), AIMessage("Your name is Bob."),
]))


@task
def call_model(messages: list[BaseMessage]):
    response = model.invoke(messages)
    return response


@entrypoint(checkpointer=checkpointer)
def workflow(inputs: list[BaseMessage], *, previous: list[BaseMessage]):
    if previous:
        inputs = add_messages(previous, inputs)

    response = call_model(inputs).result()
    return entrypoint.final(value=response, save=add_messages(inputs, response))


config = {"configurable": {"thread_id": "1b"}}
input_message = {"role": "user", "content": "hi! I'm bob"}
for chunk in workflow.stream([input_message], config, stream_mode="values"):
    chunk.pretty_print()

input_message = {"role": "user", "content": "what's my name?"}
for chunk in workflow.stream([input_message], config, stream_mode="values"):
    chunk.pretty_print()
print(workflow.get_state(config).values.content)
