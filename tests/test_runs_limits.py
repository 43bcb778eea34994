"""A limit on the runs of a graph at once across workers (``Worker(graph_limit=)``), kept
by the store's claims, on every store, on asyncio and trio; ``concurrency`` is each
worker's own limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.adapters.sqlite import AsyncSqliteSaver
from lograph.runtime import Runs, Worker
from tests import _store_postgres as pg
from tests.test_runs_wakeups import S, one_node

pytestmark = pytest.mark.anyio

SLOW = 60.0  # the workers' poll: a run that waited for a place is started by a wake-up


class Meter:
    """Counts the runs inside their node at once."""

    def __init__(self) -> None:
        self.now = self.most = 0

    def graph(self, saver: Any) -> Any:
        async def busy(state: S) -> dict[str, Any]:
            self.now += 1
            self.most = max(self.most, self.now)
            await anyio.sleep(0.15)
            self.now -= 1
            return {"log": ["busy"]}

        return one_node(saver, "busy", busy)


@asynccontextmanager
async def two_savers(store_kind: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """Two store objects on one database (one saver for memory): two workers' views."""
    if store_kind == "memory":
        from lograph.adapters.memory import MemorySaver

        saver = MemorySaver()
        yield saver, saver
    elif store_kind == "sqlite":
        async with AsyncSqliteSaver.from_conn_string(tmp_path / "runs.db") as a, \
                AsyncSqliteSaver.from_conn_string(tmp_path / "runs.db") as b:
            yield a, b
    else:
        dsn, schema = await pg.dsn(), pg.fresh_schema()
        async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as a, \
                AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as b:
            await a.setup()
            yield a, b


async def test_a_graph_limit_holds_across_workers(store_kind: str, tmp_path: Path) -> None:
    meter = Meter()
    async with two_savers(store_kind, tmp_path) as (a, b):
        runs = Runs(a)
        handles = [await runs.submit(f"t{i}", {"log": ["in"]}) for i in range(6)]
        async with Worker(meter.graph(a), concurrency=3, graph_limit=2, poll=SLOW, lease=5), \
                Worker(meter.graph(b), concurrency=3, graph_limit=2, poll=SLOW, lease=5):
            with anyio.fail_after(30):
                for h in handles:
                    assert await h.join(poll=SLOW) == {"log": ["in", "busy"]}
    assert meter.most == 2  # two at a time, never three, though each worker had room for 3


async def test_limits_are_per_graph_name_and_a_worker_runs_only_its_graphs_runs(
        store_kind: str, tmp_path: Path) -> None:
    """Runs submitted through a graph carry its name: only that graph's workers claim
    them, and ``graph_limit`` counts that graph's running runs only."""
    both = Meter()  # runs of either graph at once
    ran: dict[str, list[str]] = {"alpha": [], "beta": []}

    def named(saver: Any, name: str) -> Any:
        async def busy(state: S) -> dict[str, Any]:
            ran[name].append(state["log"][0])
            both.now += 1
            both.most = max(both.most, both.now)
            await anyio.sleep(0.15)
            both.now -= 1
            return {"log": [name]}

        graph = one_node(saver, "busy", busy)
        graph.name = name
        return graph

    async with two_savers(store_kind, tmp_path) as (a, b):
        alpha, beta = Runs(named(a, "alpha")), Runs(named(a, "beta"))
        handles = [await alpha.submit(f"a{i}", {"log": [f"a{i}"]}) for i in range(3)]
        handles += [await beta.submit(f"b{i}", {"log": [f"b{i}"]}) for i in range(3)]
        assert [r.graph for r in await alpha.list()] == ["beta"] * 3 + ["alpha"] * 3
        assert len(await alpha.list(graph="beta")) == 3
        async with Worker(named(a, "alpha"), concurrency=3, graph_limit=1, poll=SLOW, lease=5), \
                Worker(named(b, "alpha"), concurrency=3, graph_limit=1, poll=SLOW, lease=5), \
                Worker(named(b, "beta"), concurrency=3, graph_limit=1, poll=SLOW, lease=5):
            with anyio.fail_after(30):
                for h in handles:
                    out = await h.join(poll=SLOW)
                    assert out["log"][1] == ("alpha" if h.thread_id[0] == "a" else "beta")
    assert sorted(ran["alpha"]) == ["a0", "a1", "a2"] and sorted(ran["beta"]) == ["b0", "b1", "b2"]
    assert both.most == 2  # one of each graph at a time: each limit is its own


async def test_concurrency_limits_one_worker(store_kind: str, tmp_path: Path) -> None:
    meter = Meter()
    async with two_savers(store_kind, tmp_path) as (a, _):
        runs = Runs(a)
        handles = [await runs.submit(f"t{i}", {"log": ["in"]}) for i in range(4)]
        async with Worker(meter.graph(a), concurrency=2, poll=SLOW, lease=5):
            with anyio.fail_after(30):
                for h in handles:
                    await h.join(poll=SLOW)
    assert meter.most == 2


async def test_a_bad_graph_limit_is_refused(anyio_backend: str) -> None:
    from lograph.adapters.memory import MemorySaver

    saver = MemorySaver()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="graph_limit"):
            Worker(Meter().graph(saver), graph_limit=bad)  # type: ignore[arg-type]
