"""Real crashes: a worker process (tests/crash_worker.py) SIGKILLs itself at a precise
point of a run on a SQLite file or a PostgreSQL database; a new process resumes the
thread with ``invoke(None, config)``.

For every durability mode and kill point (between nodes; inside a node after some of
its @task calls returned; in a parallel step after one sibling finished):
- the resumed output equals an uncrashed run's, and the log's hash chain verifies;
- nothing recorded before the kill runs again; anything else runs exactly once more;
- ``sync``: everything finished before the kill was recorded, so every node and task
  ran exactly once, except the body that was running when the process died;
- ``exit``: the killed run left nothing: the thread is as before it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.adapters.memory import MemorySaver
from lograph.eventlog import Event, Kind
from tests.crash_worker import INPUTS, KILLED, NAMES, Worker
from tests.faults import finished, recorded_results, verify_chain

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = WORKER.parent.parent

# what a sync-mode run must have recorded when the process dies at the scenario's point
SYNC_RECORDED = {
    "between": {"a", "b"},
    "in_node": {"prep", "t1", "t2"},
    "parallel": {"a", "b"},
}


def counts(path: Path) -> tuple[Counter[str], Counter[str]]:
    started: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            what, name = line.split()
            (started if what == "start" else ended)[name] += 1
    return started, ended


def reference(scenario: str, tmp_path: Path) -> Any:
    """The scenario's output without a crash (in this process, on the memory store)."""
    worker = Worker(str(tmp_path / "reference.effects"), armed=False, mode="sync")
    graph = worker.build(scenario, MemorySaver())
    out = graph.invoke(INPUTS[scenario], {"configurable": {"thread_id": "ref"}})
    return json.loads(json.dumps(out))


class Store:
    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.schema = f"k_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            self.target = str(tmp_path / "crash.db")
        else:
            from tests._store_postgres import server

            self.target = server().dsn

    def read(self, thread: str) -> list[Event]:
        async def go() -> list[Event]:
            if self.kind == "sqlite":
                from lograph.adapters.sqlite import SqliteLog

                log: Any = await SqliteLog.open(self.target)
            else:
                from lograph.adapters.postgres import PostgresLog

                log = await PostgresLog.open(self.target, schema=self.schema, max_size=1)
            async with log:
                events: list[Event] = await log.read(thread)
                return events

        return anyio.run(go)

    def worker(
        self, action: str, mode: str, scenario: str, effects: Path
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            str(WORKER),
            "--store",
            self.kind,
            "--target",
            self.target,
            "--schema",
            self.schema,
            "--mode",
            mode,
            "--scenario",
            scenario,
            "--thread",
            "t",
            "--effects",
            str(effects),
            "--action",
            action,
        ]
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("scenario", ["between", "in_node", "parallel"])
@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_sigkill_then_resume(tmp_path: Path, store: str, mode: str, scenario: str) -> None:
    db = Store(store, tmp_path)
    effects = tmp_path / "effects"
    expected = reference(scenario, tmp_path)

    killed = db.worker("run", mode, scenario, effects)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    started, ended = counts(effects)
    victim = KILLED[scenario]
    assert started[victim] == 1 and ended[victim] == 0, "not killed at the scenario's point"

    events = db.read("t")
    verify_chain(events)
    durable = recorded_results(events)
    assert "done" not in finished(events)
    if mode == "sync":
        assert durable >= SYNC_RECORDED[scenario], sorted(durable)
    if mode == "exit":
        assert events == [], [e.kind for e in events]  # the thread is as before the run
    assert victim not in durable

    resumed = db.worker("resume", mode, scenario, effects)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == expected

    started_after, ended_after = counts(effects)
    for name in NAMES[scenario]:
        again = ended_after[name] - ended[name]
        assert again == (0 if name in durable else 1), (
            f"{name!r} finished {again} more time(s) after the restart; recorded: {sorted(durable)}"
        )
    if mode == "sync":  # every node and task ran exactly once, but the one killed
        assert all(ended_after[n] == 1 for n in NAMES[scenario]), ended_after
        assert all(started_after[n] == (2 if n == victim else 1) for n in NAMES[scenario]), (
            started_after
        )

    final = db.read("t")
    verify_chain(final)
    assert finished(final)[-1] == "done"
    assert final[: len(events)] == events  # the resume only appended
    assert any(e.kind == Kind.RUN_STARTED for e in final[len(events) :])
