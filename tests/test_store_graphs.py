"""The Store inside graphs: nodes and entrypoints read and write memories shared by threads.

On every store (InMemoryStore, SqliteStore, PostgresStore, each beside the same kind of
saver) and event loop; and LangGraph's documented cross-thread memory program, run with
only its imports changed, prints what it prints on LangGraph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from lograph.adapters._migrate import migrate
from lograph.runtime import START, MessagesState, Runtime, StateGraph, entrypoint, get_store
from lograph.runtime.store import BaseStore
from tests._stores import open_saver
from tests.test_longterm_store import open_store

PROGRAMS = Path(__file__).parent / "programs"


def remember(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
    """A sync node (on a worker thread): the sync API of the store it is given."""
    namespace = ("memories", config["configurable"]["user_id"])
    said = str(state["messages"][-1].content)
    if said.startswith("remember "):
        store.put(namespace, f"m{len(store.search(namespace, limit=100))}", {"data": said[9:]})
    return {}


async def recall(state: MessagesState, config: RunnableConfig, runtime: Runtime) -> dict[str, Any]:
    """An async node: the async API, through the runtime and get_store()."""
    assert runtime.store is get_store()
    user = config["configurable"]["user_id"]
    found = await runtime.store.asearch(("memories", user), limit=100)
    known = sorted(item.value["data"] for item in found)
    return {"messages": [AIMessage(content=", ".join(known) or "nothing")]}


def _graph() -> StateGraph:
    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    return builder


@pytest.mark.anyio
async def test_threads_share_memories_through_the_store(anyio_backend: str, store_kind: str,
                                                        tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store, open_saver(store_kind, tmp_path) as saver:
        graph = _graph().compile(checkpointer=saver, store=store)

        async def say(thread: str, user: str, text: str) -> str:
            config = {"configurable": {"thread_id": thread, "user_id": user}}
            out = await graph.ainvoke({"messages": [{"role": "user", "content": text}]}, config)
            return str(out["messages"][-1].content)

        assert await say("t1", "bob", "remember my name is Bob") == "my name is Bob"
        assert await say("t2", "bob", "what is my name?") == "my name is Bob"  # another thread
        assert await say("t3", "ann", "what is my name?") == "nothing"  # another user
        assert await say("t2", "bob", "remember I like tea") == "I like tea, my name is Bob"
        spaces = await store.alist_namespaces()
        assert spaces == [("memories", "bob")]

        @entrypoint(checkpointer=saver, store=store)
        async def workflow(user: str, *, store: BaseStore) -> list[str]:
            return [item.value["data"] for item in await store.asearch(("memories", user))]

        assert await workflow.ainvoke("bob", {"configurable": {"thread_id": "w1"}}) == [
            "I like tea", "my name is Bob"]


def test_langgraphs_cross_thread_memory_program_prints_what_it_prints_on_langgraph(tmp_path: Path) -> None:
    source = (PROGRAMS / "cross_thread_memory.py").read_text(encoding="utf-8")
    done = migrate(source)
    assert done.problems == [] and done.rewritten == 4
    changed = [(a, b) for a, b in zip(source.splitlines(), done.source.splitlines(), strict=True) if a != b]
    assert all(a.startswith("from langgraph.") for a, _ in changed)  # only its imports
    program = tmp_path / "program.py"
    program.write_text(done.source, encoding="utf-8")
    ran = subprocess.run([sys.executable, str(program)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (PROGRAMS / "cross_thread_memory.out").read_text(encoding="utf-8")
