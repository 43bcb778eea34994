"""``lograph.runtime.prebuilt.create_react_agent``, as LangGraph's prebuilt ReAct agent.

A fake tool-calling model (langchain-core's FakeMessagesListChatModel with a
``bind_tools`` that keeps it, and a record of what it was shown) drives the loop: tool
calls, prompts, reviewing tool calls before they run, structured responses, the model
hooks, the step budget, deleting messages. Every async test runs on asyncio and trio;
those that keep a thread run on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from lograph.adapters.memory import MemorySaver
from lograph.runtime import REMOVE_ALL_MESSAGES, Checkpointer, Command, add_messages, interrupt
from lograph.runtime.prebuilt import (
    AgentState,
    HumanInterrupt,
    InjectedStore,
    ToolNode,
    create_react_agent,
)
from tests._stores import open_saver
from tests.test_longterm_store import open_store


class FakeToolModel(FakeMessagesListChatModel):
    """Answers with ``responses`` in turn; remembers every list of messages it was shown."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[str] = Field(default_factory=list)
    structured: Any = None

    def bind_tools(self, tools: Any, **kwargs: Any) -> FakeToolModel:
        self.bound = [getattr(t, "name", None) or t["name"] for t in tools]
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        def answer(messages: list[BaseMessage]) -> Any:
            self.seen.append(list(messages))
            return self.structured

        return RunnableLambda(answer)


def call(name: str, args: dict[str, Any], id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": id, "type": "tool_call"}


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def kinds(messages: list[Any]) -> list[tuple[str, Any]]:
    return [(type(m).__name__, m.content) for m in messages]


ran: list[str] = []


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    ran.append(city)
    return "foggy" if city == "sf" else "sunny"


@tool
def shout(text: str) -> str:
    """Says it loudly, and the agent stops there."""
    return text.upper()


shout.return_direct = True


def two_cities() -> FakeToolModel:
    return FakeToolModel(responses=[
        AIMessage("", id="ai1", tool_calls=[call("weather", {"city": "sf"}, "c1"),
                                            call("weather", {"city": "nyc"}, "c2")]),
        AIMessage("sf is foggy, nyc sunny", id="ai2"),
    ])


# -- the loop -------------------------------------------------------------------------


async def test_the_agent_calls_tools_until_the_model_answers(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    model = two_cities()
    ran.clear()
    async with open_saver(store_kind, tmp_path) as saver:
        agent = create_react_agent(model, [weather], prompt="Be brief.", checkpointer=saver)
        updates = [u async for u in agent.astream({"messages": [("user", "weather?")]}, cfg("a"),
                                                  stream_mode="updates")]
        state = await create_react_agent(model, [weather], checkpointer=Checkpointer(saver.log)
                                         ).aget_state(cfg("a"))
    assert model.bound == ["weather"]
    assert [list(u) for u in updates] == [["agent"], ["tools"], ["tools"], ["agent"]]
    assert kinds(state.values["messages"]) == [
        ("HumanMessage", "weather?"), ("AIMessage", ""), ("ToolMessage", "foggy"),
        ("ToolMessage", "sunny"), ("AIMessage", "sf is foggy, nyc sunny")]
    assert set(state.values) == {"messages"}  # remaining_steps is never stored
    assert sorted(ran) == ["nyc", "sf"]
    first, second = model.seen
    assert kinds(first) == [("SystemMessage", "Be brief."), ("HumanMessage", "weather?")]
    assert [type(m).__name__ for m in second] == ["SystemMessage", "HumanMessage", "AIMessage",
                                                  "ToolMessage", "ToolMessage"]
    assert state.next == ()


async def test_version_v1_runs_the_calls_in_one_task(anyio_backend: str) -> None:
    agent = create_react_agent(two_cities(), [weather], version="v1")
    updates = [u async for u in agent.astream({"messages": [("user", "hi")]}, stream_mode="updates")]
    assert [list(u) for u in updates] == [["agent"], ["tools"], ["agent"]]
    assert [m.content for m in updates[1]["tools"]["messages"]] == ["foggy", "sunny"]


async def test_no_tools_is_one_model_call_and_the_name_marks_its_messages(anyio_backend: str) -> None:
    model = FakeToolModel(responses=[AIMessage("hello")])
    agent = create_react_agent(model, [], name="greeter")
    out = await agent.ainvoke({"messages": [("user", "hi")]})
    assert kinds(out["messages"]) == [("HumanMessage", "hi"), ("AIMessage", "hello")]
    assert out["messages"][-1].name == "greeter" and agent.name == "greeter"
    assert model.bound == []


@pytest.mark.parametrize("form", ["str", "system", "callable", "runnable", "async"])
async def test_prompt_forms(anyio_backend: str, form: str) -> None:
    def build(state: Any) -> list[Any]:
        return [SystemMessage("from a function"), *state["messages"]]

    async def abuild(state: Any) -> list[Any]:
        return [SystemMessage("from a coroutine"), *state["messages"]]

    prompt = {"str": "plain", "system": SystemMessage("a system message"), "callable": build,
              "runnable": RunnableLambda(build), "async": abuild}[form]
    model = FakeToolModel(responses=[AIMessage("ok")])
    agent = create_react_agent(model, [weather], prompt=prompt)
    if form == "async" and anyio_backend == "trio":
        with pytest.raises(RuntimeError, match="async, and langchain-core runs async runnables"):
            await agent.ainvoke({"messages": [("user", "hi")]})
        return
    await agent.ainvoke({"messages": [("user", "hi")]})
    (shown,) = model.seen
    assert kinds(shown)[0] == ("SystemMessage", {
        "str": "plain", "system": "a system message", "callable": "from a function",
        "runnable": "from a function", "async": "from a coroutine"}[form])
    assert kinds(shown)[1:] == [("HumanMessage", "hi")]


async def test_return_direct_tools_end_the_run(anyio_backend: str) -> None:
    model = FakeToolModel(responses=[AIMessage("", tool_calls=[call("shout", {"text": "hi"}, "s")])])
    out = await create_react_agent(model, [shout, weather]).ainvoke({"messages": [("user", "x")]})
    assert kinds(out["messages"])[-1] == ("ToolMessage", "HI")
    assert len(model.seen) == 1


async def test_the_step_budget_ends_with_an_apology(anyio_backend: str) -> None:
    """The step before the recursion limit: a model that still asks for tools gets an
    apology in its place (``remaining_steps``), not a GraphRecursionError."""
    loops = [AIMessage("", id=f"ai{i}", tool_calls=[call("weather", {"city": "sf"}, f"c{i}")])
             for i in range(5)]
    agent = create_react_agent(FakeToolModel(responses=loops), [weather])
    out = await agent.ainvoke({"messages": [("user", "x")]}, {"recursion_limit": 6})
    assert [type(m).__name__ for m in out["messages"]] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert kinds(out["messages"])[-1] == ("AIMessage",
                                          "Sorry, need more steps to process this request.")
    assert out["messages"][-1].id == "ai2"


# -- reviewing tool calls -------------------------------------------------------------


async def test_review_a_tool_call_edit_it_and_resume(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """interrupt_before=["tools"]: the run stops with the model's tool call pending; a
    reviewer rewrites the call's arguments (the same message id replaces it) and the run
    goes on with the edited call."""
    ran.clear()
    model = FakeToolModel(responses=[
        AIMessage("", id="ask", tool_calls=[call("weather", {"city": "sf"}, "c1")]),
        AIMessage("done", id="fin"),
    ])
    async with open_saver(store_kind, tmp_path) as saver:
        agent = create_react_agent(model, [weather], checkpointer=saver, interrupt_before=["tools"])
        await agent.ainvoke({"messages": [("user", "weather in sf?")]}, cfg("r"), durability="sync")
        paused = await agent.aget_state(cfg("r"))
        assert paused.next == ("tools",) and ran == []
        pending = paused.values["messages"][-1]
        assert pending.tool_calls[0]["args"] == {"city": "sf"}

        edited = AIMessage("", id=pending.id, tool_calls=[call("weather", {"city": "la"}, "c1")])
        await agent.aupdate_state(cfg("r"), {"messages": [edited]})
        again = await agent.aget_state(cfg("r"))
        assert again.next == ("tools",)
        assert again.values["messages"][-1].tool_calls[0]["args"] == {"city": "la"}

        out = await agent.ainvoke(None, cfg("r"))
        fresh = create_react_agent(model, [weather], checkpointer=Checkpointer(saver.log))
        history = [s async for s in fresh.aget_state_history(cfg("r"))]
    assert ran == ["la"]
    assert kinds(out["messages"]) == [("HumanMessage", "weather in sf?"), ("AIMessage", ""),
                                      ("ToolMessage", "sunny"), ("AIMessage", "done")]
    assert [m.id for m in out["messages"]].count("ask") == 1
    assert history[0].next == () and any(s.next == ("tools",) for s in history)


async def test_interrupt_after_the_agent(anyio_backend: str) -> None:
    model = two_cities()
    agent = create_react_agent(model, [weather], checkpointer=MemorySaver(),
                               interrupt_after=["agent"])
    await agent.ainvoke({"messages": [("user", "x")]}, cfg("i"))
    assert (await agent.aget_state(cfg("i"))).next == ("tools", "tools")
    out = await agent.ainvoke(None, cfg("i"))  # stops after the agent's second turn too
    assert kinds(out["messages"])[-1] == ("AIMessage", "sf is foggy, nyc sunny")


# -- deleting messages ----------------------------------------------------------------


async def test_deleting_messages_of_an_agent_thread(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    model = FakeToolModel(responses=[AIMessage("one"), AIMessage("two"), AIMessage("three")])
    async with open_saver(store_kind, tmp_path) as saver:
        agent = create_react_agent(model, [], checkpointer=saver)
        out = await agent.ainvoke({"messages": [("user", "a")]}, cfg("d"))
        out = await agent.ainvoke({"messages": [("user", "b")]}, cfg("d"))
        first_two = [m.id for m in out["messages"][:2]]
        await agent.aupdate_state(cfg("d"), {"messages": [RemoveMessage(id=i) for i in first_two]})
        out = await agent.ainvoke({"messages": [("user", "c")]}, cfg("d"))
        assert kinds(model.seen[-1]) == [("HumanMessage", "b"), ("AIMessage", "two"),
                                         ("HumanMessage", "c")]
        await agent.aupdate_state(cfg("d"), {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES),
                                                          ("user", "fresh start")]})
        state = await create_react_agent(model, [], checkpointer=Checkpointer(saver.log)
                                         ).aget_state(cfg("d"))
    assert kinds(state.values["messages"]) == [("HumanMessage", "fresh start")]


# -- hooks and structured responses -----------------------------------------------------


async def test_a_pre_model_hook_trims_what_the_model_sees(anyio_backend: str) -> None:
    def last_only(state: Any) -> dict[str, Any]:
        return {"llm_input_messages": state["messages"][-1:]}

    model = FakeToolModel(responses=[AIMessage("first"), AIMessage("second")])
    agent = create_react_agent(model, [weather], pre_model_hook=last_only,
                               checkpointer=MemorySaver())
    await agent.ainvoke({"messages": [("user", "a")]}, cfg("h"))
    out = await agent.ainvoke({"messages": [("user", "b")]}, cfg("h"))
    assert kinds(model.seen[-1]) == [("HumanMessage", "b")]
    assert set(out) == {"messages"}  # llm_input_messages is the model's, not the output's
    assert len(out["messages"]) == 4


async def test_a_pre_model_hook_that_replaces_the_history(anyio_backend: str) -> None:
    def summarize(state: Any) -> dict[str, Any]:
        if len(state["messages"]) < 3:
            return {}
        return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES),
                             SystemMessage(f"summary of {len(state['messages'])} messages"),
                             state["messages"][-1]]}

    model = FakeToolModel(responses=[AIMessage("first"), AIMessage("second")])
    agent = create_react_agent(model, [], pre_model_hook=summarize, checkpointer=MemorySaver())
    await agent.ainvoke({"messages": [("user", "a")]}, cfg("s"))
    out = await agent.ainvoke({"messages": [("user", "b")]}, cfg("s"))
    assert kinds(out["messages"]) == [("SystemMessage", "summary of 3 messages"),
                                      ("HumanMessage", "b"), ("AIMessage", "second")]


async def test_a_post_model_hook_sees_each_answer_and_tools_still_run(anyio_backend: str) -> None:
    checked: list[str] = []

    def guard(state: Any) -> dict[str, Any]:
        checked.append((type(state["messages"][-1]).__name__, state["remaining_steps"]))
        return {}

    model = two_cities()
    agent = create_react_agent(model, [weather], post_model_hook=guard)
    updates = [u async for u in agent.astream({"messages": [("user", "x")]}, stream_mode="updates")]
    assert [list(u) for u in updates] == [["agent"], ["post_model_hook"], ["tools"], ["tools"],
                                          ["agent"], ["post_model_hook"]]
    assert checked == [("AIMessage", 23), ("AIMessage", 20)]  # the hooks see the step budget
    with pytest.raises(ValueError, match="only available with version='v2'"):
        create_react_agent(model, [weather], post_model_hook=guard, version="v1")


class Weather(BaseModel):
    city: str
    sky: str


async def test_response_format_adds_a_structured_response(anyio_backend: str) -> None:
    model = two_cities()
    model.structured = Weather(city="sf", sky="foggy")
    agent = create_react_agent(model, [weather], response_format=Weather)
    updates = [u async for u in agent.astream({"messages": [("user", "x")]}, stream_mode="updates")]
    assert list(updates[-1]) == ["generate_structured_response"]
    out = await create_react_agent(two_cities(), [weather], response_format=(
        "Answer as JSON.", Weather)).ainvoke({"messages": [("user", "y")]})
    assert out["structured_response"] is None  # that model has no structured answer set
    model2 = two_cities()
    model2.structured = {"city": "nyc", "sky": "sunny"}
    out = await create_react_agent(model2, [weather], response_format=(
        "Answer as JSON.", Weather)).ainvoke({"messages": [("user", "y")]})
    assert out["structured_response"] == {"city": "nyc", "sky": "sunny"}
    assert kinds(model2.seen[-1])[0] == ("SystemMessage", "Answer as JSON.")
    assert updates[-1]["generate_structured_response"]["structured_response"] == Weather(
        city="sf", sky="foggy")


async def test_a_custom_state_schema_and_its_errors(anyio_backend: str) -> None:
    class Custom(AgentState):
        user: str

    class Missing(TypedDict):
        messages: Annotated[list[Any], add_messages]

    model = FakeToolModel(responses=[AIMessage("ok")])
    out = await create_react_agent(model, [weather], state_schema=Custom).ainvoke(
        {"messages": [("user", "x")], "user": "ada"})
    assert out["user"] == "ada"
    with pytest.raises(ValueError, match="Missing required key"):
        create_react_agent(model, [weather], state_schema=Missing)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        create_react_agent(model, [weather], temperature=0)
    with pytest.raises(ValueError, match="Invalid version"):
        create_react_agent(model, [weather], version="v3")  # type: ignore[arg-type]


async def test_a_tool_node_and_a_model_bound_already(anyio_backend: str) -> None:
    model = FakeToolModel(responses=[AIMessage("ok")])
    agent = create_react_agent(model, ToolNode([weather], handle_tool_errors=True))
    assert (await agent.ainvoke({"messages": [("user", "x")]}))["messages"][-1].content == "ok"

    from langchain_core.runnables import RunnableBinding

    bound = RunnableBinding(bound=model, kwargs={"tools": [{"name": "other"}]})
    with pytest.raises(ValueError, match="Missing tools"):
        create_react_agent(bound, [weather])


async def test_a_history_with_an_unanswered_tool_call_is_refused(anyio_backend: str) -> None:
    agent = create_react_agent(FakeToolModel(responses=[AIMessage("ok")]), [weather])
    dangling = AIMessage("", tool_calls=[call("weather", {"city": "sf"}, "c9")])
    with pytest.raises(ValueError, match="do not have a corresponding ToolMessage"):
        await agent.ainvoke({"messages": [HumanMessage("x"), dangling, HumanMessage("y")]})
    answered = [HumanMessage("x"), dangling, ToolMessage("foggy", tool_call_id="c9"),
                HumanMessage("y")]
    assert (await agent.ainvoke({"messages": answered}))["messages"][-1].content == "ok"


# -- the README's example ---------------------------------------------------------------


def test_the_readmes_langchain_example_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## LangChain"):readme.index("## Audit")]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", section, re.S)[:2]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert [line.rstrip() for line in printed.splitlines()] == [
        line.rstrip() for line in shown.splitlines()]
    assert (tmp_path / "agent.db").exists()


# -- LangGraph's documented forms -------------------------------------------------------


async def test_a_prompt_function_is_given_the_runs_config(anyio_backend: str) -> None:
    def prompt(state: AgentState, config: RunnableConfig) -> list[Any]:
        name = config["configurable"].get("user_name")
        return [{"role": "system", "content": f"Address the user as {name}."}, *state["messages"]]

    model = FakeToolModel(responses=[AIMessage("hi John")])
    agent = create_react_agent(model, [weather], prompt=prompt)
    await agent.ainvoke({"messages": [("user", "hello")]}, {"configurable": {"user_name": "John"}})
    assert kinds(model.seen[0]) == [("SystemMessage", "Address the user as John."),
                                    ("HumanMessage", "hello")]


async def test_a_tool_that_asks_a_human_pauses_the_agent(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """A tool calling ``interrupt()`` with a review request (the documented
    human-in-the-loop wrapper's shape): the run pauses inside the tool's task; the
    answer resumes that task only."""
    booked: list[str] = []

    @tool
    def book_hotel(hotel_name: str) -> str:
        """Books a hotel once a human accepts or edits the booking."""
        request: HumanInterrupt = {
            "action_request": {"action": "book_hotel", "args": {"hotel_name": hotel_name}},
            "config": {"allow_accept": True, "allow_edit": True, "allow_respond": False,
                       "allow_ignore": False},
            "description": "Please review the tool call"}
        response = interrupt([request])[0]
        if response["type"] == "edit":
            hotel_name = response["args"]["args"]["hotel_name"]
        booked.append(hotel_name)
        return f"Booked {hotel_name}."

    model = FakeToolModel(responses=[
        AIMessage("", id="ask", tool_calls=[call("book_hotel", {"hotel_name": "Grand"}, "b1"),
                                            call("weather", {"city": "sf"}, "w1")]),
        AIMessage("all set", id="end"),
    ])
    ran.clear()
    async with open_saver(store_kind, tmp_path) as saver:
        agent = create_react_agent(model, [book_hotel, weather], checkpointer=saver)
        out = await agent.ainvoke({"messages": [("user", "book it")]}, cfg("h"), durability="sync")
        (asked,) = out["__interrupt__"]
        assert asked.value[0]["action_request"]["args"] == {"hotel_name": "Grand"}
        paused = await agent.aget_state(cfg("h"))
        assert paused.next == ("tools",) and ran == ["sf"]  # the other call finished
        out = await agent.ainvoke(Command(resume=[{"type": "edit", "args": {
            "action": "book_hotel", "args": {"hotel_name": "Grand Hotel"}}}]), cfg("h"))
    assert booked == ["Grand Hotel"] and ran == ["sf"]
    assert kinds(out["messages"])[2:] == [("ToolMessage", "Booked Grand Hotel."),
                                          ("ToolMessage", "foggy"), ("AIMessage", "all set")]


async def test_a_model_chosen_for_each_call_from_the_state_and_the_context(anyio_backend: str) -> None:
    """A dynamic model: a function of the state and the run's Runtime (its context)."""
    from dataclasses import dataclass

    @dataclass
    class Choice:
        model: str

    models = {"small": FakeToolModel(responses=[AIMessage("small answer")]),
              "large": FakeToolModel(responses=[AIMessage("large answer")])}

    def select(state: Any, runtime: Any) -> Any:
        return models[runtime.context.model].bind_tools([weather])

    agent = create_react_agent(select, [weather], context_schema=Choice)
    out = await agent.ainvoke({"messages": [("user", "x")]}, context={"model": "large"})
    assert out["messages"][-1].content == "large answer"
    assert models["small"].seen == [] and len(models["large"].seen) == 1


# -- callbacks and token streaming -------------------------------------------------------


class WordStreamer(BaseChatModel):
    """Asks for the weather in sf, then, seeing the answer, streams its reply word by word."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> WordStreamer:
        return self

    def _reply(self, messages: list[BaseMessage]) -> tuple[str, list[dict[str, Any]]]:
        if any(isinstance(m, ToolMessage) for m in messages):
            return "it is foggy", []
        return "", [call("weather", {"city": "sf"}, "c1")]

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text, calls = self._reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text, tool_calls=calls))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        text, calls = self._reply(messages)
        for i, word in enumerate(text.split()):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=(" " if i else "") + word))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        for c in calls:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": 0}]))

    @property
    def _llm_type(self) -> str:
        return "word-streamer"


class Runs(BaseCallbackHandler):
    """Every run a callback manager starts: (kind, name, run id, parent run id)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, Any, Any, Any]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, parent_run_id: Any = None,
                       **kwargs: Any) -> None:
        self.runs.append(("chain", kwargs.get("name"), run_id, parent_run_id))

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                            parent_run_id: Any = None, **kwargs: Any) -> None:
        self.runs.append(("model", None, run_id, parent_run_id))

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: Any,
                      parent_run_id: Any = None, **kwargs: Any) -> None:
        self.runs.append(("tool", serialized.get("name"), run_id, parent_run_id))


async def test_tokens_stream_from_the_agent_and_callbacks_see_the_tree(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    handler = Runs()
    async with open_saver(store_kind, tmp_path) as saver:
        agent = create_react_agent(WordStreamer(), [weather], checkpointer=saver)
        config = {**cfg("s"), "callbacks": [handler]}
        chunks = [c async for c in agent.astream({"messages": [("user", "x")]}, config,
                                                 stream_mode="messages")]
        state = await agent.aget_state(cfg("s"))
    shown = [(type(m).__name__, m.content, meta["langgraph_node"]) for m, meta in chunks]
    assert [s for s in shown if s[2] == "agent" and s[1]] == [
        ("AIMessageChunk", "it", "agent"), ("AIMessageChunk", " is", "agent"),
        ("AIMessageChunk", " foggy", "agent")]
    assert ("ToolMessage", "foggy", "tools") in shown
    assert all(meta["thread_id"] == "s" for _, meta in chunks)
    assert kinds(state.values["messages"])[-1] == ("AIMessage", "it is foggy")  # the whole answer

    by_id = {run_id: (kind, name, parent) for kind, name, run_id, parent in handler.runs}

    def ancestors(run_id: Any) -> list[Any]:
        out = []
        while run_id in by_id:
            kind, name, run_id = by_id[run_id]
            out.append(name or kind)
        return out

    tools = [r for r in handler.runs if r[0] == "tool"]
    models = [r for r in handler.runs if r[0] == "model"]
    assert [ancestors(r[2]) for r in tools] == [["weather", "tools", "LangGraph"]]
    assert len(models) == 2
    assert all(ancestors(r[2])[-2:] == ["agent", "LangGraph"] for r in models)


# -- the long-term store --------------------------------------------------------------


@tool
def save_preference(key: str, value: str, store: Annotated[Any, InjectedStore()],
                    config: RunnableConfig) -> str:
    """Saves a preference of the user."""
    store.put(("preferences", config["configurable"]["user_id"]), key, {"value": value})
    return f"Saved {key} = {value}"


@tool
def get_preference(key: str, store: Annotated[Any, InjectedStore()], config: RunnableConfig) -> str:
    """Reads a preference of the user."""
    item = store.get(("preferences", config["configurable"]["user_id"]), key)
    return item.value["value"] if item else "Not found"


async def test_tools_share_the_store_across_threads(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """InjectedStore: the graph's store reaches the tools (sync ones, in worker threads),
    and what one thread saved another reads."""
    def ask(name: str, args: dict[str, Any]) -> list[AIMessage]:
        return [AIMessage("", tool_calls=[call(name, args, "p1")]), AIMessage("ok")]

    async with open_store(store_kind, tmp_path) as store, \
            open_saver(store_kind, tmp_path) as saver:
        def agent(responses: list[AIMessage]) -> Any:
            return create_react_agent(FakeToolModel(responses=responses),
                                      [save_preference, get_preference],
                                      checkpointer=saver, store=store)

        bob = {"configurable": {"thread_id": "t1", "user_id": "bob"}}
        out = await agent(ask("save_preference", {"key": "color", "value": "blue"})).ainvoke(
            {"messages": [("user", "my favourite colour is blue")]}, bob)
        assert kinds(out["messages"])[2] == ("ToolMessage", "Saved color = blue")
        for thread, user, expected in (("t2", "bob", "blue"), ("t3", "ann", "Not found")):
            config = {"configurable": {"thread_id": thread, "user_id": user}}
            out = await agent(ask("get_preference", {"key": "color"})).ainvoke(
                {"messages": [("user", "what is my colour?")]}, config)
            assert kinds(out["messages"])[2] == ("ToolMessage", expected)
        assert (await store.aget(("preferences", "bob"), "color")).value == {"value": "blue"}
