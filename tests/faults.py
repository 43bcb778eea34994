"""Fault injection and log inspection for the durability tests.

The wrapper itself ships with lograph: ``lograph.eventlog.testing.FaultyLog`` (crash
before or after the N-th commit) with ``Crash``, ``is_crash``, ``BEFORE`` and ``AFTER``;
they are re-exported here. What stays is the inspection shared by the durability and
SIGKILL tests.
"""

from __future__ import annotations

from typing import Any

from lograph.eventlog import Event, Kind, Seal, decode, verify_link
from lograph.eventlog.testing import AFTER, BEFORE, Crash, FaultyLog, is_crash
from lograph.runtime import START

__all__ = [
    "AFTER",
    "BEFORE",
    "Crash",
    "FaultyLog",
    "bodies",
    "finished",
    "is_crash",
    "recorded_results",
    "verify_chain",
]


# --- log inspection (shared by the durability and SIGKILL tests) ---------------------


def verify_chain(events: list[Event], thread: str | None = None) -> None:
    """Every event is sealed after its parent's hash; seqs dense. The first event opens a
    chain bound to its thread id (``Seal``): checked when ``thread`` is given."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    hashes: dict[int, bytes] = {}
    for e in events:
        if not e.parent:
            assert e.seq == 1 or e.parent in hashes, f"event {e.seq} points at a missing parent"
            if thread is not None:
                assert Seal().version(e, thread) in (1, 3), f"event {e.seq} opens no chain of {thread!r}"
            hashes[e.seq] = e.hash
            continue
        assert e.parent in hashes, f"event {e.seq} points at a missing parent {e.parent}"
        assert verify_link(e, hashes[e.parent]), f"hash chain broken at event {e.seq} ({e.kind})"
        hashes[e.seq] = e.hash


def bodies(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [decode(e.body) for e in events if e.kind == kind]


def recorded_results(events: list[Event]) -> set[str]:
    """Names of the nodes and tasks whose result is in ``events`` (START excluded)."""
    names = {b["name"] for b in bodies(events, Kind.NODE_WRITES)}
    names |= {b["name"] for b in bodies(events, Kind.TASK_RESULT) if b["ok"]}
    return names - {START}


def finished(events: list[Event]) -> list[str]:
    return [b["status"] for b in bodies(events, Kind.RUN_FINISHED)]
