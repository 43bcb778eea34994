"""Node and task caching: ``CachePolicy``, ``compile(cache=...)``, ``InMemoryCache`` and
``SqliteCache``, as LangGraph 1.2.24 has them.

A cache hit is a decision recorded in the log: the task's writes (or a task's result)
are recorded marked ``cached``, so a resumed, crashed or verified thread reads them
from the log and never asks the cache again. Expected values were produced by the same
programs on LangGraph 1.2.24.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.adapters.memory import InMemoryCache
from lograph.adapters.sqlite import SqliteCache
from lograph.eventlog import Kind
from lograph.runtime import (
    END,
    START,
    CachePolicy,
    Checkpointer,
    StateGraph,
    entrypoint,
    task,
    verify_thread,
)
from tests._stores import open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    query: str
    docs: Annotated[list, operator.add]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@contextmanager
def a_cache(kind: str, tmp_path: Path) -> Iterator[Any]:
    if kind == "memory":
        yield InMemoryCache()
        return
    cache = SqliteCache(path=str(tmp_path / "cache.db"))
    try:
        yield cache
    finally:
        cache.close()


CACHES = ["memory", "sqlite"]


def searching(runs: Counter[str], policy: CachePolicy[Any] | None = None) -> StateGraph:
    """rewrite (cached) -> search -> rewrite again until two searches are done."""

    def rewrite(state: State) -> dict[str, Any]:
        runs["rewrite"] += 1
        return {"query": "q: " + state["query"]}

    def search(state: State) -> dict[str, Any]:
        runs["search"] += 1
        return {"docs": [state["query"]]}

    builder = StateGraph(State)
    builder.add_node("rewrite", rewrite, cache_policy=policy or CachePolicy())
    builder.add_node("search", search)
    builder.add_edge(START, "rewrite")
    builder.add_edge("rewrite", "search")
    builder.add_conditional_edges("search", lambda s: "rewrite" if len(s["docs"]) < 2 else END)
    return builder


@pytest.mark.parametrize("cache_kind", CACHES)
async def test_a_cached_node_does_not_run_again(anyio_backend: str, cache_kind: str, tmp_path: Path) -> None:
    runs: Counter[str] = Counter()
    with a_cache(cache_kind, tmp_path) as cache:
        graph = searching(runs).compile(cache=cache)
        want = {"query": "q: q: x", "docs": ["q: x", "q: q: x"]}
        assert await graph.ainvoke({"query": "x"}) == want
        chunks = [c async for c in graph.astream({"query": "x"})]
        assert await graph.ainvoke({"query": "x"}) == want
        assert runs == {"rewrite": 2, "search": 6}  # the second and third runs hit the cache
        assert chunks[0] == {"rewrite": {"query": "q: x"}, "__metadata__": {"cached": True}}
        assert chunks[1] == {"search": {"docs": ["q: x"]}}
        await graph.aclear_cache()
        await graph.ainvoke({"query": "x"})
        assert runs["rewrite"] == 4


async def test_a_cache_hit_is_recorded_and_replays_from_the_log(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    runs: Counter[str] = Counter()
    cache = InMemoryCache()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = searching(runs).compile(checkpointer=saver, cache=cache, interrupt_before=["search"])
        await graph.ainvoke({"query": "x"}, cfg("warm"))  # fills the cache
        await graph.ainvoke({"query": "x"}, cfg("t"))  # a hit, then paused before search
        written = bodies(await saver.log.read("t"), Kind.NODE_WRITES)
        assert [(b["name"], b.get("cached", False)) for b in written] == [("rewrite", True)]
        assert runs["rewrite"] == 1
        # another process, the cache emptied: the recorded hit stands, nothing re-runs
        await cache.aclear()
        again = searching(runs).compile(checkpointer=Checkpointer(saver.log), cache=cache)
        out = await again.ainvoke(None, cfg("t"))
        assert out == {"query": "q: q: x", "docs": ["q: x", "q: q: x"]}
        assert runs["rewrite"] == 2  # only the second rewrite (its input was never cached)
        assert (await verify_thread(saver, "t", graph=again)).ok


async def test_ttl_and_key_func(anyio_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: Counter[str] = Counter()
    clock = [1000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    # the key: the query's length only, so "x" and "y" share an entry
    policy = CachePolicy(key_func=lambda s: str(len(s["query"])), ttl=10)
    graph = searching(runs, policy).compile(cache=InMemoryCache())
    await graph.ainvoke({"query": "x"})
    out = await graph.ainvoke({"query": "y"})
    assert out["query"] == "q: q: x"  # y's first rewrite hit x's entry
    assert runs["rewrite"] == 2
    clock[0] += 11  # past the ttl: every entry expired
    await graph.ainvoke({"query": "y"})
    assert runs["rewrite"] == 4


async def test_a_failure_is_not_cached(anyio_backend: str) -> None:
    calls: Counter[str] = Counter()

    def flaky(state: State) -> dict[str, Any]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ConnectionError("down")
        return {"query": "done"}

    builder = StateGraph(State)
    builder.add_node("flaky", flaky, cache_policy=CachePolicy())
    builder.add_edge(START, "flaky")
    graph = builder.compile(cache=InMemoryCache())
    with pytest.raises(ConnectionError):
        await graph.ainvoke({"query": "x"})
    assert (await graph.ainvoke({"query": "x"}))["query"] == "done"
    assert (await graph.ainvoke({"query": "x"}))["query"] == "done"
    assert calls["flaky"] == 2


def test_a_sqlite_cache_outlives_its_connection(tmp_path: Path) -> None:
    runs: Counter[str] = Counter()
    with a_cache("sqlite", tmp_path) as cache:
        searching(runs).compile(cache=cache).invoke({"query": "x"})
    with a_cache("sqlite", tmp_path) as cache:  # another process opens the same file
        searching(runs).compile(cache=cache).invoke({"query": "x"})
    assert runs["rewrite"] == 2


@pytest.mark.parametrize("cache_kind", CACHES)
async def test_task_results_are_cached_and_recorded(
    anyio_backend: str, cache_kind: str, store_kind: str, tmp_path: Path,
) -> None:
    calls: list[int] = []

    @task(cache_policy=CachePolicy())
    async def double(x: int) -> int:
        calls.append(x)
        return x * 2

    with a_cache(cache_kind, tmp_path) as cache:
        async with open_saver(store_kind, tmp_path) as saver:
            @entrypoint(checkpointer=saver, cache=cache)
            async def flow(x: int) -> list[int]:
                return [await double(x), await double(x), await double(x + 1)]

            assert await flow.ainvoke(3, cfg("t")) == [6, 6, 8]
            assert calls == [3, 4]
            results = bodies(await saver.log.read("t"), Kind.TASK_RESULT)
            assert [r.get("cached", False) for r in results] == [False, True, False]
            assert (await verify_thread(saver, "t", graph=flow)).ok


async def test_defaults_cache_regular_nodes(anyio_backend: str) -> None:
    runs: Counter[str] = Counter()

    def work(state: State) -> dict[str, Any]:
        runs["work"] += 1
        return {"docs": ["w"]}

    builder = StateGraph(State).set_node_defaults(cache_policy=CachePolicy())
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    graph = builder.compile(cache=InMemoryCache())
    for _ in range(3):
        await graph.ainvoke({"query": "x"})
    assert runs["work"] == 1


def test_bad_cache_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="CachePolicy"):
        StateGraph(State).add_node("x", lambda s: s, cache_policy={"ttl": 1})
    with pytest.raises(TypeError, match="InMemoryCache or a SqliteCache"):
        searching(Counter()).compile(cache={})
    with pytest.raises(ValueError, match="No cache is set"):
        searching(Counter()).compile().clear_cache()
