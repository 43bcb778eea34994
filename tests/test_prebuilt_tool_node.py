"""``lograph.runtime.prebuilt.ToolNode`` and ``tools_condition``, as LangGraph's prebuilt ones.

Tools run concurrently; their errors become ToolMessages as ``handle_tool_errors`` says;
a tool's Command updates the graph; injected arguments are filled by the node and hidden
from the model; a tool that calls a ``@task`` is memoized like any task, and an
``interrupt()`` in a tool pauses the node. Every async test runs on asyncio and trio.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from pydantic import BaseModel, ValidationError

from lograph.runtime import (
    END,
    START,
    Command,
    MessagesState,
    StateGraph,
    add_messages,
    interrupt,
    task,
)
from lograph.runtime.prebuilt import (
    InjectedState,
    InjectedStore,
    ToolNode,
    ToolRuntime,
    tools_condition,
)
from tests._stores import open_saver


def call(name: str, args: dict[str, Any], id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def asking(*calls: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=list(calls))


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return "foggy" if city == "sf" else "sunny"


@tool
def broken(x: int) -> int:
    """Always fails."""
    raise ValueError(f"no {x}")


@tool
async def async_weather(city: str) -> str:
    """The weather, asynchronously."""
    return f"async {city}"


# -- running calls --------------------------------------------------------------------


async def test_calls_run_concurrently_and_answer_in_call_order(anyio_backend: str) -> None:
    meet = threading.Barrier(2, timeout=5)  # each call waits for the other: only concurrency passes

    @tool
    def slow(n: int) -> str:
        """Waits for its sibling."""
        meet.wait()
        return f"slow {n}"

    node = ToolNode([slow, weather])
    out = await node.ainvoke({"messages": [asking(call("slow", {"n": 1}, "a"),
                                                  call("slow", {"n": 2}, "b"),
                                                  call("weather", {"city": "sf"}, "c"))]})
    assert [(m.tool_call_id, m.content, m.name) for m in out["messages"]] == [
        ("a", "slow 1", "slow"), ("b", "slow 2", "slow"), ("c", "foggy", "weather")]
    meet.reset()
    assert [m.content for m in node.invoke({"messages": [asking(call("slow", {"n": 3}, "x"),
                                                                  call("slow", {"n": 4}, "y"))]})
            ["messages"]] == ["slow 3", "slow 4"]


async def test_input_forms_and_the_messages_key(anyio_backend: str) -> None:
    message = asking(call("weather", {"city": "sf"}, "1"))
    node = ToolNode([weather])
    as_list = await node.ainvoke([HumanMessage("hi"), message])
    assert isinstance(as_list, list) and as_list[0].content == "foggy"
    direct = await node.ainvoke([call("weather", {"city": "la"}, "2")])
    assert direct == {"messages": [ToolMessage("sunny", name="weather", tool_call_id="2")]}

    class Chat(BaseModel):
        history: list[Any]

    keyed = ToolNode([weather], messages_key="history")
    assert (await keyed.ainvoke({"history": [message]}))["history"][0].content == "foggy"
    assert (await keyed.ainvoke(Chat(history=[message])))["history"][0].content == "foggy"
    with pytest.raises(ValueError, match="No message found in input"):
        await node.ainvoke({"history": [message]})
    with pytest.raises(ValueError, match="No AIMessage found in input"):
        await node.ainvoke({"messages": [HumanMessage("hi")]})


async def test_an_unknown_tool_is_answered_with_the_tools_there_are(anyio_backend: str) -> None:
    out = await ToolNode([weather, broken]).ainvoke({"messages": [asking(call("nope", {}, "1"))]})
    (message,) = out["messages"]
    assert message.status == "error" and message.tool_call_id == "1"
    assert message.content == "Error: nope is not a valid tool, try one of [weather, broken]."


async def test_async_tools_on_each_event_loop(anyio_backend: str) -> None:
    node = ToolNode([async_weather])
    request = {"messages": [asking(call("async_weather", {"city": "sf"}, "1"))]}
    if anyio_backend == "asyncio":
        assert (await node.ainvoke(request))["messages"][0].content == "async sf"
        return
    with pytest.raises(RuntimeError, match=r"only an async implementation.*asyncio only"):
        await node.ainvoke(request)  # langchain-core's async tool path needs asyncio

    def sync_weather(city: str) -> str:
        return f"sync {city}"

    async def async_one(city: str) -> str:
        return f"async {city}"

    from langchain_core.tools import StructuredTool

    both = StructuredTool.from_function(sync_weather, coroutine=async_one, name="async_weather",
                                        description="both")
    assert (await ToolNode([both]).ainvoke(request))["messages"][0].content == "sync sf"


def test_tool_results_become_message_content() -> None:
    @tool
    def numbers() -> list[int]:
        """Numbers."""
        return [1, 2]

    @tool
    def blocks() -> list[dict[str, str]]:
        """Content blocks."""
        return [{"type": "text", "text": "hello"}]

    out = ToolNode([numbers, blocks]).invoke(
        {"messages": [asking(call("numbers", {}, "1"), call("blocks", {}, "2"))]})
    assert [m.content for m in out["messages"]] == ["[1, 2]", [{"type": "text", "text": "hello"}]]


# -- errors ---------------------------------------------------------------------------


async def test_by_default_bad_arguments_are_answered_and_tool_errors_raise(anyio_backend: str) -> None:
    node = ToolNode([weather, broken])
    out = await node.ainvoke({"messages": [asking(call("weather", {"town": "sf"}, "1"))]})
    assert out["messages"][0].status == "error"
    assert out["messages"][0].content == (
        "Error invoking tool 'weather' with kwargs {'town': 'sf'} with error:\n"
        " city: Field required\n Please fix the error and try again.")
    with pytest.raises(ValueError, match="no 3"):
        await node.ainvoke({"messages": [asking(call("broken", {"x": 3}, "2"))]})


def handle_value_errors(e: ValueError) -> str:
    return f"handled {e}"


class Unrelated(Exception):
    pass


@pytest.mark.parametrize(("flag", "expected"), [
    (True, "Error: ValueError('no 1')\n Please fix your mistakes."),
    ("try again", "try again"),
    (ValueError, "Error: ValueError('no 1')\n Please fix your mistakes."),
    ((KeyError, ValueError), "Error: ValueError('no 1')\n Please fix your mistakes."),
    (handle_value_errors, "handled no 1"),
    (lambda e: f"any {type(e).__name__}", "any ValueError"),
])
async def test_handle_tool_errors_forms(anyio_backend: str, flag: Any, expected: str) -> None:
    out = await ToolNode([broken], handle_tool_errors=flag).ainvoke(
        {"messages": [asking(call("broken", {"x": 1}, "7"))]})
    assert out["messages"] == [ToolMessage(expected, name="broken", tool_call_id="7", status="error")]


@pytest.mark.parametrize("flag", [False, Unrelated, (KeyError, Unrelated)])
async def test_errors_not_handled_propagate(anyio_backend: str, flag: Any) -> None:
    def only_unrelated(e: Unrelated) -> str:
        return "no"

    for handling in (flag, only_unrelated):
        with pytest.raises(ValueError, match="no 1"):
            await ToolNode([broken], handle_tool_errors=handling).ainvoke(
                {"messages": [asking(call("broken", {"x": 1}, "7"))]})
        if flag is False:
            break


def test_a_handler_annotated_with_a_non_exception_is_refused() -> None:
    def bad(e: int) -> str:
        return "x"

    with pytest.raises(ValueError, match="annotate it with an Exception type"):
        ToolNode([broken], handle_tool_errors=bad)


def test_unimplemented_options_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="wrap_tool_call"):
        ToolNode([weather], wrap_tool_call=lambda request, execute: execute(request))


# -- injection ------------------------------------------------------------------------


@tool
def count_state(x: int, state: Annotated[dict, InjectedState]) -> str:
    """Counts the messages."""
    return f"{x}: {len(state['messages'])} messages"


@tool
def read_topic(x: int, topic: Annotated[str, InjectedState("topic")]) -> str:
    """Reads the topic."""
    return f"{topic} {x}"


@tool
def optional_topic(x: int, topic: Annotated[str | None, InjectedState("topic")] = None) -> str:
    """Reads the topic if there is one."""
    return f"{topic} {x}"


def test_injected_arguments_are_hidden_from_the_model_and_filled_by_the_node() -> None:
    for t in (count_state, read_topic):
        assert set(t.tool_call_schema.model_json_schema()["properties"]) == {"x"}
    message = asking(call("count_state", {"x": 1, "state": {"forged": True}}, "1"),
                     call("read_topic", {"x": 2, "topic": "forged"}, "2"))
    node = ToolNode([count_state, read_topic, optional_topic])
    out = node.invoke({"messages": [HumanMessage("hi"), message], "topic": "tides"})
    assert [m.content for m in out["messages"]] == ["1: 2 messages", "tides 2"]
    with pytest.raises(KeyError, match="topic"):
        node.invoke({"messages": [asking(call("read_topic", {"x": 2}, "2"))]})
    assert node.invoke({"messages": [asking(call("optional_topic", {"x": 3}, "3"))]}
                       )["messages"][0].content == "None 3"
    with pytest.raises(ValueError, match="requires graph state dict"):
        node.invoke([asking(call("read_topic", {"x": 2}, "2"))])
    assert node.invoke([asking(call("count_state", {"x": 4}, "4"))])[0].content == "4: 1 messages"


def test_injected_store_without_a_store_is_a_clear_error() -> None:
    @tool
    def remember(x: int, store: Annotated[Any, InjectedStore()]) -> str:
        """Uses the store."""
        return "kept"

    assert set(remember.tool_call_schema.model_json_schema()["properties"]) == {"x"}
    with pytest.raises(ValueError, match="compile your graph with a store"):
        ToolNode([remember]).invoke({"messages": [asking(call("remember", {"x": 1}, "1"))]})


# -- Commands -------------------------------------------------------------------------


def last(_old: Any, new: Any) -> Any:
    return new


class Profile(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    name: Annotated[str, last]
    visits: Annotated[list[str], lambda a, b: a + b]


@tool
def set_name(name: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
    """Sets the user's name."""
    return Command(update={"name": name, "visits": [name],
                           "messages": [ToolMessage(f"name set to {name}", tool_call_id=tool_call_id)]})


def profile_graph() -> StateGraph[Any]:
    builder = StateGraph(Profile)
    builder.add_node("tools", ToolNode([set_name, weather]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder


async def test_tools_that_return_commands_update_the_graph(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    message = asking(call("set_name", {"name": "ada"}, "1"), call("weather", {"city": "sf"}, "2"),
                     call("set_name", {"name": "bob"}, "3"))
    async with open_saver(store_kind, tmp_path) as saver:
        graph = profile_graph().compile(checkpointer=saver)
        updates = [u async for u in graph.astream({"messages": [message]}, cfg("p"),
                                                  stream_mode="updates")]
        state = (await graph.aget_state(cfg("p"))).values
    assert state["name"] == "bob" and state["visits"] == ["ada", "bob"]
    assert [(m.tool_call_id, m.content, m.name) for m in state["messages"][1:]] == [
        ("1", "name set to ada", "set_name"), ("2", "foggy", "weather"),
        ("3", "name set to bob", "set_name")]
    (update,) = updates
    assert [list(u) for u in update["tools"]][:2] == [["name"], ["visits"]]  # a key written twice


async def test_a_command_must_answer_its_tool_call(anyio_backend: str) -> None:
    @tool
    def silent(tool_call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
        """Answers nothing."""
        return Command(update={"name": "x"})

    node = ToolNode([silent], handle_tool_errors=False)
    with pytest.raises(ValueError, match="Expected to have a matching ToolMessage"):
        await node.ainvoke({"messages": [asking(call("silent", {}, "1"))]})
    with pytest.raises(ValueError, match=r"Command\.update only when using dict"):
        await node.ainvoke([asking(call("silent", {}, "1"))])


def test_a_list_of_commands_and_messages_from_one_tool() -> None:
    @tool
    def two(tool_call_id: Annotated[str, InjectedToolCallId]) -> list[Any]:
        """Returns a Command and its answer."""
        return [Command(update={"name": "z"}), ToolMessage("done", tool_call_id=tool_call_id)]

    @tool
    def none(tool_call_id: Annotated[str, InjectedToolCallId]) -> list[Any]:
        """Returns no answer."""
        return [Command(update={"name": "z"})]

    out = ToolNode([two]).invoke({"messages": [asking(call("two", {}, "1"))]})
    assert out[0] == Command(update={"name": "z"})
    assert out[1] == {"messages": [ToolMessage("done", tool_call_id="1")]}
    with pytest.raises(ValueError, match="expected exactly one terminating ToolMessage"):
        ToolNode([none]).invoke({"messages": [asking(call("none", {}, "1"))]})


# -- tools_condition ------------------------------------------------------------------


def test_tools_condition_routes_on_the_last_message() -> None:
    assert tools_condition({"messages": [asking(call("weather", {}, "1"))]}) == "tools"
    assert tools_condition({"messages": [AIMessage("done")]}) == END
    assert tools_condition([HumanMessage("x"), asking(call("weather", {}, "1"))]) == "tools"
    assert tools_condition({"chat": [AIMessage("x")]}, messages_key="chat") == END

    class S(BaseModel):
        messages: list[Any]

    assert tools_condition(S(messages=[asking(call("w", {}, "1"))])) == "tools"
    with pytest.raises(ValueError, match="No messages found"):
        tools_condition({"messages": []})


# -- durability: tasks and interrupts inside tools --------------------------------------


async def test_a_tool_that_calls_a_task_is_memoized_and_its_interrupt_resumes(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """Two tool calls in one node, each running a @task and then asking a human. On
    resume the node runs again: the tasks' results come from the log (each ran once),
    and each tool gets its own answer, whatever order the tools ran in."""
    ran: list[str] = []

    @task
    def charge(account: str) -> str:
        ran.append(account)
        return f"charged {account}"

    @tool
    def pay(account: str) -> str:
        """Charges an account once a human approves."""
        receipt = charge(account).result()
        answer = interrupt(f"send receipt for {account}?")
        return f"{receipt}: {answer}"

    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([pay]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    message = asking(call("pay", {"account": "a1"}, "1"), call("pay", {"account": "b2"}, "2"))
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        out = await graph.ainvoke({"messages": [message]}, cfg("t"), durability="sync")
        asked = {i.value: i.id for i in out["__interrupt__"]}
        assert set(asked) == {"send receipt for a1?", "send receipt for b2?"}
        assert sorted(ran) == ["a1", "b2"]
        out = await graph.ainvoke(Command(resume={asked["send receipt for a1?"]: "yes",
                                                  asked["send receipt for b2?"]: "no"}), cfg("t"))
    assert sorted(ran) == ["a1", "b2"], "a recorded task ran again"
    assert [m.content for m in out["messages"][1:]] == ["charged a1: yes", "charged b2: no"]


class Approval(BaseModel):
    approved: bool


async def test_a_refused_answer_to_a_tools_interrupt_is_not_a_tool_error(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """handle_tool_errors=True answers a tool's errors with a ToolMessage; an answer the
    tool's interrupt schema refuses is not one: the run fails, the interrupt waits."""

    @tool
    def delete(path: str) -> str:
        """Deletes a file once a human approves."""
        answer = interrupt(f"delete {path}?", response_schema=Approval)
        return "deleted" if answer.approved else "kept"

    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([delete], handle_tool_errors=True))
    builder.add_edge(START, "tools")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        out = await graph.ainvoke({"messages": [asking(call("delete", {"path": "/a"}, "1"))]}, cfg("t"))
        [pending] = out["__interrupt__"]
        with pytest.raises(ValidationError):
            await graph.ainvoke(Command(resume={"approved": "sure"}), cfg("t"))
        assert (await graph.aget_state(cfg("t"))).interrupts == (pending,)
        out = await graph.ainvoke(Command(resume={"approved": False}), cfg("t"))
    assert out["messages"][-1].content == "kept"


async def test_parallel_tools_wait_for_each_other_and_cancel_nothing(anyio_backend: str) -> None:
    finished: list[str] = []

    @tool
    def fast() -> str:
        """Returns at once."""
        finished.append("fast")
        return "fast"

    @tool
    def fails() -> str:
        """Fails after a while."""
        import time

        time.sleep(0.05)
        raise Unrelated("late")

    with anyio.fail_after(5):
        with pytest.raises(Unrelated, match="late"):
            await ToolNode([fast, fails]).ainvoke(
                {"messages": [asking(call("fails", {}, "1"), call("fast", {}, "2"))]})
    assert finished == ["fast"]


# -- ToolRuntime ----------------------------------------------------------------------


@tool
def inspect_runtime(x: int, runtime: ToolRuntime) -> str:
    """Reports what its runtime holds."""
    runtime.stream_writer({"tool": runtime.tool_call_id, "x": x})
    return (f"{runtime.tool_call_id} {len(runtime.state['messages'])} "
            f"{runtime.config['configurable'].get('user')} {[t.name for t in runtime.tools]}")


async def test_a_tool_runtime_argument_is_filled_and_hidden(anyio_backend: str) -> None:
    assert set(inspect_runtime.tool_call_schema.model_json_schema()["properties"]) == {"x"}
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([inspect_runtime, weather]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    message = asking(call("inspect_runtime", {"x": 1, "runtime": "forged"}, "c1"),
                     call("inspect_runtime", {"x": 2}, "c2"))
    chunks = [c async for c in builder.compile().astream(
        {"messages": [message]}, {"configurable": {"user": "ada"}}, stream_mode=["custom", "updates"])]
    custom = sorted((c[1]["tool"], c[1]["x"]) for c in chunks if c[0] == "custom")
    assert custom == [("c1", 1), ("c2", 2)]
    (update,) = [c[1] for c in chunks if c[0] == "updates"]
    assert [m.content for m in update["tools"]["messages"]] == [
        "c1 1 ada ['inspect_runtime', 'weather']", "c2 1 ada ['inspect_runtime', 'weather']"]
