"""A prebuilt tool-calling agent killed with SIGKILL in ``sync`` mode resumes without
running a finished tool again (tests/agent_crash_worker.py is the process killed).

The model asks for two tool calls at once; each is a task of its own (a ``Send``), so
the call that finished is recorded as it finishes; the process dies inside the other.
A new process resumes the thread: only the killed call runs again, and the agent ends
as an uncrashed run would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lograph.eventlog import Kind
from tests.faults import finished, verify_chain
from tests.test_crash_sigkill import Store

WORKER = Path(__file__).with_name("agent_crash_worker.py")


def effects_of(path: Path) -> Counter[str]:
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


def worker(db: Store, action: str, effects: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(WORKER), "--store", db.kind, "--target", db.target, "--schema",
            db.schema, "--effects", str(effects), "--action", action]
    return subprocess.run(argv, cwd=WORKER.parent.parent, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_killed_agent_does_not_run_a_finished_tool_again(tmp_path: Path, store: str) -> None:
    db = Store(store, tmp_path)
    effects = tmp_path / "effects"

    killed = worker(db, "run", effects)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    assert effects_of(effects) == Counter({"start a": 1, "end a": 1, "start b": 1})
    events = db.read("t")
    verify_chain(events)
    assert "done" not in finished(events)

    resumed = worker(db, "resume", effects)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == [
        ["HumanMessage", "do a and b"], ["AIMessage", ""], ["ToolMessage", "a done"],
        ["ToolMessage", "b done"], ["AIMessage", "done"]]
    assert effects_of(effects) == Counter({"start a": 1, "end a": 1, "start b": 2, "end b": 1})
    final = db.read("t")
    verify_chain(final)
    assert final[: len(events)] == events and finished(final)[-1] == "done"
    assert any(e.kind == Kind.RUN_STARTED for e in final[len(events):])
