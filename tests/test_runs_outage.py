"""A worker whose store goes away waits it out: its claims back off while the store is
unreachable (longer than the store's own retry budget), a run that met the outage is
taken over from the log once its lease expires, a finish that met it is retried, and
the worker claims again once the store is back. Simulated on every store (the store's
calls refused for a while); for real on a PostgreSQL server of the test's own, stopped
and started again. On asyncio and trio.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import StoreUnavailableError
from lograph.runtime import Runs, Worker
from tests._stores import open_saver
from tests.test_runs import FAST, Gates

pytestmark = pytest.mark.anyio


class Outage:
    """While ``on``, the named methods of a store object raise StoreUnavailableError (as
    a store does once its own retries gave up); ``refused`` counts the refusals."""

    def __init__(self, log: Any, *names: str) -> None:
        self.on = False
        self.refused = 0
        for name in names:
            setattr(log, name, self._guard(getattr(log, name)))

    def _guard(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.on:
                self.refused += 1
                raise StoreUnavailableError("the store gave up after 0.1 s of retries (simulated)")
            return await method(*args, **kwargs)
        return guarded


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 - the test watches counters the worker keeps
            await anyio.sleep(0.01)


async def test_claims_wait_out_an_unreachable_store(store_kind: str, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(saver)
        outage = Outage(saver.log, "claim_run")
        outage.on = True
        async with Worker(graph, **FAST) as worker:
            await _until(lambda: outage.refused >= 3)  # it kept trying, backing off
            assert worker.unreachable_since is not None and worker.outages == 1
            run = await runs.submit("t", {"log": ["in"]})  # (submit is not cut off)
            await anyio.sleep(0.2)
            assert (await run.refresh()).status == "pending"
            outage.on = False
            with anyio.fail_after(10):
                assert await run.join() == {"log": ["in", "a", "b", "c"]}
            assert worker.unreachable_since is None and worker.outages == 1
        said = [r.getMessage() for r in caplog.records if r.name == "lograph.worker"]
        assert any("unreachable" in m for m in said) and any("reachable again" in m for m in said)


async def test_a_run_that_met_the_outage_is_taken_over_and_its_finish_retried(
        store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        # the run's own appends and its finish meet the outage; claims still pass
        outage = Outage(saver.log, "append_batch", "finish_run")
        run = await runs.submit("t", {"log": ["in"]}, durability="sync")
        async with Worker(graph, **FAST) as worker:
            await gates.reached["b"].wait()
            outage.on = True
            gates.open["b"].set()  # b's writes cannot be recorded: the run is left to its lease
            await _until(lambda: outage.refused >= 1)
            await anyio.sleep(FAST["lease"] / 2)
            outage.on = False
            with anyio.fail_after(10):
                assert await run.join() == {"log": ["in", "a", "b", "c"]}
        record = await run.refresh()
        assert (record.status, record.attempts) == ("success", 2)  # taken over once
        assert gates.ran == ["a", "b", "b", "c"]  # only b, whose writes were lost, again
        assert worker.finished == 1

        # a finish that meets the outage is tried again until the store takes it (a run
        # that timed out: one that finished or failed records its end with its last append)
        outage2 = Outage(saver.log, "finish_run")
        outage2.on = True
        again = await runs.submit("u", {"log": ["more"]}, timeout=0.1)
        async with Worker(Gates("a").graph(saver), **FAST) as worker:
            await _until(lambda: outage2.refused >= 2)
            outage2.on = False
            with anyio.fail_after(10):
                await again.wait()
        assert ((await again.refresh()).status, (await again.refresh()).attempts) == ("timeout", 1)


# -- a real PostgreSQL server, stopped for longer than the store's retry budget ------------

BUDGET = 0.3  # the store's retry budget here (users keep the default, 10 s)


@pytest.fixture(scope="module")
def own_server() -> Any:
    from tests._store_postgres import start_server

    server = start_server(fsync=False, max_connections=50)
    yield server
    server.stop()


@asynccontextmanager
async def _pg_saver(server: Any, schema: str) -> AsyncIterator[Any]:
    from lograph.adapters.postgres import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(server.dsn, schema=schema, max_size=4,
                                                   retry_for=BUDGET) as saver:
        await saver.setup()
        yield saver


async def test_a_worker_outlives_a_postgres_restart(own_server: Any, anyio_backend: str) -> None:
    """The server goes down under a running run for several retry budgets; the worker
    keeps going, and once the server is back the run is taken over and the next one runs."""
    gates = Gates("b")
    async with _pg_saver(own_server, f"outage_{anyio_backend}") as saver:
        graph = gates.graph(saver)
        runs = Runs(saver)
        first = await runs.submit("t", {"log": ["in"]}, durability="sync")
        async with Worker(graph, lease=1.0, poll=0.05) as worker:
            await gates.reached["b"].wait()
            await anyio.to_thread.run_sync(own_server.kill)
            down = time.monotonic()
            gates.open["b"].set()  # b ends while the server is down: its writes are lost
            await _until(lambda: worker.unreachable_since is not None)
            await anyio.sleep(max(0.0, 6 * BUDGET - (time.monotonic() - down)))
            assert worker.outages == 1
            await anyio.to_thread.run_sync(own_server.restart)
            with anyio.fail_after(15):
                assert await first.join() == {"log": ["in", "a", "b", "c"]}
            second = await runs.submit("t", {"log": ["next"]})
            with anyio.fail_after(15):
                assert (await second.join())["log"][-4:] == ["next", "a", "b", "c"]
            assert worker.unreachable_since is None and worker.outages == 1
        record = await first.refresh()
        assert (record.status, record.attempts) == ("success", 2)
        assert gates.ran.count("a") == 2 and gates.ran.count("b") == 3  # a once per run; b lost once


async def test_lograph_worker_outlives_a_postgres_outage(own_server: Any, anyio_backend: str,
                                                         tmp_path: Path) -> None:
    """The command's worker (its store's retry budget: 3 s) keeps serving through an
    outage longer than that, says so, and runs what is submitted once the server is back."""
    from tests.test_runs_sigkill import Workers, _ready

    schema = f"cli_outage_{anyio_backend}"
    async with _pg_saver(own_server, schema) as saver:
        workers = Workers([own_server.dsn, "--schema", schema], tmp_path)
        proc = workers.start(lease=2.0, poll=0.05)
        try:
            await _ready(proc, workers.out(0))
            await anyio.to_thread.run_sync(own_server.kill)
            with anyio.fail_after(30):
                while b"unreachable" not in workers.out(0).read_bytes():
                    assert proc.poll() is None, workers.output()
                    await anyio.sleep(0.1)
            await anyio.sleep(1.0)
            assert proc.poll() is None, workers.output()
            await anyio.to_thread.run_sync(own_server.restart)
            run = await Runs(saver).submit("t", {"log": []})
            with anyio.fail_after(30):
                assert (await run.join())["log"] == ["a", "b", "c", "d"]
        finally:
            codes = await anyio.to_thread.run_sync(workers.stop_all)
        assert codes == [0], workers.output()
        assert "reachable again" in workers.output()
        assert "the runs of graph 'LangGraph'" in workers.output()  # (the runs it claims)
