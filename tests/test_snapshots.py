"""Snapshots: a cache of the fold, kept all along a thread as a chain of deltas.

Every answer read through snapshots must equal the fold of the log from its first event;
the chain must cost about one copy of the state, and forks must get their own chain.
Runs on every store, on asyncio and trio.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import ancestry, fold
from lograph.eventlog._fold import _SNAPSHOT_FIELDS
from lograph.eventlog.lowlevel import dump_snapshot, snapshot_base
from lograph.runtime import START, Checkpointer, StateGraph
from lograph.runtime._actor import MAX_CHAIN
from tests._stores import open_saver

pytestmark = pytest.mark.anyio

EVERY = 5


class Chat(TypedDict):
    messages: Annotated[list, operator.add]
    turns: int


def chat() -> StateGraph:
    async def reply(state: Chat) -> dict[str, Any]:
        n = state.get("turns", 0) + 1
        return {"messages": [{"role": "ai", "text": f"reply {n} " + "x" * 100}], "turns": n}

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    return b


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"thread_id": thread}
    if checkpoint_id:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


async def scratch_values(log: Any, thread: str, tip: int) -> dict[str, Any]:
    """The values at event ``tip``, folded from the thread's first event: no snapshot."""
    chain = ancestry(await log.read(thread, upto=tip), tip)
    assert chain is not None
    return fold(None, chain).values


async def test_snapshot_chain_answers_like_the_fold_and_costs_one_copy(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as opened:
        log = opened.log
        graph = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        for turn in range(40):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"turn {turn}"}]}, cfg("t"))

        seqs = await log.snapshots("t")
        assert len(seqs) >= MAX_CHAIN + 2  # enough to need a second full snapshot
        bases = []
        sizes = []
        for seq in seqs:
            found = await log.latest_snapshot("t", seq)
            assert found is not None and found[0] == seq
            bases.append(snapshot_base(found[1])[0])
            sizes.append(len(found[1]))
        assert bases[0] == 0  # the first is full, later ones are deltas of the one before
        assert all(b in (0, prev) for b, prev in zip(bases[1:], seqs, strict=False))
        assert bases.count(0) >= 2  # a chain never grows past MAX_CHAIN
        # all snapshots together: about one copy of the state per chain plus a small
        # constant per snapshot (its header: hashes, metadata), not a copy per snapshot
        head = fold(None, ancestry(await log.read("t"), seqs[-1]) or [])
        full = len(dump_snapshot(head))
        assert sum(sizes) < 2 * full + 400 * len(seqs), (sum(sizes), full, len(seqs))

        # a new checkpointer on the same log (cold actors) reads every checkpoint right
        cold = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        history = [s async for s in cold.aget_state_history(cfg("t"))]
        for snap in history[::7]:
            from lograph.eventlog import parse_checkpoint_id

            seq = parse_checkpoint_id(snap.config["configurable"]["checkpoint_id"])[0]
            state = await cold.aget_state(snap.config)
            assert state.values == {"messages": [], **await scratch_values(log, "t", seq)}
        head_state = await cold.aget_state(cfg("t"))
        assert head_state.values["turns"] == 40
        assert len(head_state.values["messages"]) == 80


async def test_a_fork_gets_its_own_snapshot_chain(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as opened:
        log = opened.log
        saver = Checkpointer(log, snapshot_every=EVERY)
        graph = chat().compile(checkpointer=saver)
        for turn in range(20):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"turn {turn}"}]}, cfg("f"))
        history = [s async for s in graph.aget_state_history(cfg("f"))]
        old = history[len(history) // 2]  # somewhere in the middle
        await graph.ainvoke({"messages": [{"role": "user", "text": "other way"}]}, old.config)
        for turn in range(12):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"fork {turn}"}]}, cfg("f"))
        head = await log.head("f")
        expected = await scratch_values(log, "f", head)
        cold = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        assert (await cold.aget_state(cfg("f"))).values == expected
        assert (await graph.aget_state(cfg("f"))).values == expected
        # the original branch still reads as it was
        again = await cold.aget_state(old.config)
        assert again.values == old.values
        # every snapshot's chain stays on its own branch: each base is an ancestor
        events = await log.read("f")
        for seq in await log.snapshots("f"):
            found = await log.latest_snapshot("f", seq)
            assert found is not None
            base = snapshot_base(found[1])[0]
            if base:
                assert ancestry(events[:seq], seq, base) is not None


async def test_snapshots_come_every_n_events_of_their_own_branch(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """Seqs count every branch's events: the cadence counts the branch's own, so a fork
    (its head seq far above its snapshot's) does not snapshot at once."""
    every = 50
    async with open_saver(store_kind, tmp_path) as opened:
        log = opened.log
        graph = chat().compile(checkpointer=Checkpointer(log, snapshot_every=every))
        for turn in range(30):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"turn {turn}"}]}, cfg("s"))
        history = [s async for s in graph.aget_state_history(cfg("s"))]
        for target in (history[len(history) // 2], history[len(history) // 3]):
            await graph.ainvoke({"messages": [{"role": "user", "text": "fork"}]}, target.config)
            for turn in range(3):
                await graph.ainvoke({"messages": [{"role": "user", "text": f"more {turn}"}]}, cfg("s"))
        lengths = {}
        for seq in await log.snapshots("s"):
            found = await log.latest_snapshot("s", seq)
            assert found is not None
            base, decoded = snapshot_base(found[1])
            length = decoded[1][_SNAPSHOT_FIELDS.index("length")]
            lengths[seq] = length
            if base:
                assert length - lengths[base] >= every, (seq, base, length, lengths[base])
            else:
                assert length >= every


async def test_a_forks_head_loads_from_the_nearest_snapshot_on_its_branch(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """The main line's newest snapshots are not on a fork's branch: a cold read of the
    fork's head must walk down to a snapshot that is (not fold from the first event)."""
    async with open_saver(store_kind, tmp_path) as opened:
        log = opened.log
        graph = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        for turn in range(20):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"turn {turn}"}]}, cfg("b"))
        history = [s async for s in graph.aget_state_history(cfg("b"))]
        old = history[len(history) // 2]
        rarely = chat().compile(checkpointer=Checkpointer(log, snapshot_every=10**6))
        await rarely.ainvoke({"messages": [{"role": "user", "text": "other way"}]}, old.config)
        head = await log.head("b")
        fork_point = int(old.config["configurable"]["checkpoint_id"].replace("-", "")[:16], 16)
        on_branch = [s for s in await log.snapshots("b") if s <= fork_point]
        assert on_branch and max(await log.snapshots("b")) > fork_point  # the case at hand

        cold = Checkpointer(log, snapshot_every=EVERY)
        cp, base = await cold.actor("b").load_branch(head)
        assert base is not None and base.seq == max(on_branch)
        assert cp.values == await scratch_values(log, "b", head)
        # ... and so does time travel to a point below the main line's snapshots
        cp, base = await cold.actor("b").load_branch(fork_point)
        assert base is not None and base.seq == max(on_branch)
        assert cp.values == old.values


def test_a_checkpoint_copy_has_every_field_and_shares_no_container() -> None:
    import dataclasses

    from lograph.eventlog import Checkpoint

    filled: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(Checkpoint)):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        filled[f.name] = (
            {"k": [i]} if isinstance(default, dict) else [i] if isinstance(default, list)
            else bytes([i]) * 32 if isinstance(default, bytes) else f"v{i}" if isinstance(default, str)
            else default + i + 1
        )
    filled["children"] = {"sub:1": Checkpoint(head=7, values={"x": [1]})}
    cp = Checkpoint(**filled)
    copied = cp.copy()
    assert copied == cp
    for f in dataclasses.fields(Checkpoint):
        value = getattr(cp, f.name)
        if isinstance(value, dict | list):
            assert getattr(copied, f.name) is not value, f.name
    assert copied.children["sub:1"] is not cp.children["sub:1"]


async def test_a_run_is_snapshotted_at_the_state_it_ended_with(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """The snapshot of a finished run is at its last checkpoint (the run.finished after
    it only closes the run), so going back to where a turn ended folds nothing."""
    from lograph.eventlog import Kind

    async with open_saver(store_kind, tmp_path) as opened:
        log = opened.log
        graph = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        for turn in range(6):
            await graph.ainvoke({"messages": [{"role": "user", "text": f"turn {turn}"}]}, cfg("e"))
        events = {e.seq: e for e in await log.read("e")}
        snaps = await log.snapshots("e")
        assert snaps
        for seq in snaps:
            assert events[seq].kind == Kind.CHECKPOINT and events[seq + 1].kind == Kind.RUN_FINISHED
        history = [s async for s in graph.aget_state_history(cfg("e"))]
        ended = next(s for s in history
                     if int(s.config["configurable"]["checkpoint_id"].replace("-", "")[:16], 16) == snaps[-1])
        cp, base = await Checkpointer(log, snapshot_every=EVERY).actor("e").load_branch(snaps[-1])
        assert base is not None and base.seq == snaps[-1]
        assert cp.values == ended.values == await scratch_values(log, "e", snaps[-1])
        # the head (one event on) still reads as the fold of the whole log
        head = await log.head("e")
        cold = chat().compile(checkpointer=Checkpointer(log, snapshot_every=EVERY))
        assert (await cold.aget_state(cfg("e"))).values == await scratch_values(log, "e", head)
