"""Workers in real processes (``lograph worker``, serving tests/runs_graph.py) on a SQLite
file and a PostgreSQL server, killed with SIGKILL.

- A worker dies inside a node; a worker started afterwards recovers the run once the
  dead one's lease expires, resumes it from the log and finishes it: in ``sync`` mode
  the nodes recorded before the kill never run again (only the node that was running),
  every run ends exactly once with the result of an uncrashed run, and the takeover
  happens within the lease plus a poll (plus start-up and scheduling slack).
- Chaos: four worker processes on one store, runs on four threads, workers SIGKILLed at
  random and restarted, and on PostgreSQL the server itself restarted once (a server of
  the test's own, so the session's server stays up for the other tests). Small in CI;
  full size with ``LOGRAPH_CHAOS_RUNS=200`` (``LOGRAPH_CHAOS_SEED`` picks the victims
  and the moments; ``pytest -s`` prints the figures). Checked: no run lost, each ends
  once with the uncrashed result, every node's writes recorded once, no node started
  after its writes were recorded (``sync``), each takeover within the lease plus a
  poll (plus slack).
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pytest

from lograph.eventlog import Kind
from lograph.eventlog.bodies import decode_body
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

    def __init__(self, store: list[str], tmp_path: Path, *, args: tuple[str, ...] = (),
                 **env: str) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.args = args
        self.env = {**os.environ, "RUNS_EFFECTS": str(tmp_path / "effects"),
                    "RUNS_DIE_MARK": str(tmp_path / "died"), **env}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, lease: float = LEASE, poll: float = POLL) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        with open(self.out(n), "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lograph.adapters.cli", "worker", *self.store,
                 "--graph", "tests.runs_graph:graph", "--lease", str(lease), "--poll", str(poll),
                 "--name", f"w{n}", *self.args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def out(self, n: int) -> Path:
        return self.tmp_path / f"w{n}.out"

    def name(self, proc: subprocess.Popen[bytes]) -> str:
        return f"w{self.procs.index(proc)}"

    def serving(self, proc: subprocess.Popen[bytes]) -> bool:
        out = self.out(self.procs.index(proc))
        return out.exists() and b"serving" in out.read_bytes()

    def stop_all(self) -> list[int]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        return [p.wait(timeout=30) for p in self.procs]

    def output(self) -> str:
        return "\n".join((self.tmp_path / f"w{i}.out").read_text() for i in range(len(self.procs)))


class Effect(NamedTuple):
    """A line of the side-effect file (see tests/runs_graph.py)."""

    t: float
    what: str  # start | end
    name: str  # the node
    thread: str
    run: str  # the durable run's id
    pid: int


def effects(path: Path) -> list[Effect]:
    if not path.exists():
        return []
    return [Effect(float(t), what, name, thread, run, int(pid)) for t, what, name, thread, run, pid
            in (line.split() for line in path.read_text().splitlines())]


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
        per = Counter((e.what, e.name, e.thread) for e in seen)
        for r in records:
            for name in NAMES:
                started = per["start", name, r.thread]
                # the node running at the kill starts again; every other node runs once
                assert started == (2 if (r is taken and name == "c") else 1), (r.thread, name, seen)
                assert per["end", name, r.thread] == 1
        # the takeover: once the new worker serves, the second start of c comes within the
        # lease (counted from the death) and a poll, plus replaying a and b from the log
        restart = max(e.t for e in seen if (e.what, e.name, e.thread) == ("start", "c", taken.thread))
        assert restart - max(ready_at, killed_at + LEASE) < POLL + 2.0
        # lograph runs: the queue as an operator sees it
        listed = (await anyio.run_process(
            [sys.executable, "-m", "lograph.adapters.cli", "runs", *workers.store, "--json"],
            cwd=ROOT)).stdout.decode().splitlines()
        assert json.loads(listed[0]) == {"counts": {"success": 3}, "queue_depth": 0}
        rows = [json.loads(line) for line in listed[1:]]
        assert [(r["run_id"], r["attempts"]) for r in rows] == [
            (r.run_id, r.attempts) for r in reversed(records)]


# -- chaos -----------------------------------------------------------------------------------

CHAOS_WORKERS = 4
CHAOS_THREADS = 4
# Two runs at once per worker: the test kills a worker only while at least two others
# serve, whose four slots or more hold at most four running runs (one per thread) less
# the victim's, so a dead worker's runs find a free slot at the next poll.
CHAOS_CONCURRENCY = 2
# What a takeover's time counts beyond the lease and the poll: the claim, the resume's read
# of the thread (hundreds of events at full size) and its first append: 0.1-0.4 s seen
# with about ten processes on the 2 cores.
SLACK = 1.0


@asynccontextmanager
async def _chaos_store(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Any, list[str], Any]]:
    """(saver, the workers' STORE arguments, the PostgreSQL server to restart or None)."""
    if kind == "sqlite":
        async with open_saver("sqlite", tmp_path) as saver:
            yield saver, [str(tmp_path / "saver.db")], None
        return
    from lograph.adapters.postgres import AsyncPostgresSaver
    from tests._store_postgres import start_server

    own = await anyio.to_thread.run_sync(lambda: start_server(fsync=False, max_connections=100))
    try:
        async with AsyncPostgresSaver.from_conn_string(own.dsn, schema="chaos", max_size=4) as saver:
            await saver.setup()
            yield saver, [own.dsn, "--schema", "chaos"], own
    finally:
        await anyio.to_thread.run_sync(own.stop)


class Takeover(NamedTuple):
    run: str
    cause: str  # "kill" or "restart" (of the server)
    seconds: float  # from the kill (or the server's return) to the new attempt's start
    bound: float
    past_lease: float  # from the lease's expiry (as last read before the cause) to that start


class _Log(NamedTuple):
    started: dict[str, list[float]]  # durable run id -> its attempts' run.started times
    writes: Counter[tuple[str, str]]  # (run, node) -> node.writes events recorded
    written_at: dict[tuple[str, str], float]  # (run, node) -> when its writes were made


async def _read_log(saver: Any, threads: set[str]) -> _Log:
    started: dict[str, list[float]] = {}
    writes: Counter[tuple[str, str]] = Counter()
    written_at: dict[tuple[str, str], float] = {}
    for thread in threads:
        attempt_of: dict[str, str] = {}  # the engine's run id (one per attempt) -> durable run
        for e in await saver.log.read(thread):
            if e.kind == Kind.RUN_STARTED:
                run = decode_body(e.kind, e.body).metadata["run_id"]  # type: ignore[attr-defined]
                attempt_of[e.run_id] = run
                started.setdefault(run, []).append(e.ts)
            elif e.kind == Kind.NODE_WRITES:
                key = (attempt_of[e.run_id], decode_body(e.kind, e.body).name)  # type: ignore[attr-defined]
                writes[key] += 1
                written_at[key] = e.ts
    return _Log(started, writes, written_at)


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_chaos_workers_killed_at_random(store_kind: str, tmp_path: Path) -> None:
    total = int(os.environ.get("LOGRAPH_CHAOS_RUNS", "16"))
    rng = random.Random(os.environ.get("LOGRAPH_CHAOS_SEED", "21"))
    want_kills = max(2, total // 16)  # (a kill waits for the workers to serve again)
    began = time.time()
    async with _chaos_store(store_kind, tmp_path) as (saver, store, server):
        runs = Runs(saver)
        handles = [await runs.submit(f"t{i % CHAOS_THREADS}", {"log": [f"in{i}"]},
                                     durability="sync") for i in range(total)]
        workers = Workers(store, tmp_path, args=("--concurrency", str(CHAOS_CONCURRENCY)),
                          RUNS_NODE_SECONDS="0.2")
        alive = [workers.start() for _ in range(CHAOS_WORKERS)]
        # each kill: when, the victim, and the runs it held (attempts, lease expiry) then
        kills: list[tuple[float, str, dict[str, tuple[int, float]]]] = []
        # the server's restart: when it began, when it was back, what ran then
        restart: tuple[float, float, dict[str, tuple[int, float]]] | None = None
        try:
            with anyio.fail_after(120 + total * 2):
                while True:
                    counts = await runs.counts()
                    ended = total - counts.get("pending", 0) - counts.get("running", 0)
                    if ended == total:
                        break
                    await anyio.sleep(rng.uniform(0.1, 0.4))
                    running = await runs.list(status="running", limit=total)
                    held: dict[str, dict[str, tuple[int, float]]] = {}
                    for r in running:
                        assert r.lease_expires is not None
                        held.setdefault(r.worker or "", {})[r.run_id] = (r.attempts, r.lease_expires)
                    # kills and the restart are timed apart: neither comes while the other's
                    # takeovers may still be waiting (the restart delays claims by the
                    # workers' retry backoff); once the restart is due, kills wait for it
                    due = server is not None and restart is None and (
                        len(kills) >= 2 or ended >= total // 3)
                    since_kill = time.time() - (kills[-1][0] if kills else 0.0)
                    if due and since_kill > LEASE + POLL + SLACK:
                        down = time.time()
                        await anyio.to_thread.run_sync(server.restart)
                        restart = (down, time.time(), {k: v for h in held.values() for k, v in h.items()})
                        continue
                    if (len(kills) == want_kills or sum(map(workers.serving, alive)) < 3 or due
                            or (restart and time.time() - restart[1] < LEASE + POLL + 1.0 + SLACK)):
                        continue
                    victims = [p for p in alive if workers.name(p) in held]
                    if not victims:
                        continue
                    victim = rng.choice(victims)
                    killed_at = time.time()
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills.append((killed_at, workers.name(victim), held[workers.name(victim)]))
                    alive.remove(victim)
                    alive.append(workers.start())
        finally:
            codes = workers.stop_all()
        wall = time.time() - began
        assert codes.count(-signal.SIGKILL) == len(kills), (codes, workers.output())
        assert len(kills) >= 2
        assert (restart is not None) == (server is not None)

        # no run lost, each ended once, with the result of an uncrashed run
        records = {h.run_id: await h.refresh() for h in handles}
        assert await runs.counts() == {"success": total}, workers.output()
        expected: dict[str, list[str]] = {}
        for i, h in enumerate(handles):  # a thread's runs run in the order they were submitted
            expected.setdefault(h.thread_id, []).extend([f"in{i}", *NAMES])
            assert (await h.join())["log"] == expected[h.thread_id], h.thread_id

        # every node's writes recorded once per run; in sync mode no node starts again
        # once its writes are recorded (only a node a takeover interrupted runs again)
        log = await _read_log(saver, set(expected))
        assert {k: n for k, n in log.writes.items() if n != 1} == {}
        assert set(log.writes) == {(run, name) for run in records for name in NAMES}
        seen = effects(tmp_path / "effects")
        starts = [e for e in seen if e.what == "start"]
        duplicates = [e for e in starts if e.t > log.written_at[e.run, e.name]]
        assert duplicates == [], duplicates
        again = sum(Counter((e.run, e.name) for e in starts).values()) - total * len(NAMES)
        taken = sum(r.attempts - 1 for r in records.values())
        assert 0 <= again <= taken

        # each takeover: within the lease (counted from the kill, or from the server's
        # return) and a poll; after a restart the workers' store calls also wait out
        # their retry backoff (at most 1 s between tries)
        takeovers: list[Takeover] = []
        causes = [(t, "kill", held, LEASE + POLL + SLACK) for t, _, held in kills]
        if restart is not None:
            causes.append((restart[1], "restart", restart[2], LEASE + POLL + 1.0 + SLACK))
        for at, cause, held, bound in causes:
            for run, (attempts, expires) in held.items():
                if records[run].attempts == attempts:
                    continue  # it ended before the kill, or kept its lease
                # the new attempt's run.started; or, when a later kill (or the restart)
                # found the run held by a newer attempt (killed before its first append),
                # that moment, for the claim came before it
                later = [t for t in log.started.get(run, []) if t > at] + [
                    t for t, _, seen, _ in causes if t > at and seen.get(run, (0, 0.0))[0] > attempts]
                resumed = min(later) if later else records[run].finished
                assert resumed is not None
                takeovers.append(Takeover(run, cause, resumed - at, bound, resumed - expires))
        assert [t for t in takeovers if t.seconds > t.bound] == [], takeovers
        # after a kill, counted from the lease's expiry (a heartbeat between the read and
        # the kill only makes the real expiry later); after the restart the lease ran out
        # while the server was down
        assert [t for t in takeovers if t.cause == "kill" and t.past_lease > POLL + SLACK] == []
        assert sum(t.cause == "kill" for t in takeovers) >= 1
        by_kill = [t for t in takeovers if t.cause == "kill"]
        after_restart = [t for t in takeovers if t.cause == "restart"]
        print(f"\nchaos on {store_kind}: {total} runs on {CHAOS_THREADS} threads, "
              f"{CHAOS_WORKERS} workers x {CHAOS_CONCURRENCY}, lease {LEASE:g} s, poll {POLL:g} s; "
              f"{len(kills)} kills, {taken} takeovers; after a kill ({len(by_kill)}): max "
              f"{max(t.seconds for t in by_kill):.2f} s from the kill, max "
              f"{max(t.past_lease for t in by_kill):.2f} s past the lease's expiry; "
              + (f"server restart ({restart[1] - restart[0]:.2f} s, {len(restart[2])} runs "
                 f"running, {len(after_restart)} taken over, max "
                 f"{max((t.seconds for t in after_restart), default=0):.2f} s after it); "
                 if restart else "")
              + f"{again} interrupted nodes re-run, {len(duplicates)} recorded nodes re-run, "
              f"wall {wall:.1f} s")
