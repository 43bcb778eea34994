"""The long-term memory Store's contract (LangGraph's BaseStore API), on every backend.

Each case runs on InMemoryStore, SqliteStore (a real file) and PostgresStore (a fresh
schema on the session's server), on asyncio and trio: one behaviour, three stores.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from langchain_core.embeddings import Embeddings

from lograph.adapters.postgres import AsyncPostgresStore, PostgresStore
from lograph.adapters.sqlite import AsyncSqliteStore, SqliteStore
from lograph.runtime import _store_rules
from lograph.runtime.store import (
    BaseStore,
    GetOp,
    InMemoryStore,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)
from tests import _store_postgres

pytestmark = pytest.mark.anyio

DIMS = 6


def embed(texts: Sequence[str]) -> list[list[float]]:
    """A deterministic embedding: letter counts in six buckets (a..z folded)."""
    out = []
    for text in texts:
        v = [0.0] * DIMS
        for ch in text.lower():
            if ch.isalpha():
                v[(ord(ch) - ord("a")) % DIMS] += 1.0
        out.append(v)
    return out


async def aembed(texts: Sequence[str]) -> list[list[float]]:
    await anyio.lowlevel.checkpoint()
    return embed(texts)


class FakeEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return embed([text])[0]


@asynccontextmanager
async def open_store(kind: str, tmp_path: Path, **options: Any) -> AsyncIterator[BaseStore]:
    if kind == "memory":
        yield InMemoryStore(**options)
    elif kind == "sqlite":
        async with AsyncSqliteStore.from_conn_string(tmp_path / "store.db", **options) as store:
            yield store
    else:
        async with AsyncPostgresStore.from_conn_string(
                await _store_postgres.dsn(), schema=_store_postgres.fresh_schema(), max_size=4,
                **options) as pg:
            await pg.setup()
            yield pg


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def minutes(self, m: float) -> None:
        self.t += m * 60


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(_store_rules, "now", c)
    return c


# -- put, get, delete ------------------------------------------------------------------------


async def test_put_get_delete(anyio_backend: str, store_kind: str, tmp_path: Path, clock: Clock) -> None:
    async with open_store(store_kind, tmp_path) as store:
        assert await store.aget(("users", "1"), "prefs") is None
        await store.aput(("users", "1"), "prefs", {"theme": "dark", "n": [1, 2.5, None, True]})
        item = await store.aget(("users", "1"), "prefs")
        assert isinstance(item, Item)
        assert (item.namespace, item.key) == (("users", "1"), "prefs")
        assert item.value == {"theme": "dark", "n": [1, 2.5, None, True]}
        assert list(item.value) == ["theme", "n"]  # the order written
        assert item.created_at == item.updated_at == datetime.fromtimestamp(clock.t, UTC)
        assert item.dict()["namespace"] == ["users", "1"]

        clock.minutes(1)
        await store.aput(("users", "1"), "prefs", {"theme": "light"})
        again = await store.aget(("users", "1"), "prefs")
        assert again is not None and again.value == {"theme": "light"}
        assert again.created_at == item.created_at and again.updated_at > item.updated_at

        await store.adelete(("users", "1"), "prefs")
        await store.adelete(("users", "1"), "never-there")
        assert await store.aget(("users", "1"), "prefs") is None
        assert await store.asearch(("users",)) == []


async def test_values_are_copied_in_and_out(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store:
        value = {"tags": ["a"]}
        await store.aput(("ns",), "k", value)
        value["tags"].append("changed")
        got = await store.aget(("ns",), "k")
        assert got is not None and got.value == {"tags": ["a"]}
        got.value["tags"].append("mutated")
        (found,) = await store.asearch(("ns",))
        found.value["x"] = 1
        again = await store.aget(("ns",), "k")
        assert again is not None and again.value == {"tags": ["a"]}


@pytest.mark.parametrize("namespace", [(), ("a.b",), ("",), ("a", 1), ("langgraph", "x"), ["a"]])
async def test_bad_namespaces_are_refused(anyio_backend: str, store_kind: str, tmp_path: Path,
                                          namespace: Any) -> None:
    async with open_store(store_kind, tmp_path) as store:
        with pytest.raises(InvalidNamespaceError):
            await store.aput(namespace, "k", {"v": 1})
        assert await store.alist_namespaces() == []


@pytest.mark.parametrize("value", [
    {"t": (1, 2)}, {"s": {1}}, {"d": datetime(2024, 1, 1)}, {"f": math.nan}, {1: "x"},
    {"nested": {"deep": [object()]}}, ["not", "a", "dict"],
])
async def test_non_json_values_are_refused_and_nothing_is_written(
        anyio_backend: str, store_kind: str, tmp_path: Path, value: Any) -> None:
    async with open_store(store_kind, tmp_path) as store:
        with pytest.raises((TypeError, ValueError)):
            await store.abatch([PutOp(("ns",), "good", {"ok": True}), PutOp(("ns",), "bad", value)])
        assert await store.aget(("ns",), "good") is None


# -- search ----------------------------------------------------------------------------------


async def test_search_prefix_order_and_pages(anyio_backend: str, store_kind: str, tmp_path: Path,
                                             clock: Clock) -> None:
    async with open_store(store_kind, tmp_path) as store:
        for i, ns in enumerate([("a",), ("a", "b"), ("ab",), ("a", "b", "c"), ("b",)]):
            clock.minutes(1)
            await store.aput(ns, f"k{i}", {"i": i})
        keys = [it.key for it in await store.asearch(("a",))]
        assert keys == ["k3", "k1", "k0"]  # newest first; ("ab",) is not under ("a",)
        assert [it.key for it in await store.asearch(("a", "b"))] == ["k3", "k1"]
        assert [it.key for it in await store.asearch(())] == ["k4", "k3", "k2", "k1", "k0"]
        assert [it.key for it in await store.asearch((), limit=2, offset=1)] == ["k3", "k2"]
        assert await store.asearch((), offset=10) == []
        assert await store.asearch(("a.b",)) == []
        clock.minutes(1)
        await store.aput(("a",), "k0", {"i": 0, "again": True})  # a write moves it first
        found = await store.asearch(("a",), limit=1)
        assert [it.key for it in found] == ["k0"] and isinstance(found[0], SearchItem)
        assert found[0].score is None and found[0].namespace == ("a",)


async def test_filters(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    docs = {
        "a": {"kind": "x", "n": 1, "flag": True, "meta": {"lang": "en", "v": 2}, "tags": ["p", "q"]},
        "b": {"kind": "y", "n": 2.5, "flag": False, "meta": {"lang": "fr"}, "tags": ["p"]},
        "c": {"kind": "x", "n": 10, "flag": 1, "name": "zed"},
        "d": {"kind": "z", "n": "7", "name": "amy", "maybe": None},
    }
    async with open_store(store_kind, tmp_path) as store:
        for key, doc in docs.items():
            await store.aput(("docs",), key, doc)

        async def keys(flt: dict[str, Any]) -> set[str]:
            return {it.key for it in await store.asearch(("docs",), filter=flt, limit=100)}

        assert await keys({"kind": "x"}) == {"a", "c"}
        assert await keys({"kind": "x", "n": 10}) == {"c"}
        assert await keys({"n": 2.5}) == {"b"}
        assert await keys({"n": 1.0}) == {"a"}  # 1 == 1.0, as numbers
        assert await keys({"flag": True}) == {"a"}  # a bool is not the number 1
        assert await keys({"flag": 1}) == {"c"}
        assert await keys({"maybe": None}) == {"a", "b", "c", "d"}  # missing counts as None
        assert await keys({"name": None}) == {"a", "b"}
        assert await keys({"meta": {"lang": "en"}}) == {"a"}  # a dict: its keys must match
        assert await keys({"tags": ["p"]}) == {"b"}  # a list: equal as a whole
        assert await keys({"n": {"$gt": 1}}) == {"b", "c"}  # "7" is a str: not compared with 1
        assert await keys({"n": {"$gte": 1, "$lt": 10}}) == {"a", "b"}
        assert await keys({"n": {"$lte": 2.5}}) == {"a", "b"}
        assert await keys({"name": {"$gt": "b"}}) == {"c"}
        assert await keys({"name": {"$lt": "b"}}) == {"d"}
        assert await keys({"kind": {"$ne": "x"}}) == {"b", "d"}
        assert await keys({"kind": {"$eq": "y"}}) == {"b"}
        assert await keys({"name": {"$ne": None}}) == {"c", "d"}
        assert await keys({"meta": {"v": {"$gte": 2}}}) == {"a"}
        with pytest.raises(ValueError, match="unsupported operator"):
            await keys({"n": {"$in": [1]}})
        with pytest.raises(ValueError, match="compares with a number or a str"):
            await keys({"n": {"$gt": [1]}})


async def test_a_page_skips_what_the_filter_drops(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store:
        await store.abatch([PutOp(("many",), f"k{i:03}", {"i": i, "even": i % 2 == 0,
                                                         "tags": ["x"] if i % 7 == 0 else []})
                            for i in range(200)])
        evens = await store.asearch(("many",), filter={"even": True}, limit=5, offset=3)
        assert [it.value["i"] for it in evens] == [192, 190, 188, 186, 184]  # batch order: last first
        sevens = await store.asearch(("many",), filter={"tags": ["x"]}, limit=100)
        assert [it.value["i"] for it in sevens] == [i for i in range(199, -1, -1) if i % 7 == 0]


# -- namespaces ------------------------------------------------------------------------------


async def test_list_namespaces(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    spaces = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"),
              ("a", "c", "f"), ("b", "a", "f"), ("users", "123"), ("users", "456", "v1")]
    async with open_store(store_kind, tmp_path) as store:
        await store.abatch([PutOp(ns, "k", {"x": 1}) for ns in spaces])
        assert await store.alist_namespaces() == sorted(spaces)
        assert await store.alist_namespaces(prefix=("a", "b"), max_depth=3) == [
            ("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
        assert await store.alist_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
        assert await store.alist_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
        assert await store.alist_namespaces(prefix=("a",), suffix=("*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
        assert await store.alist_namespaces(max_depth=1) == [("a",), ("b",), ("users",)]
        assert await store.alist_namespaces(limit=2, offset=1) == sorted(spaces)[1:3]
        assert await store.alist_namespaces(prefix=("users",)) == [("users", "123"), ("users", "456", "v1")]
        assert await store.alist_namespaces(prefix=("user",)) == []
        await store.adelete(("users", "123"), "k")
        assert await store.alist_namespaces(prefix=("users",)) == [("users", "456", "v1")]
        op = ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("v1",)),), limit=5)
        assert await store.abatch([op]) == [[("users", "456", "v1")]]


# -- batches ---------------------------------------------------------------------------------


async def test_batch_reads_before_its_writes(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store:
        await store.aput(("ns",), "old", {"v": 0})
        results = await store.abatch([
            PutOp(("ns",), "new", {"v": 1}),
            GetOp(("ns",), "new"),
            SearchOp(("ns",)),
            PutOp(("ns",), "new", {"v": 2}),  # the last put of an item wins
            ListNamespacesOp(),
            PutOp(("ns",), "old", None),
            GetOp(("ns",), "old"),
        ])
        assert results[0] is None and results[1] is None and results[3] is None
        assert [it.key for it in results[2]] == ["old"]  # type: ignore[union-attr]
        assert results[4] == [("ns",)]
        assert isinstance(results[6], Item) and results[6].value == {"v": 0}
        got = await store.aget(("ns",), "new")
        assert got is not None and got.value == {"v": 2}
        assert await store.aget(("ns",), "old") is None
        with pytest.raises(TypeError, match="not a store operation"):
            await store.abatch([PutOp(("ns",), "x", {"v": 1}), "get me"])  # type: ignore[list-item]
        assert await store.aget(("ns",), "x") is None


async def test_sync_api_from_a_worker_thread(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store:

        def work() -> tuple[Any, ...]:
            store.put(("sync",), "k", {"v": 1})
            store.batch([PutOp(("sync", "sub"), "k2", {"v": 2})])
            found = store.search(("sync",), filter={"v": 2})
            spaces = store.list_namespaces(prefix=("sync",))
            got = store.get(("sync",), "k")
            store.delete(("sync",), "k")
            return got, found, spaces, store.get(("sync",), "k")

        got, found, spaces, gone = await anyio.to_thread.run_sync(work)
        assert got.value == {"v": 1} and [it.key for it in found] == ["k2"]
        assert spaces == [("sync",), ("sync", "sub")] and gone is None


# -- TTL -------------------------------------------------------------------------------------


async def test_ttl_expiry_refresh_and_sweep(anyio_backend: str, store_kind: str, tmp_path: Path,
                                           clock: Clock) -> None:
    async with open_store(store_kind, tmp_path, ttl={"default_ttl": 10}) as store:
        await store.aput(("t",), "default", {"v": 1})  # 10 minutes (the config's default)
        await store.aput(("t",), "short", {"v": 2}, ttl=2)
        await store.aput(("t",), "forever", {"v": 3}, ttl=None)
        clock.minutes(1.5)
        assert await store.aget(("t",), "short") is not None  # read: 2 more minutes from now
        clock.minutes(1.5)
        assert (await store.aget(("t",), "short", refresh_ttl=False)) is not None
        clock.minutes(0.6)
        assert await store.aget(("t",), "short") is None  # expired: gone for every read
        assert {it.key for it in await store.asearch(("t",))} == {"default", "forever"}
        clock.minutes(5)  # default: 10 minutes after its put, refreshed by the search at 3.6
        assert {it.key for it in await store.asearch(("t",), refresh_ttl=False)} == {"default", "forever"}
        clock.minutes(10)
        assert [it.key for it in await store.asearch(("t",))] == ["forever"]
        await store.aput(("gone",), "k", {"v": 1}, ttl=1)
        clock.minutes(2)
        assert await store.alist_namespaces() == [("t",)]
        created = clock.t
        await store.aput(("t",), "short", {"v": 4})  # a new item where an expired one lies
        again = await store.aget(("t",), "short")
        assert again is not None and again.created_at == datetime.fromtimestamp(created, UTC)
        assert await store.asweep_ttl() == 2  # "default" and ("gone",)/"k"
        assert await store.asweep_ttl() == 0


async def test_ttl_sweeper_runs_in_a_task_group(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path, ttl={"sweep_interval_minutes": 1}) as store:
        await store.aput(("t",), "k", {"v": 1}, ttl=0.0005)  # 30 ms
        swept = anyio.Event()
        sweep = store.asweep_ttl  # type: ignore[attr-defined]

        async def counting() -> int:
            n: int = await sweep()
            if n:
                swept.set()
            return n

        store.asweep_ttl = counting  # type: ignore[attr-defined]
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.run_ttl_sweeper, 0.001)  # type: ignore[attr-defined]
            with anyio.fail_after(10):
                await swept.wait()
            tg.cancel_scope.cancel()
        assert await store.aget(("t",), "k") is None


async def test_ttl_sweeper_thread(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    import threading

    async with open_store(store_kind, tmp_path) as store:
        await store.aput(("t",), "k", {"v": 1}, ttl=0.0005)  # 30 ms
        swept = threading.Event()
        sweep = store._sweep_now  # type: ignore[attr-defined]

        def counting() -> int:
            n: int = sweep()
            if n:
                swept.set()
            return n

        store._sweep_now = counting  # type: ignore[attr-defined]
        # inside an event loop the calls are awaitables, as on LangGraph's async stores
        future = await store.start_ttl_sweeper(sweep_interval_minutes=0.001)  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="already running"):
            await store.start_ttl_sweeper()  # type: ignore[attr-defined]
        assert await anyio.to_thread.run_sync(swept.wait, 10)
        assert await store.stop_ttl_sweeper(5)  # type: ignore[attr-defined]
        assert future.done()
        assert await store.sweep_ttl() == 0  # type: ignore[attr-defined]

        def from_sync_code() -> tuple[bool, int]:  # no event loop in this thread: plain calls
            started = store.start_ttl_sweeper(sweep_interval_minutes=60)  # type: ignore[attr-defined]
            stopped = store.stop_ttl_sweeper(5)  # type: ignore[attr-defined]
            return stopped and started.done(), store.sweep_ttl()  # type: ignore[attr-defined]

        assert await anyio.to_thread.run_sync(from_sync_code) == (True, 0)


# -- semantic search -------------------------------------------------------------------------


@pytest.mark.parametrize("embedder", ["function", "async function", "Embeddings"])
async def test_semantic_search(anyio_backend: str, store_kind: str, tmp_path: Path, embedder: str) -> None:
    fn: Any = {"function": embed, "async function": aembed, "Embeddings": FakeEmbeddings()}[embedder]
    index = {"embed": fn, "dims": DIMS, "fields": ["text"]}
    async with open_store(store_kind, tmp_path, index=index) as store:
        await store.aput(("user_123", "memories"), "1", {"text": "I love pizza"})
        await store.aput(("user_123", "memories"), "2", {"text": "I prefer Italian food"})
        await store.aput(("user_123", "memories"), "3", {"text": "I don't like spicy food"})
        await store.aput(("user_123", "memories"), "3", {"text": "I am a plumber"})
        await store.aput(("user_123", "memories"), "4", {"text": "pizza pizza", "other": 1}, index=False)
        found = await store.asearch(("user_123", "memories"), query="I like food?", limit=5)
        q = embed(["I like food?"])[0]
        scores = {}
        for key, text in (("1", "I love pizza"), ("2", "I prefer Italian food"), ("3", "I am a plumber")):
            v = embed([text])[0]
            scores[key] = sum(a * b for a, b in zip(q, v, strict=True)) / (
                math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in v)))
        expected = sorted(scores, key=lambda k: -scores[k])
        assert [it.key for it in found] == [*expected, "4"]  # unindexed last, with no score
        assert [it.score for it in found[:3]] == pytest.approx([scores[k] for k in expected], abs=1e-12)
        assert found[3].score is None
        page = await store.asearch(("user_123", "memories"), query="I like food?", limit=2, offset=1)
        assert [it.key for it in page] == [expected[1], expected[2]]
        filtered = await store.asearch(("user_123",), query="pizza", filter={"other": 1})
        assert [(it.key, it.score) for it in filtered] == [("4", None)]
        plain = await store.asearch(("user_123",), limit=1)
        assert [it.key for it in plain] == ["4"] and plain[0].score is None


async def test_index_fields_per_put(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    index = {"embed": embed, "dims": DIMS, "fields": ["memory"]}
    async with open_store(store_kind, tmp_path, index=index) as store:
        await store.aput(("m",), "mem1", {"memory": "aaaa", "context": "bbbb"})
        await store.aput(("m",), "mem2", {"memory": "bbbb", "context": "aaaa"}, index=["context"])
        await store.aput(("m",), "mem3", {"list": ["cccc", "aaaa"], "memory": "dddd"}, index=["list[*]"])
        (best,) = await store.asearch(("m",), query="aaaa", limit=1)
        assert best.key in {"mem1", "mem2", "mem3"} and best.score == pytest.approx(1.0)
        top = await store.asearch(("m",), query="aaaa", limit=3)
        assert {it.key for it in top} == {"mem1", "mem2", "mem3"}
        assert all(it.score == pytest.approx(1.0) for it in top)  # max over each item's vectors
        (d,) = await store.asearch(("m",), query="dddd", limit=1)
        assert d.score is not None and d.score < 1.0  # mem3's "memory" was not embedded
        await store.aput(("m",), "mem1", {"memory": "dddd"})  # a new put replaces its vectors
        (d,) = await store.asearch(("m",), query="dddd", limit=1)
        assert (d.key, d.score) == ("mem1", pytest.approx(1.0))
        await store.aput(("m",), "mem1", {"memory": "dddd"}, index=False)
        found = await store.asearch(("m",), query="dddd", limit=3)
        assert [it.key for it in found][-1] == "mem1" and found[-1].score is None


async def test_bad_vectors_write_nothing(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    def short(texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 2.0] for _ in texts]

    async with open_store(store_kind, tmp_path, index={"embed": short, "dims": DIMS}) as store:
        with pytest.raises(ValueError, match="dims"):
            await store.aput(("v",), "k", {"text": "x"})
        assert await store.aget(("v",), "k") is None
        await store.aput(("v",), "k", {"text": "x"}, index=False)  # nothing to embed: fine
        assert (await store.aget(("v",), "k")) is not None


async def test_a_query_without_an_index_is_a_plain_search(anyio_backend: str, store_kind: str,
                                                          tmp_path: Path) -> None:
    async with open_store(store_kind, tmp_path) as store:
        await store.aput(("n",), "a", {"text": "x"}, index=["text"])
        await store.aput(("n",), "b", {"text": "y"})
        assert [(it.key, it.score) for it in await store.asearch(("n",), query="x")] == [
            ("b", None), ("a", None)]


# -- construction ----------------------------------------------------------------------------


def test_names_and_aliases() -> None:
    assert issubclass(AsyncSqliteStore, SqliteStore) and issubclass(AsyncPostgresStore, PostgresStore)
    with pytest.raises(ValueError, match="dims"):
        InMemoryStore(index={"embed": embed, "dims": 0})
    with pytest.raises(TypeError, match="sqlite3 or aiosqlite connection"):
        SqliteStore("path.db")  # type: ignore[arg-type]


def test_sqlite_store_over_a_connection_the_caller_owns(tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "own.db", check_same_thread=False, isolation_level=None)
    store = SqliteStore(conn)
    store.setup()
    store.put(("a",), "k", {"v": 1})
    store.close()  # the caller's connection stays open
    assert conn.execute("SELECT count(*) FROM store_items").fetchone() == (1,)
    conn.close()
    with SqliteStore.from_conn_string(tmp_path / "own.db") as reopened:
        got = reopened.get(("a",), "k")
        assert got is not None and got.value == {"v": 1}


def test_the_readme_store_example_runs_as_a_script(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Long-term memory (Store)\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    script = tmp_path / "memories.py"
    script.write_text(found.group(1), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1 I love pizza 0.998", "3 I am a plumber 0.05", "{'text': 'I prefer Italian food'}",
        "[('user_1', 'memories')]"]
