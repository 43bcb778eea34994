"""Wake-ups of durable runs: a worker claims a submitted run, and a joiner learns that a run
ended, when the store says so, not at their next poll.

Every case polls slowly (``SLOW``), so a case that passes in time was woken: in this
process on every store (and across store objects on one SQLite file), from another
store object (another process's, as far as the store can tell) through PostgreSQL's
LISTEN/NOTIFY, and again after the listening connection was cut. On asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import asyncpg
import pytest

from lograph.adapters._bridge import Bridge
from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.adapters.sqlite import AsyncSqliteSaver
from lograph.runtime import END, START, Runs, StateGraph, Worker
from tests import _store_postgres as pg
from tests._stores import open_saver

pytestmark = pytest.mark.anyio

SLOW = 60.0  # seconds between polls: longer than any case may take
IN_TIME = 15.0  # a woken run ends well within this, even on a loaded machine


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def one_node(saver: Any, name: str, node: Any) -> Any:
    """A graph of one node on ``saver``."""
    g = StateGraph(S)
    g.add_node(name, node)
    g.add_edge(START, name)
    g.add_edge(name, END)
    return g.compile(checkpointer=saver)


def graph_on(saver: Any) -> Any:
    async def a(state: S) -> dict[str, Any]:
        return {"log": ["a"]}

    return one_node(saver, "a", a)


async def submit_and_join(runs: Runs, thread: str) -> Any:
    with anyio.fail_after(IN_TIME):
        run = await runs.submit(thread, {"log": ["in"]}, durability="sync")
        return await run.join(poll=SLOW)


async def test_a_worker_and_a_joiner_are_woken_in_this_process(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = graph_on(saver)
        runs = Runs(saver)
        async with Worker(graph, poll=SLOW, lease=5):
            await anyio.sleep(0.05)  # the worker found nothing and waits
            for i in range(3):
                assert await submit_and_join(runs, f"t{i}") == {"log": ["in", "a"]}
            # the second run of a thread is claimable once the first ends: that wakes it too
            first = await runs.submit("same", {"log": ["1"]})
            second = await runs.submit("same", {"log": ["2"]})
            with anyio.fail_after(IN_TIME):
                assert (await first.join(poll=SLOW))["log"] == ["1", "a"]
                assert (await second.join(poll=SLOW))["log"] == ["1", "a", "2", "a"]


async def test_a_cancel_wakes_the_joiner_of_a_pending_run(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        run = await Runs(saver).submit("t", {"log": ["in"]})  # no worker: it stays pending

        async def cancel_soon() -> None:
            await anyio.sleep(0.1)
            await run.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_soon)
            with anyio.fail_after(IN_TIME):
                record = await run.wait(poll=SLOW)
        assert record.status == "cancelled"


async def test_two_store_objects_on_one_sqlite_file_wake_each_other(anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    async with AsyncSqliteSaver.from_conn_string(path) as serving, \
            AsyncSqliteSaver.from_conn_string(path) as submitting:
        async with Worker(graph_on(serving), poll=SLOW, lease=5):
            await anyio.sleep(0.05)
            assert await submit_and_join(Runs(submitting), "t") == {"log": ["in", "a"]}


async def test_postgres_wakes_other_store_objects_through_listen(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as serving, \
            AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as submitting:
        await serving.setup()
        async with Worker(graph_on(serving), poll=SLOW, lease=5):
            await anyio.sleep(0.1)  # the worker listens and waits
            runs = Runs(submitting)
            assert await submit_and_join(runs, "t1") == {"log": ["in", "a"]}

            # the listening connections are cut (a proxy, a server restart): both
            # listeners start again on their next wait, and wake their waiters meanwhile
            await terminate_listeners(dsn, serving.log._sql.runs.channel)
            with anyio.fail_after(IN_TIME):  # the worker's poll is SLOW: only a wake-up ends this
                run = await runs.submit("t2", {"log": ["in"]})
                while (await run.refresh()).status == "pending":  # noqa: ASYNC110 - the test watches the store
                    await anyio.sleep(0.05)
            assert await submit_and_join(runs, "t3") == {"log": ["in", "a"]}


async def test_a_run_joined_after_it_ended_elsewhere_returns_at_once(anyio_backend: str) -> None:
    """A handle from ``submit`` skips its first read when this process heard every change
    since: a run another process's worker finished before the join began is not missed."""
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as serving, \
            AsyncPostgresSaver.from_conn_string(dsn, schema=schema, max_size=4) as submitting:
        await serving.setup()
        runs = Runs(submitting)
        async with Worker(graph_on(serving), poll=SLOW, lease=5):
            assert await submit_and_join(runs, "t0") == {"log": ["in", "a"]}  # both listen now
            for i in range(3):
                run = await runs.submit(f"t{i + 1}", {"log": ["in"]})
                with anyio.fail_after(IN_TIME):
                    other = await runs.get(run.run_id)
                    while not (await other.refresh()).done:  # noqa: ASYNC110 - the test watches the store
                        await anyio.sleep(0.01)
                    assert run.record.status == "pending"  # what submit read
                    assert await run.join(poll=SLOW) == {"log": ["in", "a"]}


async def test_a_small_pool_or_one_connection_is_not_taken_to_listen(anyio_backend: str) -> None:
    """A pool of two connections, or one asyncpg connection, is the caller's to use: the
    store does not hold one to listen (its waiters poll), and runs still run."""
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    bridge = Bridge.here()  # the driver's home: the pool and connection live there

    async def connect() -> tuple[Any, Any]:
        return await asyncpg.create_pool(dsn, min_size=1, max_size=2), await asyncpg.connect(dsn)

    async def close() -> None:
        await conn.close()
        await pool.close()

    pool, conn = await bridge.run(connect)
    try:
        for source in (pool, conn):
            saver = AsyncPostgresSaver(source, schema=schema)
            await saver.setup()
            runs = Runs(saver)
            async with Worker(graph_on(saver), poll=0.02, lease=5):
                with anyio.fail_after(IN_TIME):
                    run = await runs.submit(f"t{id(source)}", {"log": ["in"]})
                    assert await run.join(poll=0.02) == {"log": ["in", "a"]}
                    assert not saver.log._listener.listening()  # none held to LISTEN
            await saver.log.aclose()
    finally:
        await bridge.run(close)


async def terminate_listeners(dsn: str, channel: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE $1 AND pid <> pg_backend_pid()", f"LISTEN %{channel}%")
        finally:
            await conn.close()

    await Bridge.here().run(run)
