"""langchain-core Runnables as nodes and as tasks: called with the node's config.

On asyncio a Runnable node runs through ``ainvoke``; on trio (langchain-core's async
machinery needs asyncio) through ``invoke`` in a worker thread. Either way its writes
are the node's, recorded like any node's, on every store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda

from lograph.adapters.memory import MemorySaver
from lograph.runtime import START, MessagesState, StateGraph, entrypoint, task
from tests._stores import open_saver


def reply_model() -> FakeMessagesListChatModel:
    return FakeMessagesListChatModel(responses=[AIMessage(content=f"answer {i}") for i in range(10)])


def as_update(message: BaseMessage) -> dict[str, Any]:
    return {"messages": [message]}


@pytest.mark.anyio
async def test_a_prompt_model_chain_is_a_node(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "be brief"), ("placeholder", "{messages}")])
    chain = prompt | reply_model() | RunnableLambda(as_update)
    b = StateGraph(MessagesState)
    b.add_node("agent", chain)
    b.add_edge(START, "agent")
    config = {"configurable": {"thread_id": "t"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"messages": [("user", "hi")]}, config)
        assert [m.content for m in out["messages"]] == ["hi", "answer 0"]
        out = await graph.ainvoke({"messages": [("user", "again")]}, config)
        assert [m.content for m in out["messages"]] == ["hi", "answer 0", "again", "answer 1"]
        history = [s.next async for s in graph.aget_state_history(config)]
        assert ("agent",) in history


@pytest.mark.anyio
async def test_a_runnable_lambda_node_receives_the_nodes_config(anyio_backend: str) -> None:
    def look(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [("ai", f"{config['metadata']['langgraph_node']} "
                                    f"{config['configurable']['thread_id']}")]}

    b = StateGraph(MessagesState)
    b.add_node(RunnableLambda(look, name="looker"))  # named by the runnable's name
    b.add_edge(START, "looker")
    out = await b.compile(checkpointer=MemorySaver()).ainvoke(
        {"messages": []}, {"configurable": {"thread_id": "th"}})
    assert out["messages"][-1].content == "looker th"


@pytest.mark.anyio
async def test_a_compiled_graph_and_a_runnable_task(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    inner = StateGraph(MessagesState)
    inner.add_node("inner", RunnableLambda(lambda s: {"messages": [("ai", "from inner")]}))
    inner.add_edge(START, "inner")

    shout = task(RunnableLambda(lambda text: text.upper(), name="shout"))

    async def outer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", await shout(state["messages"][-1].content))]}

    b = StateGraph(MessagesState)
    b.add_node("sub", inner.compile())
    b.add_node("outer", outer)
    b.add_edge(START, "sub")
    b.add_edge("sub", "outer")
    config = {"configurable": {"thread_id": "t"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        out = await graph.ainvoke({"messages": [("user", "x")]}, config)
    assert [m.content for m in out["messages"]] == ["x", "from inner", "FROM INNER"]
    assert shout.name == "shout"


@pytest.mark.anyio
async def test_a_runnable_task_is_memoized(anyio_backend: str) -> None:
    calls: list[int] = []

    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    doubled = task(RunnableLambda(double))

    @entrypoint(checkpointer=MemorySaver())
    async def flow(x: int) -> int:
        first = await doubled(x)
        from lograph.runtime import interrupt

        return first + interrupt("more?")

    from lograph.runtime import Command

    config = {"configurable": {"thread_id": "m"}}
    await flow.ainvoke(3, config)
    assert await flow.ainvoke(Command(resume=1), config) == 7
    assert calls == [3]  # the resumed run took the task's result from the log


@pytest.mark.anyio
async def test_an_async_only_runnable_on_trio_is_a_clear_error(anyio_backend: str) -> None:
    async def afunc(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", "async")]}

    b = StateGraph(MessagesState)
    b.add_node("n", RunnableLambda(afunc))
    b.add_edge(START, "n")
    graph = b.compile()
    if anyio_backend == "asyncio":
        assert (await graph.ainvoke({"messages": []}))["messages"][-1].content == "async"
    else:
        with pytest.raises(RuntimeError, match="needs asyncio, and this graph runs on trio"):
            await graph.ainvoke({"messages": []})


def test_a_node_must_be_callable() -> None:
    from lograph.runtime import GraphValidationError

    with pytest.raises(GraphValidationError, match="must be a function, a Runnable or a compiled graph"):
        StateGraph(MessagesState).add_node("x", 42)  # type: ignore[arg-type]
