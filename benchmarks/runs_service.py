"""Durable runs on PostgreSQL: what a submitted run costs, and what workers sustain.

    python -m benchmarks.runs_service [--runs N] [--rounds N] [--takeovers N] [--lease S] [--dsn DSN | --no-fsync]

Without ``--dsn`` it starts a throwaway server (``lograph.adapters.pgserver``). Rows:
- the 10-node ``sync`` chain invoked directly (``ainvoke``), and the same chain
  submitted and joined through an in-process Worker (``Runs.submit`` + ``join``), one
  of each in turn, in ``--rounds`` rounds: the difference is a background run's
  overhead (wall time, and this process's CPU time, which a loaded machine blurs less);
- takeover: two ``lograph worker`` processes serving ``tests/runs_graph.py``'s four-node
  chain; the one running a run's third node SIGKILLs itself there; the seconds from that
  kill to the other worker's start of the node (its first step of the run: the first two
  are in the log). The target is the lease plus one second;
- runs per second with 1 and 2 ``lograph worker`` processes (the same chain, 0.01 s per
  node, one run per thread, submitted while the workers serve; timed from the first
  submission to the last run's end).

``python -m benchmarks --workload runs --store postgres`` runs the takeover and the
runs-per-second rows as a cell of the suite (``session``), with a target in its report.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from statistics import median
from typing import Any, TypedDict

import anyio

from lograph.adapters.postgres import AsyncPostgresSaver
from lograph.runtime import END, START, Runs, StateGraph, Worker

from ._common import Ctx

ROOT = Path(__file__).parent.parent
NAMES = ("a", "b", "c", "d")  # tests/runs_graph.py's nodes
#: the takeover's worker settings: the lease a dead worker's run waits out, the claim poll
TAKEOVER_POLL = 0.2  # ``lograph worker``'s default


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


async def overhead(dsn: str, n: int, rounds: int) -> list[dict[str, float]]:
    """Per round, median ms per run: direct ainvoke and submit + join through a Worker
    with its default poll, alternating one of each (so both see the same machine), wall
    time and this process's CPU time. The worker is woken by the submit and the joiner
    by the run's end, so no poll interval is in the figure."""
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=f"b_{uuid.uuid4().hex[:8]}") as saver:
        await saver.setup()
        graph = chain(saver)
        runs = Runs(saver)
        out = []
        async with Worker(graph, concurrency=1, lease=10):
            for r in range(rounds):
                times: dict[str, list[float]] = {"dw": [], "dc": [], "sw": [], "sc": []}
                for i in range(-2 if r == 0 else 0, n):  # (two warm-up pairs)
                    c, t = time.process_time(), time.perf_counter()
                    got = await graph.ainvoke({"count": 0}, {"configurable": {"thread_id": f"d{r}.{i}"}},
                                              durability="sync")
                    dw, dc = time.perf_counter() - t, time.process_time() - c
                    assert got == {"count": 10}
                    c, t = time.process_time(), time.perf_counter()
                    run = await runs.submit(f"s{r}.{i}", {"count": 0}, durability="sync")
                    assert await run.join() == {"count": 10}
                    sw, sc = time.perf_counter() - t, time.process_time() - c
                    if i >= 0:
                        for key, value in (("dw", dw), ("dc", dc), ("sw", sw), ("sc", sc)):
                            times[key].append(value)
                out.append({k: median(v) * 1000 for k, v in times.items()})
        return out


class Fleet:
    """``lograph worker`` processes on one schema, serving ``tests/runs_graph.py`` (0.01 s
    per node), with the side-effect file and the die mark of that module in ``tmp``."""

    def __init__(self, dsn: str, schema: str, tmp: Path, *, lease: float, poll: float) -> None:
        self.dsn, self.schema, self.tmp, self.lease, self.poll = dsn, schema, tmp, lease, poll
        self.effects, self.mark = tmp / "effects", tmp / "died"
        self.mark.touch()  # disarmed: removing it arms it, the first worker to reach c dies
        self.env = {**os.environ, "RUNS_EFFECTS": str(self.effects), "RUNS_DIE_IN": "c",
                    "RUNS_DIE_MARK": str(self.mark), "RUNS_NODE_SECONDS": "0.01"}
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    @property
    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p, _ in self.procs if p.poll() is None]

    async def grow(self, n: int) -> None:
        """Start workers until ``n`` are alive; return once all of them serve (start-up
        is not what the figures measure)."""
        assert len(self.alive) <= n, "the fleet only grows"
        while len(self.alive) < n:
            self._spawn()
        with anyio.fail_after(120):
            for proc, out in self.procs:
                path = anyio.Path(out)
                while proc.poll() is None and b"serving" not in await path.read_bytes():  # noqa: ASYNC110 - a process's output has no event to wait on
                    await anyio.sleep(0.02)

    def _spawn(self) -> None:
        out = self.tmp / f"w{len(self.procs)}.out"
        with open(out, "wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lograph.adapters.cli", "worker", self.dsn,
                 "--schema", self.schema, "--graph", "tests.runs_graph:graph",
                 "--poll", str(self.poll), "--lease", str(self.lease)],
                cwd=ROOT, env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        self.procs.append((proc, out))

    def stop(self) -> None:
        for p in self.alive:
            p.terminate()
        for p, _ in self.procs:
            p.wait()


async def takeover(fleet: Fleet, runs: Runs, repeats: int) -> list[float]:
    """Seconds from a worker's SIGKILL to another worker's first step of that run, per repeat.

    Two workers serve; a run is submitted; the worker that reaches its third node writes
    the node's start to the side-effect file and SIGKILLs itself there; the other claims
    the run once the lease has expired and starts that node again (the first two nodes'
    writes are in the log). The dead worker is replaced before the next repeat."""
    took: list[float] = []
    effects = anyio.Path(fleet.effects)
    for i in range(repeats):
        await fleet.grow(2)
        before = fleet.alive
        await anyio.Path(fleet.mark).unlink()
        run = await runs.submit(f"k{i}", {"log": ["in"]}, durability="sync")
        with anyio.fail_after(fleet.lease * 3 + 60):
            assert await run.join(poll=0.01) == {"log": ["in", *NAMES]}
        starts = [(float(t), pid) for t, what, name, thread, _, pid in
                  (line.split() for line in (await effects.read_text()).splitlines())
                  if (what, name, thread) == ("start", "c", f"k{i}")]
        dead = [p for p in before if p.poll() is not None]
        assert len(starts) == 2 and starts[0][1] != starts[1][1] and len(dead) == 1, (
            starts, [p.returncode for p in before])
        took.append(starts[1][0] - starts[0][0])
    return took


async def throughput(fleet: Fleet, runs: Runs, workers: int, n: int) -> float:
    """Runs per second with ``workers`` serving processes: ``n`` runs (one per thread),
    timed from the first submission to the last run's end."""
    await fleet.grow(workers)
    assert len(fleet.alive) == workers
    start = time.perf_counter()
    handles = [await runs.submit(f"w{workers}-{i}", {"log": ["in"]}, durability="sync")
               for i in range(n)]
    for h in handles:
        await h.join(poll=0.01)
    return n / (time.perf_counter() - start)


async def service(dsn: str, *, repeats: int, lease: float, n: int,
                  poll: float = TAKEOVER_POLL) -> tuple[list[float], dict[int, float]]:
    """Runs per second with 2 workers, the takeover repeats (each kills one, the next
    replaces it), then runs per second with the last repeat's survivor; on a fresh schema.
    The order shares the processes: the quick cell starts two."""
    schema = f"b_{uuid.uuid4().hex[:8]}"
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        await saver.setup()
        runs = Runs(saver)
        with tempfile.TemporaryDirectory() as tmp:
            fleet = Fleet(dsn, schema, Path(tmp), lease=lease, poll=poll)
            try:
                two = await throughput(fleet, runs, 2, n)
                took = await takeover(fleet, runs, repeats)
                rates = {1: await throughput(fleet, runs, 1, n), 2: two}
            finally:
                fleet.stop()
    return took, rates


class _Service:
    """The suite's ``runs`` cell (PostgreSQL, lograph only): one round (see ``service``)."""

    rounds = 1

    def __init__(self, dsn: str, ctx: Ctx) -> None:
        self.dsn, self.sizes = dsn, ctx.sizes
        self.metrics: dict[str, Any] = {}

    async def round(self, r: int) -> None:
        lease = self.sizes.takeover_lease
        took, rates = await service(self.dsn, repeats=self.sizes.takeover_repeats, lease=lease,
                                    n=self.sizes.service_runs)
        self.metrics.update(
            takeover_s=took, takeover_median_s=median(took), takeover_max_s=max(took),
            lease_s=lease, poll_s=TAKEOVER_POLL, throughput_runs=self.sizes.service_runs,
            **{f"runs_per_s_{k}": rate for k, rate in rates.items()})

    async def finish(self) -> dict[str, Any]:
        return self.metrics


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[_Service]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    if place.dsn is None:
        raise ValueError(f"the runs workload needs PostgreSQL, not {ctx.store}")
    yield _Service(place.dsn, ctx)


async def main(args: argparse.Namespace) -> None:
    dsn = args.dsn
    server = None
    if dsn is None:
        from lograph.adapters.pgserver import TempPostgres

        server = TempPostgres(fsync=not args.no_fsync).start()
        dsn = server.dsn
    try:
        rounds = await overhead(dsn, args.runs, args.rounds)
        for key, what in (("w", "wall"), ("c", "CPU of this process")):
            direct = median(r["d" + key] for r in rounds)
            extra = sorted(r["s" + key] - r["d" + key] for r in rounds)
            print(f"| 10-node sync chain, PostgreSQL | submit + join (1 in-process worker) against "
                  f"direct ainvoke, {what} | +{median(extra):.2f} ms per run (rounds: "
                  f"{', '.join(f'{x:+.2f}' for x in extra)}; direct {direct:.2f} ms) |")
        took, rates = await service(dsn, repeats=args.takeovers, lease=args.lease, n=args.runs)
        for k, rate in rates.items():
            print(f"| 4-node sync chain, 0.01 s per node | runs/s with {k} worker process(es) | "
                  f"{rate:.1f} |")
        if took:  # (``--takeovers 0``: none measured)
            print(f"| 4-node sync chain, lease {args.lease:g} s, poll {TAKEOVER_POLL:g} s | SIGKILL "
                  f"to another worker's first step (median / max of {len(took)}) | "
                  f"{median(took):.2f} s / {max(took):.2f} s (target <= {args.lease + 1:g} s) |")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--takeovers", type=int, default=5, help="takeover repeats")
    parser.add_argument("--lease", type=float, default=2.0, help="the takeover's lease, seconds")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of the overhead row (each --runs pairs)")
    parser.add_argument("--dsn")
    parser.add_argument("--no-fsync", action="store_true",
                        help="the throwaway server without fsync (CPU and round trips only)")
    anyio.run(main, parser.parse_args())
