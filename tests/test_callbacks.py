"""LangChain callbacks given in config see a run as LangGraph shows it: a tree.

graph run -> node run (or a @task's, under its caller) -> chat model / tool run, with
each child's parent_run_id naming its parent; sync nodes (worker threads), async nodes,
subgraphs, on asyncio and trio. A graph run without callbacks builds no callback manager.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManager
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from lograph.adapters.memory import MemorySaver
from lograph.runtime import START, MessagesState, StateGraph, task
from tests._stores import open_saver


class Recorder(BaseCallbackHandler):
    """Every run it hears of: name, parent, metadata; thread-safe (sync nodes run in threads)."""

    def __init__(self) -> None:
        self.runs: dict[UUID, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def _start(self, run_id: UUID, label: str, parent: UUID | None, kind: str, **kw: Any) -> None:
        with self.lock:
            self.runs[run_id] = {"name": label, "parent": parent, "kind": kind,
                                 "metadata": kw.get("metadata") or {}, "tags": kw.get("tags") or []}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, **kw: Any) -> None:
        self._start(run_id, kw.get("name") or "?", parent_run_id, "chain", **kw)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, **kw: Any) -> None:
        self._start(run_id, "model", parent_run_id, "llm", **kw)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, **kw: Any) -> None:
        self._start(run_id, kw.get("name") or serialized.get("name"), parent_run_id, "tool", **kw)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        with self.lock:
            self.errors.append(self.runs[run_id]["name"])

    def edges(self) -> list[tuple[str, str | None]]:
        """(child, parent) by name, sorted."""
        names = {rid: r["name"] for rid, r in self.runs.items()}
        return sorted((r["name"], names.get(r["parent"])) for r in self.runs.values())  # type: ignore[arg-type]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.runs.values() if r["name"] == name]


def model(n: int = 10) -> FakeMessagesListChatModel:
    return FakeMessagesListChatModel(responses=[AIMessage(content=f"reply {i}") for i in range(n)])


@tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"sunny in {city}"


def cfg(thread: str, handler: Recorder, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, "callbacks": [handler], **extra}


@pytest.mark.anyio
async def test_graph_node_model_and_tool_form_a_tree(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    llm = model()

    def sync_agent(state: MessagesState) -> dict[str, Any]:  # runs in a worker thread
        return {"messages": [llm.invoke(state["messages"]), ("ai", lookup.invoke({"city": "Oslo"}))]}

    async def async_agent(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        if anyio_backend == "asyncio":
            reply = await llm.ainvoke(state["messages"], config)
        else:  # langchain-core's async API needs asyncio: its sync one works on trio
            reply = llm.invoke(state["messages"], config)
        return {"messages": [reply]}

    b = StateGraph(MessagesState)
    b.add_node("sync_agent", sync_agent)
    b.add_node("async_agent", async_agent)
    b.add_edge(START, "sync_agent")
    b.add_edge("sync_agent", "async_agent")
    rec = Recorder()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver, name="agent_graph")
        await graph.ainvoke({"messages": [("user", "hi")]}, cfg("t", rec, tags=["team-a"]))
    assert rec.edges() == [
        ("agent_graph", None),
        ("async_agent", "agent_graph"),
        ("lookup", "sync_agent"),
        ("model", "async_agent"),
        ("model", "sync_agent"),
        ("sync_agent", "agent_graph"),
    ]
    [sync_model, async_model] = sorted(rec.of("model"), key=lambda r: r["metadata"]["langgraph_step"])
    assert sync_model["metadata"]["langgraph_node"] == "sync_agent"
    assert sync_model["metadata"]["thread_id"] == "t"
    assert async_model["metadata"]["langgraph_step"] == 2
    assert "team-a" in async_model["tags"]
    assert rec.errors == []


@pytest.mark.anyio
async def test_a_task_is_a_child_of_its_caller_and_a_subgraph_of_its_node(anyio_backend: str) -> None:
    llm = model()

    @task
    def summarize(text: str) -> str:
        return str(llm.invoke(text).content)

    def inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke("inner")]}

    sub = StateGraph(MessagesState)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    subgraph = sub.compile(name="sub")

    async def outer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", await summarize("long text"))]}

    b = StateGraph(MessagesState)
    b.add_node("outer", outer)
    b.add_node("nested", subgraph)
    b.add_edge(START, "outer")
    b.add_edge("outer", "nested")
    rec = Recorder()
    await b.compile(checkpointer=MemorySaver()).ainvoke({"messages": [("user", "x")]}, cfg("t", rec))
    assert rec.edges() == [
        ("LangGraph", None),
        ("inner", "sub"),
        ("model", "inner"),
        ("model", "summarize"),
        ("nested", "LangGraph"),
        ("outer", "LangGraph"),
        ("sub", "nested"),
        ("summarize", "outer"),
    ]
    [inner_run] = rec.of("inner")
    assert inner_run["metadata"]["langgraph_checkpoint_ns"].startswith("nested:")
    assert "|inner:" in inner_run["metadata"]["langgraph_checkpoint_ns"]


@pytest.mark.anyio
async def test_a_failing_node_ends_its_runs_with_an_error(anyio_backend: str) -> None:
    def boom(state: MessagesState) -> dict[str, Any]:
        raise ValueError("no")

    b = StateGraph(MessagesState)
    b.add_node("boom", boom)
    b.add_edge(START, "boom")
    rec = Recorder()
    with pytest.raises(ValueError, match="no"):
        await b.compile(checkpointer=MemorySaver()).ainvoke({"messages": []}, cfg("t", rec))
    assert sorted(rec.errors) == ["LangGraph", "boom"]


@pytest.mark.anyio
async def test_run_name_and_run_id_name_the_graph_run(anyio_backend: str) -> None:
    from uuid import uuid4

    b = StateGraph(MessagesState)
    b.add_node("n", lambda s: {"messages": [("ai", "ok")]})
    b.add_edge(START, "n")
    rec = Recorder()
    rid = uuid4()
    await b.compile().ainvoke({"messages": []}, cfg("t", rec, run_name="my run", run_id=rid))
    assert rec.runs[rid]["name"] == "my run"
    assert rec.edges() == [("my run", None), ("n", "my run")]


@pytest.mark.anyio
async def test_a_graph_without_callbacks_builds_no_callback_manager(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a callback manager was built")

    monkeypatch.setattr(CallbackManager, "configure", refuse)
    b = StateGraph(MessagesState)
    b.add_node("n", lambda s, config: {"messages": [("ai", config["metadata"]["langgraph_node"])]})
    b.add_edge(START, "n")
    out = await b.compile(checkpointer=MemorySaver()).ainvoke(
        {"messages": []}, {"configurable": {"thread_id": "t"}})
    assert out["messages"][0].content == "n"


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_langchains_async_api_on_trio_is_a_clear_error(anyio_backend: str) -> None:
    llm = model()

    async def node(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await llm.ainvoke("hi")]}

    b = StateGraph(MessagesState)
    b.add_node("n", node)
    b.add_edge(START, "n")
    graph = b.compile(checkpointer=MemorySaver())
    if anyio_backend == "asyncio":
        out = await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": "t"}})
        assert out["messages"][0].content == "reply 0"
        return
    with pytest.raises(RuntimeError, match="needs asyncio, and this graph runs on trio"):
        await graph.ainvoke({"messages": []}, {"configurable": {"thread_id": "t"}})
    gc.collect()  # langchain-core leaves a coroutine it never awaited: collected here, not later


@pytest.mark.anyio
async def test_a_tasks_metadata_names_its_callers_path(anyio_backend: str) -> None:
    @task
    def step_one(x: int) -> int:
        return x + 1

    from lograph.runtime import entrypoint

    @entrypoint(checkpointer=MemorySaver())
    def flow(x: int) -> int:
        return step_one(x).result()

    rec = Recorder()
    assert await flow.ainvoke(1, cfg("t", rec)) == 2
    [graph_run] = rec.of("LangGraph")
    assert graph_run["metadata"]["ls_integration"] == "langgraph"
    [task_run] = rec.of("step_one")
    path = task_run["metadata"]["langgraph_path"]
    assert path[:2] == ("__pregel_push", ("__pregel_pull", "flow")) and path[-1] is True
    assert task_run["metadata"]["langgraph_triggers"] == ("__pregel_push",)
