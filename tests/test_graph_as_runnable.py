"""A compiled graph is a langchain-core ``Runnable``: it composes with ``|`` on either side,
streams its own chunks through a sequence, takes ``with_retry``/``bind``, and a sequence
holding it runs as a node of another graph (the graph nests there as a subgraph).

langchain-core's async sequences run on asyncio only, so the async cases that go through
them carry the asyncio mark; the sync ones and the graph-in-a-node case run everywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

import anyio
import pytest
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnablePassthrough

from lograph.adapters.memory import MemorySaver
from lograph.runtime import END, START, StateGraph
from tests._stores import open_saver


class Count(TypedDict):
    n: int
    seen: list[str]


def counter(checkpointer: Any = None) -> Any:
    b = StateGraph(Count)
    b.add_node("double", lambda s: {"n": s["n"] * 2, "seen": [*s["seen"], "double"]})
    b.add_node("plus_one", lambda s: {"n": s["n"] + 1, "seen": [*s["seen"], "plus_one"]})
    b.add_edge(START, "double")
    b.add_edge("double", "plus_one")
    b.add_edge("plus_one", END)
    return b.compile(checkpointer=checkpointer)


def start(n: int) -> dict[str, Any]:
    return {"n": n, "seen": []}


def test_a_graph_composes_on_either_side_of_a_pipe() -> None:
    graph = counter()
    assert isinstance(graph, Runnable)
    chain = RunnableLambda(start) | graph | RunnableLambda(lambda s: s["n"])
    assert chain.invoke(5) == 11
    assert chain.batch([1, 2]) == [3, 5]
    assert graph.pipe(RunnableLambda(lambda s: s["seen"])).invoke(start(0)) == ["double", "plus_one"]
    # a mapping on the left is a RunnableParallel, as langchain-core makes it
    both = {"n": RunnableLambda(lambda v: v), "seen": RunnableLambda(lambda v: [])} | graph
    assert both.invoke(3)["n"] == 7


def test_a_sequence_streams_the_graphs_chunks() -> None:
    chain = counter() | RunnablePassthrough()
    assert list(chain.stream(start(1))) == [
        {"double": {"n": 2, "seen": ["double"]}},
        {"plus_one": {"n": 3, "seen": ["double", "plus_one"]}},
    ]
    bound = counter().bind(stream_mode="values")
    assert [c["n"] for c in bound.stream(start(1))] == [1, 2, 3]


def test_with_retry_calls_the_graph_again_after_a_failure() -> None:
    calls: list[int] = []

    def flaky(state: Count) -> dict[str, Any]:
        calls.append(state["n"])
        if len(calls) == 1:
            raise ConnectionError("first call fails")
        return {"n": state["n"] + 100}

    b = StateGraph(Count)
    b.add_node("flaky", flaky)
    b.add_edge(START, "flaky")
    retried = b.compile().with_retry(retry_if_exception_type=(ConnectionError,), wait_exponential_jitter=False)
    assert retried.invoke(start(1))["n"] == 101
    assert calls == [1, 1]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # langchain-core's async sequences need it
async def test_an_async_sequence_runs_and_streams_the_graph(anyio_backend: str) -> None:
    chain = counter() | RunnablePassthrough()
    assert await chain.ainvoke(start(2)) == {"n": 5, "seen": ["double", "plus_one"]}
    assert [c async for c in chain.astream(start(2))] == [
        {"double": {"n": 4, "seen": ["double"]}},
        {"plus_one": {"n": 5, "seen": ["double", "plus_one"]}},
    ]
    ends = [e for e in [e async for e in chain.astream_events(start(2), version="v2")]
            if e["event"] == "on_chain_end" and not e["parent_ids"]]
    assert [e["data"]["output"] for e in ends] == [{"plus_one": {"n": 5, "seen": ["double", "plus_one"]}}]


@pytest.mark.anyio
async def test_a_sequence_holding_a_graph_is_a_node(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    class Outer(TypedDict):
        n: int
        seen: list[str]
        note: str

    inner = counter()
    step = (RunnableLambda(lambda s: {"n": s["n"], "seen": s["seen"]}) | inner
            | RunnableLambda(lambda s: {**s, "note": f"inner gave {s['n']}"}))
    b = StateGraph(Outer)
    b.add_node("inner", step)
    b.add_edge(START, "inner")
    config = {"configurable": {"thread_id": "seq-node"}}
    async with open_saver(store_kind, tmp_path) as saver:
        outer = b.compile(checkpointer=saver)
        chunks = [c async for c in outer.astream({"n": 4, "seen": [], "note": ""}, config, subgraphs=True)]
        out = {"n": 9, "seen": ["double", "plus_one"], "note": "inner gave 9"}
        assert (await outer.aget_state(config)).values == out
        # the graph ran as a subgraph of the node: its steps stream under the node's namespace
        assert [(ns[0].split(":")[0] if ns else "", list(c)) for ns, c in chunks] == [
            ("inner", ["double"]), ("inner", ["plus_one"]), ("", ["inner"])]


@pytest.mark.anyio
async def test_a_graph_given_its_nodes_config_nests(anyio_backend: str) -> None:
    """A node that hands its own config (which names the node's namespace) to a graph
    runs that graph as its subgraph, as when it passes no config."""
    inner = counter()

    async def node(state: Count, config: RunnableConfig) -> dict[str, Any]:
        out: dict[str, Any] = await inner.ainvoke(state, config)
        return out

    def sync_node(state: Count, config: RunnableConfig) -> dict[str, Any]:
        out: dict[str, Any] = inner.invoke(state, config)
        return out

    for fn in (node, sync_node):
        b = StateGraph(Count)
        b.add_node("call", fn)
        b.add_edge(START, "call")
        graph = b.compile(checkpointer=MemorySaver())
        chunks = [c async for c in graph.astream(start(1), {"configurable": {"thread_id": "t"}}, subgraphs=True)]
        assert [(ns[0].split(":")[0] if ns else "", list(c)) for ns, c in chunks] == [
            ("call", ["double"]), ("call", ["plus_one"]), ("", ["call"])]


@pytest.mark.anyio
async def test_a_checkpointed_graph_in_a_sequence_keeps_its_thread(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    config = {"configurable": {"thread_id": "piped"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = counter(saver)
        chain = graph | RunnableLambda(lambda s: s["n"])
        # (the sync sequence, from a worker thread: langchain-core's async one needs asyncio)
        assert await anyio.to_thread.run_sync(chain.invoke, start(3), config) == 7
        state = await graph.aget_state(config)
        assert state.values == {"n": 7, "seen": ["double", "plus_one"]}


def test_importing_and_compiling_does_not_load_langchain_runnables() -> None:
    """The registration waits for langchain-core's runnables: a program that composes
    none does not pay for importing them."""
    probe = (
        "import sys\n"
        "from typing import TypedDict\n"
        "from lograph.runtime import START, StateGraph\n"
        "class S(TypedDict):\n    n: int\n"
        "b = StateGraph(S)\nb.add_node('a', lambda s: {'n': 1})\nb.add_edge(START, 'a')\n"
        "g = b.compile()\nassert g.invoke({'n': 0}) == {'n': 1}\n"
        "print('langchain_core.runnables.base' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
