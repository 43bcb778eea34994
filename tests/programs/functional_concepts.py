"""LangGraph's "Functional API" concepts page: the essay workflow that waits for review,
injectable parameters (previous, store, writer, config), short-term memory with
`previous` and `entrypoint.final`, async tasks, resuming after an error, side effects
kept in tasks. Stand-ins: no sleeping; thread ids fixed; a counter stands for the file
the side-effect example writes."""

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.func import entrypoint, task  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.base import BaseStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.memory import InMemoryStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command, StreamWriter, interrupt  # noqa: TID251 - the program as LangGraph's docs write it


@task
def write_essay(topic: str) -> str:
    """Write an essay about the given topic."""
    return f"An essay about topic: {topic}"


@entrypoint(checkpointer=InMemorySaver())
def workflow(topic: str) -> dict:
    """A simple workflow that writes an essay and asks for a review."""
    essay = write_essay("cat").result()
    is_approved = interrupt(
        {
            "essay": essay,
            "action": "Please approve/reject the essay",
        }
    )
    return {
        "essay": essay,
        "is_approved": is_approved,
    }


config = {"configurable": {"thread_id": "essay"}}
for item in workflow.stream("cat", config):
    print({k: [i.value for i in v] if k == "__interrupt__" else v for k, v in item.items()})
human_review = True
for item in workflow.stream(Command(resume=human_review), config):
    print(item)


# Injectable parameters
checkpointer = InMemorySaver()
in_memory_store = InMemoryStore()
in_memory_store.put(("prefs",), "u1", {"color": "green"})


@entrypoint(
    checkpointer=checkpointer,
    store=in_memory_store
)
def my_workflow(
    some_input: dict,
    *,
    previous: Any = None,
    store: BaseStore,
    writer: StreamWriter,
    config: RunnableConfig
) -> dict:
    writer(f"previous was {previous}")
    color = store.get(("prefs",), config["configurable"]["user"]).value["color"]
    return {"n": (previous or {"n": 0})["n"] + some_input["n"], "color": color}


config = {"configurable": {"thread_id": "inject", "user": "u1"}}
for chunk in my_workflow.stream({"n": 2}, config, stream_mode=["custom", "values"]):
    print(chunk)
print(my_workflow.invoke({"n": 3}, config))


# Short-term memory
@entrypoint(checkpointer=checkpointer)
def my_workflow(number: int, *, previous: Any = None) -> int:
    previous = previous or 0
    return number + previous


config = {
    "configurable": {
        "thread_id": "some_thread_id"
    }
}
print(my_workflow.invoke(1, config))  # 1 (previous was None)
print(my_workflow.invoke(2, config))  # 3 (previous was 1 from the previous invocation)


@entrypoint(checkpointer=checkpointer)
def my_workflow(number: int, *, previous: Any = None) -> entrypoint.final[int, int]:
    previous = previous or 0
    return entrypoint.final(value=previous, save=2 * number)


config = {
    "configurable": {
        "thread_id": "1"
    }
}
print(my_workflow.invoke(3, config))  # 0 (previous was None)
print(my_workflow.invoke(1, config))  # 6 (previous was 3 * 2 from the previous invocation)


# Tasks, awaited
@task()
async def slow_computation(input_value):
    await asyncio.sleep(0)
    return input_value * 10


@entrypoint(checkpointer=checkpointer)
async def my_workflow(some_input: int) -> int:
    return await slow_computation(some_input)


print(asyncio.run(my_workflow.ainvoke(4, {"configurable": {"thread_id": "async"}})))


# Resuming after an error
calls = []


@task
def flaky(x: int) -> int:
    calls.append(x)
    if calls.count(x) == 1:
        raise ConnectionError("the service is down")
    return x + 1


@task
def first_step(x: int) -> int:
    calls.append(("first", x))
    return x * 2


@entrypoint(checkpointer=checkpointer)
def my_workflow(x: int) -> int:
    y = first_step(x).result()
    return flaky(y).result()


config = {"configurable": {"thread_id": "error"}}
try:
    my_workflow.invoke(5, config)
except ConnectionError as e:
    print("failed:", e)
print(my_workflow.invoke(None, config), calls)


# Handling side effects: in a task, not repeated on resume
effects = []


@task
def write_to_file():
    effects.append("Side effect executed")


@entrypoint(checkpointer=checkpointer)
def my_workflow(inputs: dict) -> int:
    write_to_file().result()
    value = interrupt("question")
    return value


config = {"configurable": {"thread_id": "effects"}}
my_workflow.invoke({}, config)
print(my_workflow.invoke(Command(resume=42), config), effects)
