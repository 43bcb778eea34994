"""Failures found by attacking lograph (issue 20), one test each, most severe first.

Each test failed on the code before its fix. Store-touching ones run on memory, a real
SQLite file and a real PostgreSQL server, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import EventLog, Kind, StoreUnavailableError
from lograph.eventlog.testing import FaultyLog
from lograph.runtime import END, START, Checkpointer, StateGraph
from tests._stores import open_saver
from tests.faults import bodies, finished

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    log: Annotated[list, operator.add]


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


def two_nodes() -> StateGraph:
    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("b", lambda s: {"log": ["b"]})
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", END)
    return b


# --- 1. a snapshot that cannot be stored after the run committed -----------------------------


class FullDisk(FaultyLog):
    """Every snapshot write fails as a full disk does; appends go through."""

    def __init__(self, inner: EventLog) -> None:
        super().__init__(inner)
        self.full = True
        self.refused: list[int] = []

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        if self.full:
            self.refused.append(seq)
            raise StoreUnavailableError("put_snapshot: the disk is full; free space and retry")
        await super().put_snapshot(thread, seq, data)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_a_failed_snapshot_after_the_commit_does_not_fail_the_call(
    anyio_backend: str, store_kind: str, tmp_path: Path, durability: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        disk = FullDisk(saver.log)
        graph = two_nodes().compile(checkpointer=Checkpointer(disk, snapshot_every=1))
        # the run committed: the call returns its result, as if no snapshot were kept
        out = await graph.ainvoke({"log": ["in"]}, cfg("t"), durability=durability)
        assert out == {"log": ["in", "a", "b"]}
        assert disk.refused, "the test's premise: a snapshot was attempted"
        assert "was not stored" in caplog.text
        await graph.aupdate_state(cfg("t"), {"log": ["u"]}, as_node="b")  # nor does an update
        events = await saver.log.read("t")
        assert finished(events) == ["done"]
        assert [b["resume"] for b in bodies(events, Kind.RUN_STARTED)] == [False]
        assert await saver.log.snapshots("t") == []
        # once the disk has room, the next turn that writes stores a snapshot
        disk.full = False
        out = await graph.ainvoke({"log": ["again"]}, cfg("t"), durability=durability)
        assert out["log"] == ["in", "a", "b", "u", "again", "a", "b"]
        assert await saver.log.snapshots("t")
        fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log))
        assert (await fresh.aget_state(cfg("t"))).values == out
