"""Durable runs on PostgreSQL: what a submitted run costs, and what workers sustain.

    python -m benchmarks.runs_service [--runs N] [--dsn DSN | --no-fsync]

Without ``--dsn`` it starts a throwaway server (``lograph.adapters.pgserver``). Rows:
- the 10-node ``sync`` chain invoked directly (``ainvoke``), and the same chain
  submitted and joined through an in-process Worker (``Runs.submit`` + ``join``): the
  difference is a background run's overhead;
- runs per second with 1 and 2 ``lograph worker`` processes (``tests/runs_graph.py``'s
  four-node chain, 0.01 s per node, one run per thread).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any, TypedDict

import anyio

from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.runtime import END, START, Runs, StateGraph, Worker

ROOT = Path(__file__).parent.parent


class S(TypedDict):
    count: int


def chain(saver: Any) -> Any:
    g = StateGraph(S)
    prev = START
    for i in range(10):
        async def node(state: S) -> dict[str, int]:
            return {"count": state["count"] + 1}
        g.add_node(f"n{i}", node)
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    g.add_edge(prev, END)
    return g.compile(checkpointer=saver)


async def overhead(dsn: str, n: int) -> tuple[float, float]:
    """Median ms per run: direct ainvoke, and submit + join through a Worker."""
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=f"b_{uuid.uuid4().hex[:8]}") as saver:
        await saver.setup()
        graph = chain(saver)
        direct, submitted = [], []
        for i in range(n):  # (no worker polling the store meanwhile)
            t = time.perf_counter()
            out = await graph.ainvoke({"count": 0}, {"configurable": {"thread_id": f"d{i}"}},
                                      durability="sync")
            direct.append(time.perf_counter() - t)
            assert out == {"count": 10}
        runs = Runs(saver)
        async with Worker(graph, concurrency=1, poll=0.002, lease=10):
            for i in range(n):
                t = time.perf_counter()
                run = await runs.submit(f"s{i}", {"count": 0}, durability="sync")
                assert await run.join(poll=0.002) == {"count": 10}
                submitted.append(time.perf_counter() - t)
        return median(direct) * 1000, median(submitted) * 1000


def _worker_process(dsn: str, schema: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lograph.adapters.cli", "worker", dsn, "--schema", schema,
         "--graph", "tests.runs_graph:graph", "--poll", "0.01"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def throughput(dsn: str, workers: int, n: int) -> float:
    """Runs per second with ``workers`` lograph worker processes (after they started)."""
    schema = f"b_{uuid.uuid4().hex[:8]}"
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        await saver.setup()
        runs = Runs(saver)
        handles = [await runs.submit(f"t{i}", {"log": ["in"]}, durability="sync") for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "RUNS_EFFECTS": str(Path(tmp) / "effects")}
            procs = [_worker_process(dsn, schema, env) for _ in range(workers)]
            try:
                # timed from the first claim (the processes' start-up is not the workers' rate)
                while not (await runs.list(status="running", limit=1) or  # noqa: ASYNC110 - the store has no event to wait on
                           await runs.list(status="success", limit=1)):
                    await anyio.sleep(0.01)
                start = time.perf_counter()
                for h in handles:
                    await h.join(poll=0.01)
                took = time.perf_counter() - start
            finally:
                for p in procs:
                    p.terminate()
                    p.wait()
        return n / took


async def main(args: argparse.Namespace) -> None:
    dsn = args.dsn
    server = None
    if dsn is None:
        from lograph.adapters.pgserver import TempPostgres

        server = TempPostgres(fsync=not args.no_fsync).start()
        dsn = server.dsn
    try:
        direct, submitted = await overhead(dsn, args.runs)
        print(f"| 10-node sync chain, PostgreSQL | direct ainvoke | {direct:.2f} ms |")
        print(f"| 10-node sync chain, PostgreSQL | submit + join (1 in-process worker) | "
              f"{submitted:.2f} ms (+{submitted - direct:.2f} ms) |")
        for k in (1, 2):
            rate = await throughput(dsn, k, args.runs)
            print(f"| 4-node sync chain, 0.01 s per node | runs/s with {k} worker process(es) | "
                  f"{rate:.1f} |")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--dsn")
    parser.add_argument("--no-fsync", action="store_true",
                        help="the throwaway server without fsync (CPU and round trips only)")
    anyio.run(main, parser.parse_args())
