"""Workers in real processes (``lograph worker``, serving tests/runs_graph.py) on a SQLite
file and a PostgreSQL server, killed with SIGKILL.

- A worker dies inside a node; a worker started afterwards recovers the run once the
  dead one's lease expires, resumes it from the log and finishes it: in ``sync`` mode
  the nodes recorded before the kill never run again (only the node that was running),
  every run ends exactly once with the result of an uncrashed run, and the takeover
  happens within the lease plus a poll (plus start-up and scheduling slack).
- Chaos (small in CI, full size with LOGRAPH_CHAOS_RUNS=200): two workers, runs on a
  few threads, workers SIGKILLed at random and restarted: no run lost, each ends once
  with the uncrashed result, no recorded node re-run in ``sync`` mode.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.runtime import Runs
from tests._stores import open_saver
from tests.runs_graph import NAMES

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent
DISK_STORES = ["sqlite", "postgres"]
LEASE = 1.0
POLL = 0.05


async def _store_spec(kind: str, saver: Any, tmp_path: Path) -> list[str]:
    """The STORE arguments of ``lograph worker`` for the saver the test opened."""
    if kind == "sqlite":
        return [str(tmp_path / "saver.db")]
    from tests._store_postgres import dsn

    return [await dsn(), "--schema", saver.log.schema]


class Workers:
    """``lograph worker`` processes on one store, started and killed by the test."""

    def __init__(self, store: list[str], tmp_path: Path, **env: str) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.env = {**os.environ, "RUNS_EFFECTS": str(tmp_path / "effects"),
                    "RUNS_DIE_MARK": str(tmp_path / "died"), **env}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        with open(self.tmp_path / f"w{n}.out", "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lograph.adapters.cli", "worker", *self.store,
                 "--graph", "tests.runs_graph:graph", "--lease", str(LEASE), "--poll", str(POLL),
                 "--name", f"w{n}"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> list[int]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        return [p.wait(timeout=30) for p in self.procs]

    def output(self) -> str:
        return "\n".join((self.tmp_path / f"w{i}.out").read_text() for i in range(len(self.procs)))


def effects(path: Path) -> list[tuple[float, str, str, str]]:
    if not path.exists():
        return []
    return [(float(t), what, name, thread) for t, what, name, thread in
            (line.split() for line in path.read_text().splitlines())]


async def _wait_dead(proc: subprocess.Popen[bytes], seconds: float) -> int:
    return await anyio.to_thread.run_sync(lambda: proc.wait(timeout=seconds))


async def _ready(proc: subprocess.Popen[bytes], out: Path) -> float:
    """When the worker process has started serving (its first line)."""
    path = anyio.Path(out)
    with anyio.fail_after(60):
        while b"serving" not in (await path.read_bytes() if await path.exists() else b""):
            assert proc.poll() is None, await path.read_text()
            await anyio.sleep(0.02)
    return time.time()


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_a_started_worker_recovers_a_killed_workers_run_without_rerunning_recorded_nodes(
    store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        runs = Runs(saver)
        handles = [await runs.submit(f"t{i}", {"log": ["in"]}, durability="sync") for i in range(3)]
        workers = Workers(await _store_spec(store_kind, saver, tmp_path), tmp_path, RUNS_DIE_IN="c")
        try:
            first = workers.start()
            assert await _wait_dead(first, 60) == -signal.SIGKILL, workers.output()
            killed_at = time.time()
            second = workers.start()  # starts after the death: recovers what the dead one held
            ready_at = await _ready(second, tmp_path / "w1.out")
            with anyio.fail_after(60):
                results = [await h.join() for h in handles]
        finally:
            codes = workers.stop_all()
        assert codes[1] == 0, workers.output()
        assert results == [{"log": ["in", *NAMES]}] * 3
        records = [await h.refresh() for h in handles]
        assert all(r.status == "success" for r in records)
        (taken,) = [r for r in records if r.attempts == 2]
        assert sorted(r.attempts for r in records) == [1, 1, 2]
        seen = effects(tmp_path / "effects")
        per = Counter((what, name, thread) for _, what, name, thread in seen)
        for r in records:
            for name in NAMES:
                started = per["start", name, r.thread]
                # the node running at the kill starts again; every other node runs once
                assert started == (2 if (r is taken and name == "c") else 1), (r.thread, name, seen)
                assert per["end", name, r.thread] == 1
        # the takeover: once the new worker serves, the second start of c comes within the
        # lease (counted from the death) and a poll, plus replaying a and b from the log
        restart = max(t for t, what, name, thread in seen
                      if (what, name, thread) == ("start", "c", taken.thread))
        assert restart - max(ready_at, killed_at + LEASE) < POLL + 2.0
        # lograph runs: the queue as an operator sees it
        listed = (await anyio.run_process(
            [sys.executable, "-m", "lograph.adapters.cli", "runs", *workers.store, "--json"],
            cwd=ROOT)).stdout.decode().splitlines()
        assert json.loads(listed[0]) == {"counts": {"success": 3}, "queue_depth": 0}
        rows = [json.loads(line) for line in listed[1:]]
        assert [(r["run_id"], r["attempts"]) for r in rows] == [
            (r.run_id, r.attempts) for r in reversed(records)]


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_chaos_workers_killed_at_random(store_kind: str, tmp_path: Path) -> None:
    total = int(os.environ.get("LOGRAPH_CHAOS_RUNS", "16"))
    threads = max(2, total // 4)
    rng = random.Random(os.environ.get("LOGRAPH_CHAOS_SEED", "21"))
    async with open_saver(store_kind, tmp_path) as saver:
        runs = Runs(saver)
        handles = [await runs.submit(f"t{i % threads}", {"log": [f"in{i}"]}, durability="sync")
                   for i in range(total)]
        workers = Workers(await _store_spec(store_kind, saver, tmp_path), tmp_path,
                          RUNS_NODE_SECONDS="0.05")
        alive = [workers.start(), workers.start()]
        kills = 0
        try:
            with anyio.fail_after(60 + total * 2):
                while not all([(await h.refresh()).done for h in handles]):
                    await anyio.sleep(rng.uniform(0.2, 0.6))
                    if kills < max(2, total // 8):
                        victim = alive.pop(rng.randrange(len(alive)))
                        victim.send_signal(signal.SIGKILL)
                        victim.wait()
                        kills += 1
                        alive.append(workers.start())
        finally:
            workers.stop_all()
        records = [await h.refresh() for h in handles]
        assert [r.status for r in records] == ["success"] * total, workers.output()
        assert kills >= 2
        # every run ends once with an uncrashed run's result (each thread's runs in order)
        expected: dict[str, list[str]] = {}
        for i, (h, r) in enumerate(zip(handles, records, strict=True)):
            expected.setdefault(r.thread, []).extend([f"in{i}", *NAMES])
            out = await h.join()
            assert out["log"] == expected[r.thread], (r.thread, out)
        # sync mode: a node whose writes were recorded never runs again; only a node a
        # kill interrupted (at most one per kill: a worker runs one run at a time) does
        seen = effects(tmp_path / "effects")
        starts = Counter((name, thread) for _, what, name, thread in seen if what == "start")
        ends = Counter((name, thread) for _, what, name, thread in seen if what == "end")
        runs_per_thread = Counter(r.thread for r in records)
        again = 0
        for thread, n in runs_per_thread.items():
            for name in NAMES:
                assert ends[name, thread] >= n and starts[name, thread] >= n, (thread, name)
                again += starts[name, thread] - n
        assert again <= kills, (again, kills, seen)
