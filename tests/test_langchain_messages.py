"""langchain-core's messages are lograph's messages (issue 17, item 1).

``add_messages`` and ``MessagesState`` behave as LangGraph's; the messages, langchain-core
documents and ``str``/``int``/``dict``/``list`` subclasses (``AIMessage.text``) are stored
exactly on every store; logs holding lograph's old message dataclasses decode as
langchain-core messages; a langchain-core chat model takes the state's messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypedDict

import cbor2
import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import (
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.base import TextAccessor
from pydantic import BaseModel

from lograph import runtime
from lograph.eventlog import DecodeError, decode, encode
from lograph.eventlog import _codec as codec
from lograph.runtime import (
    END,
    REMOVE_ALL_MESSAGES,
    START,
    Checkpointer,
    MessagesState,
    StateGraph,
    add_messages,
    verify_thread,
)
from lograph.runtime._ids import derived
from tests._stores import open_saver


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def pairs(messages: list[Any]) -> list[tuple[str, Any]]:
    return [(type(m).__name__, m.content) for m in messages]


# --- the public names are langchain-core's classes ------------------------------------


def test_runtime_exports_langchain_cores_message_classes() -> None:
    import langchain_core.messages as lc

    for name in ("BaseMessage", "HumanMessage", "AIMessage", "SystemMessage", "ToolMessage",
                 "RemoveMessage"):
        assert getattr(runtime, name) is getattr(lc, name), name
        assert name in runtime.__all__
    assert REMOVE_ALL_MESSAGES == "__remove_all__"


# --- add_messages: LangGraph's semantics ----------------------------------------------


@pytest.mark.parametrize(
    ("right", "expected"),
    [
        ("hello", [("HumanMessage", "hello")]),
        (("user", "hi"), [("HumanMessage", "hi")]),
        (("human", "hi"), [("HumanMessage", "hi")]),
        (("assistant", "yes"), [("AIMessage", "yes")]),
        (("ai", "yes"), [("AIMessage", "yes")]),
        (("system", "be brief"), [("SystemMessage", "be brief")]),
        ({"role": "user", "content": "d"}, [("HumanMessage", "d")]),
        ({"role": "assistant", "content": "e"}, [("AIMessage", "e")]),
        ([("user", "a"), "b", {"role": "system", "content": "c"}],
         [("HumanMessage", "a"), ("HumanMessage", "b"), ("SystemMessage", "c")]),
        (AIMessageChunk(content="chunk", id="c1"), [("AIMessage", "chunk")]),
        ([], []),
    ],
    ids=["str", "user", "human", "assistant", "ai", "system", "dict-user", "dict-assistant",
         "mixed", "chunk", "empty"],
)
def test_add_messages_coerces_like_langgraph(right: Any, expected: list[Any]) -> None:
    merged = add_messages([], right)
    assert pairs(merged) == expected
    assert all(isinstance(m, BaseMessage) and m.id for m in merged)


def test_a_tool_message_dict_and_a_message_like_object() -> None:
    merged = add_messages([], [{"role": "tool", "content": "42", "tool_call_id": "c1"}])
    assert type(merged[0]) is ToolMessage and merged[0].tool_call_id == "c1"
    with pytest.raises((ValueError, NotImplementedError)):
        add_messages([], [object()])


def test_id_less_messages_get_ids_on_copies_and_inputs_are_unchanged() -> None:
    left = [HumanMessage(content="old")]
    right = [AIMessage(content="new")]
    merged = add_messages(left, right)
    assert [m.id for m in left + right] == [None, None]
    assert all(m.id for m in merged) and merged[0] is not left[0]
    assert merged[0].content == "old" and merged[1].content == "new"
    kept = HumanMessage(content="has id", id="x")
    assert add_messages([], [kept])[0] is kept


def test_ids_at_a_step_boundary_are_derived_left_first() -> None:
    def run() -> list[str | None]:
        return [m.id for m in add_messages([HumanMessage(content="a")], ["b", "c"])]

    first = derived(b"h" * 32, "", "loop", run)
    assert first == derived(b"h" * 32, "", "loop", run)
    assert len(set(first)) == 3
    assert first != derived(b"g" * 32, "", "loop", run)
    assert run() != run()  # outside a boundary: random


def test_a_message_with_a_known_id_replaces_it_in_place() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    merged = add_messages(left, [AIMessage(content="c", id="1"), HumanMessage(content="d", id="3")])
    assert [(m.id, m.content, type(m).__name__) for m in merged] == [
        ("1", "c", "AIMessage"), ("2", "b", "AIMessage"), ("3", "d", "HumanMessage")]
    assert [m.content for m in left] == ["a", "b"]


def test_single_messages_are_lists_of_one() -> None:
    merged = add_messages(HumanMessage(content="a", id="1"), AIMessage(content="b", id="2"))
    assert [m.id for m in merged] == ["1", "2"]


def test_remove_message_deletes_by_id() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2"),
            HumanMessage(content="c", id="3")]
    assert [m.id for m in add_messages(left, [RemoveMessage(id="2")])] == ["1", "3"]
    assert [m.id for m in add_messages(left, [RemoveMessage(id="1"), RemoveMessage(id="3")])] == ["2"]
    # removed, then written again in the same update: kept, with the new content
    back = add_messages(left, [RemoveMessage(id="2"), AIMessage(content="b2", id="2")])
    assert [(m.id, m.content) for m in back] == [("1", "a"), ("2", "b2"), ("3", "c")]
    # a message added by the same update can be removed by it
    assert [m.id for m in add_messages(left, [HumanMessage(content="n", id="4"),
                                               RemoveMessage(id="4")])] == ["1", "2", "3"]
    with pytest.raises(ValueError, match="delete a message with an ID that doesn't exist \\('nope'\\)"):
        add_messages(left, [RemoveMessage(id="nope")])
    assert [m.id for m in add_messages(left, [RemoveMessage(id="2"), RemoveMessage(id="2")])] == ["1", "3"]
    twice = add_messages([], [AIMessage(content="x", id="1"), AIMessage(content="y", id="1")])
    assert [(m.id, m.content) for m in twice] == [("1", "y")]
    assert [m.id for m in left] == ["1", "2", "3"]


def test_remove_all_messages_keeps_what_follows_the_last_marker() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    assert add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES)]) == []
    merged = add_messages(left, [HumanMessage(content="x", id="9"),
                                 RemoveMessage(id=REMOVE_ALL_MESSAGES), ("user", "fresh")])
    assert pairs(merged) == [("HumanMessage", "fresh")]
    merged = add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), "one",
                                 RemoveMessage(id=REMOVE_ALL_MESSAGES), "two"])
    assert pairs(merged) == [("HumanMessage", "two")]


def test_add_messages_arguments_and_the_openai_format() -> None:
    with pytest.raises(ValueError, match="'left'"):
        add_messages([HumanMessage(content="a")], None)
    with pytest.raises(ValueError, match="unknown format"):
        add_messages([], [], format="anthropic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        add_messages(format="anthropic")  # type: ignore[arg-type]
    reducer = add_messages(format="langchain-openai")
    image = {"type": "image", "source_type": "base64", "mime_type": "image/jpeg", "data": "1234"}
    merged = reducer([], [{"role": "user", "content": [{"type": "text", "text": "see"}, image]}])
    assert type(merged[0]) is HumanMessage
    assert merged[0].content[0] == {"type": "text", "text": "see"}
    assert merged[0].content[1]["type"] == "image_url"


class OpenAIState(TypedDict):
    messages: Annotated[list[Any], add_messages(format="langchain-openai")]


async def test_a_reducer_with_the_openai_format_in_a_graph(anyio_backend: str) -> None:
    builder = StateGraph(OpenAIState)
    builder.add_node("say", lambda s: {"messages": [("assistant", [{"type": "text", "text": "hi"}])]})
    builder.add_edge(START, "say")
    builder.add_edge("say", END)
    out = await builder.compile().ainvoke({"messages": [("user", "hello")]})
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]


class PydanticMessages(BaseModel):
    messages: Annotated[list[AnyMessage], add_messages]


def test_openai_format_and_a_pydantic_messages_state() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "1"}}

    def blocks(state: Any) -> dict[str, Any]:
        return {"messages": [
            AIMessage(content=[{"type": "tool_use", "name": "f", "input": {"a": 1}, "id": "1"}]),
            HumanMessage(content=[{"type": "tool_result", "tool_use_id": "1", "content": [image]}]),
        ]}

    builder = StateGraph(OpenAIState)
    builder.add_node("blocks", blocks)
    builder.add_edge(START, "blocks")
    builder.add_edge("blocks", END)
    out = builder.compile().invoke({"messages": [("user", "meow")]})["messages"]
    assert [type(m) for m in out] == [HumanMessage, AIMessage, ToolMessage]
    assert out[1].tool_calls[0]["args"] == {"a": 1} and out[2].tool_call_id == "1"
    assert out[2].content[0]["type"] == "image_url"

    builder = StateGraph(PydanticMessages)
    builder.add_node("say", lambda s: {"messages": [HumanMessage("foo")]})
    builder.add_edge(START, "say")
    builder.add_edge("say", END)
    out = builder.compile().invoke({"messages": [("user", "meow")]})["messages"]
    assert pairs(out) == [("HumanMessage", "meow"), ("HumanMessage", "foo")] and all(m.id for m in out)


# --- a graph with langchain-core's chat models, on every store -------------------------


def chat_graph(model: Any, sync: bool) -> StateGraph:
    def call_sync(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def call_async(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", call_sync if sync else call_async)
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder


async def takes_the_states_messages(store_kind: str, tmp_path: Path, sync: bool) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage(content="first"),
                                                 AIMessage(content="second")])
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chat_graph(model, sync).compile(checkpointer=saver)
        await graph.ainvoke({"messages": [("user", "hi")]}, cfg("c"))
        out = await graph.ainvoke({"messages": "again"}, cfg("c"))
        assert pairs(out["messages"]) == [("HumanMessage", "hi"), ("AIMessage", "first"),
                                          ("HumanMessage", "again"), ("AIMessage", "second")]
        fresh = Checkpointer(saver.log)  # read back from the store, no cached fold
        again = await chat_graph(model, sync).compile(checkpointer=fresh).aget_state(cfg("c"))
        assert again.values["messages"] == out["messages"]
        assert [type(m) for m in again.values["messages"]] == [type(m) for m in out["messages"]]
        assert all(m.id for m in again.values["messages"])
        verdict = await verify_thread(saver, "c", graph=chat_graph(model, sync).compile())
        assert verdict.ok and verdict.replayed, verdict


async def test_a_fake_chat_model_takes_the_states_messages(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """The issue's bug: a chat model refused lograph's own messages (a sync node)."""
    await takes_the_states_messages(store_kind, tmp_path, sync=True)


# langchain-core's async chat model path awaits asyncio.gather: trio is issue 17, item 2
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_async_node_awaits_a_fake_chat_model(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    await takes_the_states_messages(store_kind, tmp_path, sync=False)


async def test_a_generic_fake_chat_model_and_pretty_print(
    anyio_backend: str, store_kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello there")]))
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chat_graph(model, sync=True).compile(checkpointer=saver)
        out = await graph.ainvoke({"messages": [HumanMessage(content="hi")]}, cfg("g"))
        out["messages"][-1].pretty_print()
    assert "hello there" in capsys.readouterr().out
    assert out["messages"][-1].text == "hello there"


async def test_deleting_messages_in_a_graph(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    def trim(state: MessagesState) -> dict[str, Any]:
        return {"messages": [RemoveMessage(id=m.id) for m in state["messages"][:-2]]}

    builder = StateGraph(MessagesState)
    builder.add_node("trim", trim)
    builder.add_edge(START, "trim")
    builder.add_edge("trim", END)
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke({"messages": ["a", ("assistant", "b"), "c"]}, cfg("d"))
        state = await graph.aget_state(cfg("d"))
        assert pairs(state.values["messages"]) == [("AIMessage", "b"), ("HumanMessage", "c")]
        await graph.aupdate_state(cfg("d"), {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES),
                                                          ("system", "start over")]})
        state = await builder.compile(checkpointer=Checkpointer(saver.log)).aget_state(cfg("d"))
        assert pairs(state.values["messages"]) == [("SystemMessage", "start over")]


# --- the codec: langchain-core objects and builtin subclasses --------------------------


class Labels(dict[str, Any]):
    """A dict subclass whose __init__ must not run when it is decoded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = "init"


class Score(int):
    pass


class Names(list[str]):
    pass


def test_str_int_dict_and_list_subclasses_round_trip_exactly() -> None:
    text = AIMessage(content="hello").text
    assert type(text) is TextAccessor
    labels = Labels({"a": (1,)})
    values = {"text": text, "labels": labels, "score": Score(3), "names": Names(["x"])}
    back = decode(encode(values))
    assert back == values
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in values.items()}
    assert back["labels"].source == "init" and type(back["labels"]["a"]) is tuple
    assert b"langchain_core.messages.base:TextAccessor" in encode(text)


def test_decoding_a_subclass_runs_none_of_its_code() -> None:
    data = cbor2.dumps(cbor2.CBORTag(codec.TAG_SUBCLASS, [f"{__name__}:Labels", {"k": 1}]))
    back = decode(data)
    assert type(back) is Labels and back == {"k": 1} and not hasattr(back, "source")
    for bad in ([f"{__name__}:Labels", [1]], [f"{__name__}:Score", "1"],
                [f"{__name__}:Labels", {}, [1]], ["collections:OrderedDict", {}]):
        with pytest.raises(DecodeError):
            decode(cbor2.dumps(cbor2.CBORTag(codec.TAG_SUBCLASS, bad)))


def test_documents_and_messages_round_trip() -> None:
    doc = Document(page_content="text", metadata={"source": ("a", 1)}, id="d1")
    history = [SystemMessage(content="s"), ToolMessage(content="r", tool_call_id="c1", id="t")]
    back = decode(encode({"docs": [doc], "messages": history}))
    assert back == {"docs": [doc], "messages": history}
    assert type(back["docs"][0]) is Document and type(back["docs"][0].metadata["source"]) is tuple
    assert b"langchain_core.documents:Document" in encode(doc)


@pytest.mark.parametrize(
    ("tag", "payload"),
    [
        (codec.TAG_MODEL, ["langchain_core.messages:convert_to_messages", {}, None, [], None]),
        (codec.TAG_MODEL, ["langchain_core.documents:NotThere", {}, None, [], None]),
        (codec.TAG_MODEL, ["langchain_core.runnables:RunnableLambda", {}, None, [], None]),
        (codec.TAG_SUBCLASS, ["langchain_core.messages.nothing_here:X", "s"]),
    ],
    ids=["function", "missing", "module not allowed", "submodule not imported"],
)
def test_only_allowed_langchain_classes_decode(tag: int, payload: list[Any]) -> None:
    with pytest.raises(DecodeError):
        decode(cbor2.dumps(cbor2.CBORTag(tag, payload)))


async def test_text_and_documents_in_state_on_every_store(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    class State(TypedDict):
        messages: Annotated[list[Any], add_messages]
        text: str
        docs: list[Document]
        labels: dict[str, Any]

    def answer(state: State) -> dict[str, Any]:
        reply = AIMessage(content=[{"type": "text", "text": "four"}])
        return {"messages": [reply], "text": reply.text, "labels": Labels(k=1),
                "docs": [Document(page_content="p", metadata={"n": 1})]}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    async with open_saver(store_kind, tmp_path) as saver:
        await builder.compile(checkpointer=saver).ainvoke({"messages": "2+2?"}, cfg("t"))
        values = (await builder.compile(checkpointer=Checkpointer(saver.log)).aget_state(cfg("t"))).values
    assert values["text"] == "four" and type(values["text"]) is TextAccessor
    assert type(values["labels"]) is Labels and values["labels"] == {"k": 1}
    assert values["docs"] == [Document(page_content="p", metadata={"n": 1})]
    assert pairs(values["messages"]) == [("HumanMessage", "2+2?"),
                                         ("AIMessage", [{"type": "text", "text": "four"}])]


# --- logs written before: lograph's own message dataclasses ----------------------------


def legacy(name: str, fields: dict[str, Any]) -> bytes:
    """A message as lograph stored its own dataclass before langchain-core's messages."""
    return cbor2.dumps(cbor2.CBORTag(codec.TAG_DATACLASS, [f"lograph.runtime._messages:{name}", fields]))


BASE = {"name": None, "additional_kwargs": {}}


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        ("HumanMessage", {"content": "hi", "id": "h", **BASE}, HumanMessage(content="hi", id="h")),
        ("SystemMessage", {"content": "s", "id": "s", "name": "n", "additional_kwargs": {"k": 1}},
         SystemMessage(content="s", id="s", name="n", additional_kwargs={"k": 1})),
        ("AIMessage", {"content": "", "id": "a", **BASE,
                       "tool_calls": [{"name": "f", "args": {"x": 1}, "id": "c1"}]},
         AIMessage(content="", id="a", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}])),
        ("ToolMessage", {"content": "r", "id": "t", **BASE, "tool_call_id": "c1"},
         ToolMessage(content="r", id="t", tool_call_id="c1")),
        ("RemoveMessage", {"content": "", "id": "h", **BASE}, RemoveMessage(id="h")),
    ],
)
def test_old_message_dataclasses_decode_as_langchain_core_messages(
    name: str, fields: dict[str, Any], expected: BaseMessage
) -> None:
    back = decode(legacy(name, fields))
    assert type(back) is type(expected) and back == expected
    for field, value in fields.items():
        if field != "tool_calls":
            assert getattr(back, field) == value, field


def test_an_old_message_langchain_refuses_is_kept_as_stored() -> None:
    back = decode(legacy("HumanMessage", {"content": {"not": "text"}, "id": "h", **BASE}))
    assert type(back) is HumanMessage and back.content == {"not": "text"} and back.id == "h"


def test_an_old_messages_log_extends_with_new_messages() -> None:
    old = decode(cbor2.dumps([cbor2.CBORTag(codec.TAG_DATACLASS, [
        "lograph.runtime._messages:HumanMessage", {"content": "hi", "id": "1", **BASE}])]))
    merged = add_messages(old, [RemoveMessage(id="1"), ("assistant", "new")])
    assert pairs(merged) == [("AIMessage", "new")]
