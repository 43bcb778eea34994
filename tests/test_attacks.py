"""Failures found by attacking lograph (issue 20), one test each, most severe first.

Each test failed on the code before its fix. Store-touching ones run on memory, a real
SQLite file and a real PostgreSQL server, on asyncio and trio.
"""

from __future__ import annotations

import dataclasses
import operator
import os
import sqlite3
import stat
import subprocess
import sys
import tracemalloc
import types
import zlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.adapters.cli import shown
from lograph.adapters.postgres import PostgresLog
from lograph.adapters.sqlite import SqliteSaver
from lograph.eventlog import (
    GENESIS,
    Append,
    CorruptLogError,
    EncodeError,
    Event,
    EventLog,
    Kind,
    RowRefusedError,
    Seal,
    StoreUnavailableError,
    ThreadSummary,
    decode,
    encode,
    make_event,
)
from lograph.eventlog import _fold as _fold_module
from lograph.eventlog._blob import MAX_INFLATED, inflation_bound, pack, unpack
from lograph.eventlog._fold import _SNAPSHOT_FIELDS
from lograph.eventlog.testing import FaultyLog
from lograph.runtime import END, START, Checkpointer, Command, StateGraph, interrupt, verify_thread
from tests._store_postgres import dsn as pg_dsn
from tests._stores import open_log, open_saver
from tests.faults import bodies, finished
from tests.test_bad_inputs import overwrite, raw_pg
from tests.test_bad_inputs import own_server as own_server  # a fixture: a server of its own

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


# --- 2. one caller's bad row must not fail other threads' runs -------------------------------


async def everything(log: Any) -> dict[str, list[Event]]:
    return {info.thread: await log.read(info.thread) for info in await log.threads()}


BAD_KEYS = [
    ("a thread id longer than a store keys", {"thread_id": "t" + "\u00e9" * 1500}, "thread id"),
    ("a NUL in the thread id", {"thread_id": "a\x00b"}, "NUL"),
    ("a lone surrogate in the thread id", {"thread_id": "a\udc00b"}, "Unicode"),
    ("a NUL in checkpoint_ns", {"thread_id": "ok", "checkpoint_ns": "x\x00"}, "NUL"),
    ("a lone surrogate in checkpoint_ns", {"thread_id": "ok", "checkpoint_ns": "\ud800"}, "Unicode"),
]


@pytest.mark.parametrize(("row", "configurable", "says"), BAD_KEYS, ids=[r[0] for r in BAD_KEYS])
async def test_a_key_no_store_keeps_is_refused_before_anything_is_queued(
    anyio_backend: str, store_kind: str, tmp_path: Path, row: str, configurable: dict[str, Any],
    says: str,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        outcomes: dict[str, Any] = {}

        async def healthy(i: int) -> None:
            outcomes[f"h{i}"] = await graph.ainvoke({"log": [i]}, cfg(f"h{i}"), durability="sync")

        async def bad() -> None:
            try:
                await graph.ainvoke({"log": ["x"]}, {"configurable": configurable}, durability="sync")
            except Exception as e:  # noqa: BLE001 - checked below
                outcomes["bad"] = e

        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(healthy, i)
            tg.start_soon(bad)
        error = outcomes.pop("bad", None)
        assert isinstance(error, ValueError), f"{row}: {error!r}"
        assert says in str(error), str(error)
        assert outcomes == {f"h{i}": {"log": [i, "a", "b"]} for i in range(12)}
        assert sorted(await everything(saver.log)) == sorted(outcomes)  # nothing of the bad call
        # the readers refuse it as clearly
        for read in (lambda: graph.aget_state({"configurable": configurable}),
                     lambda: saver.aget_tuple({"configurable": configurable})):
            with pytest.raises(ValueError, match=says):
                await read()


class RefusingLog(FaultyLog):
    """A store whose transaction fails (as a driver's refusal does) when it holds an item
    of thread "bad": what a store limit no check foresaw does to a group commit."""

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        if any(item.thread == "bad" for item in batch):
            raise RuntimeError("the driver refused a row of thread 'bad'")
        return await self.inner.append_batch(batch)


async def test_a_batch_that_fails_on_one_item_commits_the_others(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=Checkpointer(RefusingLog(saver.log)))
        outcomes: dict[str, Any] = {}

        async def run(thread: str) -> None:
            try:
                outcomes[thread] = await graph.ainvoke({"log": [thread]}, cfg(thread), durability="sync")
            except Exception as e:  # noqa: BLE001 - checked below
                outcomes[thread] = e

        for _ in range(3):  # enough rounds for the bad item to share batches
            outcomes.clear()
            async with anyio.create_task_group() as tg:
                for i in range(16):
                    tg.start_soon(run, f"h{i}")
                tg.start_soon(run, "bad")
            assert isinstance(outcomes.pop("bad"), RuntimeError)
            assert all(isinstance(v, dict) for v in outcomes.values()), outcomes
        assert "bad" not in await everything(saver.log)


async def test_sqlite_refuses_a_row_over_its_length_limit_for_that_caller_alone(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with open_saver("sqlite", tmp_path) as saver:
        saver.log._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 20_000)
        graph = two_nodes().compile(checkpointer=saver)
        outcomes: dict[str, Any] = {}

        async def run(thread: str, value: Any) -> None:
            try:
                outcomes[thread] = await graph.ainvoke({"log": [value]}, cfg(thread), durability="sync")
            except Exception as e:  # noqa: BLE001 - checked below
                outcomes[thread] = e

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(run, f"h{i}", i)
            tg.start_soon(run, "big", os.urandom(40_000))
        error = outcomes.pop("big")
        assert isinstance(error, RowRefusedError), repr(error)
        assert "'big'" in str(error) and "nothing of it was written" in str(error)
        assert outcomes == {f"h{i}": {"log": [i, "a", "b"]} for i in range(16)}
        assert "big" not in await everything(saver.log)


# --- 5. checkpoint_ns given to a top-level graph ---------------------------------------------


@pytest.mark.parametrize("call", ["ainvoke", "astream"])
async def test_checkpoint_ns_on_a_top_level_run_is_refused_before_writing(
    anyio_backend: str, store_kind: str, tmp_path: Path, call: str
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        before = await everything(saver.log)
        config = cfg("t", checkpoint_ns="x")  # (a namespace no subgraph of it has)
        with pytest.raises(ValueError, match="Subgraph x not found"):
            if call == "ainvoke":
                await graph.ainvoke({"log": ["lost?"]}, config)
            else:
                [c async for c in graph.astream({"log": ["lost?"]}, config)]
        assert await everything(saver.log) == before
        assert (await graph.aget_state(cfg("t"))).values == {"log": ["in", "a", "b"]}


# --- 18. unclear errors become clear ones, with nothing written -----------------------------


async def test_a_checkpoint_id_past_64_bits_is_not_a_checkpoint_id(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        before = await everything(saver.log)
        huge = "ffffffff-ffff-ffff-0000-000000000000"
        for call in (lambda: graph.aget_state(cfg("t", checkpoint_id=huge)),
                     lambda: graph.ainvoke(None, cfg("t", checkpoint_id=huge))):
            with pytest.raises(ValueError, match="is not a lograph checkpoint id"):
                await call()
        assert await saver.aget_tuple(cfg("t", checkpoint_id=huge)) is None  # as LangGraph's
        assert await everything(saver.log) == before


async def test_postgres_refuses_a_row_for_that_item_alone(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the checks (turned off here), the server's own refusal of one item's row (an
    index entry over the btree's limit) fails that item alone."""
    from lograph.adapters import _pg_log

    monkeypatch.setattr(_pg_log, "check_append", lambda *args: None)
    async with open_log("postgres", tmp_path) as log:
        def item(thread: str) -> Append:
            return Append(thread, (make_event(GENESIS, seq=1, parent=0, kind=Kind.RUN_STARTED,
                                              ts=1.0, body=b"\xa0"),), 0)

        huge = os.urandom(2000).hex()  # incompressible: the index entry stays too large
        results = await log.append_batch([item("a"), item(huge), item("b")])
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], RowRefusedError) and "54000" in str(results[1])
        assert [i.thread for i in await log.threads()] == ["a", "b"]


# --- 4. a decompression bomb in a stored row ------------------------------------------------


_BOMB: list[bytes] = []


def bomb() -> bytes:
    """A marked compressed blob of about 300 KB that inflates to 320 MiB of zeros."""
    if not _BOMB:
        squeeze = zlib.compressobj(9)
        chunk = bytes(1 << 20)
        parts = [squeeze.compress(chunk) for _ in range(320)]
        _BOMB.append(b"\xff" + b"".join(parts) + squeeze.flush())
    return _BOMB[0]


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])  # the stores that inflate rows
async def test_a_decompression_bomb_is_refused_within_bounded_memory(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        row = (await saver.log.read("t"))[2]
        await overwrite(store_kind, saver.log, "t", row.seq, bomb(), row.hash)
        fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log))

        async def history() -> Any:
            return [s async for s in fresh.aget_state_history(cfg("t"))]

        tracemalloc.start()
        try:
            for call in (lambda: fresh.aget_state(cfg("t")), lambda: fresh.ainvoke(None, cfg("t")),
                         history):
                with pytest.raises(CorruptLogError) as info:
                    await call()
                assert (info.value.thread, info.value.seq) == ("t", row.seq)
                assert "inflates past lograph's bound" in str(info.value)
            verdict = await verify_thread(saver.log, "t")
            assert not verdict.ok and verdict.chain[0].seq == row.seq
            assert "inflates past" in verdict.chain[0].reason
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 160 << 20, f"{peak >> 20} MiB to refuse a {len(bomb()) >> 10} KiB row"


def test_pack_never_writes_what_unpack_refuses() -> None:
    for blob in (bytes(200 << 20), b"ab" * 1000, os.urandom(5000), b"x" * (MAX_INFLATED + 1)):
        stored = pack(blob)
        assert unpack(stored) == blob
        assert len(blob) <= inflation_bound(len(stored))


# --- 3. a chain that an attacker without the key cannot re-seal -----------------------------


KEY = b"k" * 32


def resealed(events: list[Event], edit: dict[int, bytes], key: bytes | None = None, *,
             from_edit: bool = False) -> list[Event]:
    """``events`` with the bodies in ``edit`` replaced and hashes recomputed, as someone
    with write access re-seals a log (unkeyed unless ``key``): every event from the first
    (to GENESIS), or (``from_edit``) from the first edited one on, after its stored parent."""
    first = min(edit)
    hashes = {0: GENESIS}
    out = []
    for e in events:
        if from_edit and e.seq < first:
            hashes[e.seq] = e.hash
            out.append(e)
            continue
        new = make_event(hashes[e.parent], seq=e.seq, parent=e.parent, kind=e.kind, run_id=e.run_id,
                         step=e.step, task_id=e.task_id, ns=e.ns, ts=e.ts,
                         body=edit.get(e.seq, e.body), key=key)
        hashes[e.seq] = new.hash
        out.append(new)
    return out


async def write_rows(store_kind: str, log: Any, thread: str, events: list[Event]) -> None:
    for e in events:
        await overwrite(store_kind, log, thread, e.seq, e.body, e.hash)


def flipped(events: list[Event]) -> dict[int, bytes]:
    """The "approval" flipped: the first node.writes of node 'a' now writes something else."""
    row = next(e for e in events if e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "a")
    body = decode(row.body)
    body["writes"] = [["log", ["forged"]]]
    return {row.seq: encode(body)}


async def test_a_keyed_chain_cannot_be_resealed_without_the_key(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        keyed = Checkpointer(saver.log, chain_key=KEY, store_id="prod")
        graph = two_nodes().compile(checkpointer=keyed)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        events = await saver.log.read("t")
        assert (await verify_thread(keyed, "t")).ok
        assert not (await verify_thread(saver.log, "t", seal=Seal())).ok  # keyed: needs the key

        # an edited row re-sealed as sha256 links, or the whole thread re-sealed unkeyed
        for forged in (resealed(events, flipped(events), from_edit=True),
                       resealed(events, flipped(events))):
            await write_rows(store_kind, saver.log, "t", forged)
            verdict = await verify_thread(keyed, "t")
            assert not verdict.ok, forged
            fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log, chain_key=KEY,
                                                                  store_id="prod"))
            if forged[0] != events[0]:  # re-sealed from the start: an unkeyed chain now
                assert "not sealed with the chain key" in verdict.problem
            else:
                with pytest.raises(CorruptLogError):
                    await fresh.aget_state(cfg("t"))
            await write_rows(store_kind, saver.log, "t", events)
        # with the key and the store's id the thread goes on; another store id refuses it
        out = await graph.ainvoke({"log": ["more"]}, cfg("t"), durability="sync")
        assert out["log"] == ["in", "a", "b", "more", "a", "b"]
        assert (await verify_thread(keyed, "t")).ok
        elsewhere = Checkpointer(saver.log, chain_key=KEY, store_id="staging")
        assert not (await verify_thread(elsewhere, "t")).ok
        with pytest.raises(CorruptLogError, match="LOGRAPH_CHAIN_KEY"):
            await two_nodes().compile(checkpointer=elsewhere).aget_state(cfg("t"))
        # a thread written before the key stays readable; verify with the key says what it is
        await two_nodes().compile(checkpointer=Checkpointer(saver.log, chain_key=None,
                                                            store_id="")).ainvoke({"log": []}, cfg("old"))
        await graph.ainvoke({"log": ["x"]}, cfg("old"))
        old = await verify_thread(keyed, "old")
        assert not old.ok and "written before the key" in old.problem


@pytest.mark.parametrize("keyed", [False, True])
async def test_logs_swapped_between_thread_ids_fail_verify(
    anyio_backend: str, store_kind: str, tmp_path: Path, keyed: bool
) -> None:
    """Two users' whole logs exchanged between their thread ids, no hash recomputed: each
    chain is bound to its thread id, so both fail at their first event, key or no key."""
    from tests.test_tamper_properties import packed, replace_rows

    async with open_saver(store_kind, tmp_path) as saver:
        sealed_by = Checkpointer(saver.log, chain_key=KEY if keyed else None,
                                 store_id="prod" if keyed else "")
        graph = two_nodes().compile(checkpointer=sealed_by)
        for user in ("alice", "bob"):
            await graph.ainvoke({"log": [user]}, cfg(user), durability="sync")
        alice, bob = await saver.log.read("alice"), await saver.log.read("bob")
        assert [(await verify_thread(sealed_by, u)).chain_version for u in ("alice", "bob")] == (
            [4, 4] if keyed else [3, 3])
        await replace_rows(store_kind, saver.log, "alice", [packed(e) for e in bob])
        await replace_rows(store_kind, saver.log, "bob", [packed(e) for e in alice])
        for user in ("alice", "bob"):
            verdict = await verify_thread(sealed_by, user)
            assert not verdict.ok and verdict.chain[0].seq == 1, verdict
            assert "moved from another thread" in verdict.problem
            fresh = two_nodes().compile(checkpointer=Checkpointer(
                saver.log, chain_key=KEY if keyed else None, store_id="prod" if keyed else ""))
            with pytest.raises(CorruptLogError, match="event 1"):
                await fresh.aget_state(cfg(user))


async def test_copy_thread_reseals_into_the_new_thread_and_refuses_a_tampered_source(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    from tests.test_tamper_properties import packed, replace_rows

    async with open_saver(store_kind, tmp_path) as saver:
        keyed = Checkpointer(saver.log, chain_key=KEY, store_id="prod")
        graph = two_nodes().compile(checkpointer=keyed)
        await graph.ainvoke({"log": ["in"]}, cfg("src"), durability="sync")
        await keyed.acopy_thread("src", "dst")
        copy = await verify_thread(keyed, "dst")
        assert copy.ok and copy.chain_version == 4  # keyed as its source is, bound to "dst"
        assert not (await verify_thread(saver.log, "dst", seal=Seal())).ok  # needs the key
        out = await graph.ainvoke({"log": ["more"]}, cfg("dst"), durability="sync")
        assert out["log"] == ["in", "a", "b", "more", "a", "b"]
        assert (await verify_thread(keyed, "dst")).ok
        # the copy moved to a third id as it is: refused there too
        await replace_rows(store_kind, saver.log, "elsewhere",
                           [packed(e) for e in await saver.log.read("dst")])
        assert (await verify_thread(keyed, "elsewhere")).chain[0].seq == 1
        # a tampered source is not laundered into a fresh chain: nothing is written
        events = await saver.log.read("src")
        await write_rows(store_kind, saver.log, "src", resealed(events, flipped(events), from_edit=True))
        with pytest.raises(CorruptLogError, match="copy_thread refuses"):
            await keyed.acopy_thread("src", "laundered")
        assert await saver.log.read("laundered") == []
        # one re-sealed whole without the key is copied as what it is: an unkeyed chain
        await write_rows(store_kind, saver.log, "src", resealed(events, flipped(events)))
        await keyed.acopy_thread("src", "unkeyed")
        verdict = await verify_thread(keyed, "unkeyed")
        assert verdict.chain_version == 3 and "not sealed with the chain key" in verdict.problem


async def test_a_thread_sealed_before_thread_binding_still_reads_and_verifies(
    anyio_backend: str, store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chain version 2 (keyed, bound to the store only: what lograph wrote before thread
    binding) reads, verifies and goes on; version 1 is covered by tests/test_golden_store.py."""
    import hmac as _hmac

    legacy = _hmac.digest(KEY, b"lograph/chain/2\x00prod", "sha256")
    async with open_saver(store_kind, tmp_path) as saver:
        with monkeypatch.context() as older_lograph:  # its new threads' genesis
            older_lograph.setattr(Seal, "genesis", lambda self, thread: legacy)
            keyed = Checkpointer(saver.log, chain_key=KEY, store_id="prod")
            await two_nodes().compile(checkpointer=keyed).ainvoke({"log": ["in"]}, cfg("t"),
                                                                  durability="sync")
        verdict = await verify_thread(keyed, "t")
        assert verdict.ok and verdict.chain_version == 2, verdict
        fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log, chain_key=KEY,
                                                              store_id="prod"))
        out = await fresh.ainvoke({"log": ["more"]}, cfg("t"), durability="sync")
        assert out["log"] == ["in", "a", "b", "more", "a", "b"]
        verdict = await verify_thread(keyed, "t")
        assert verdict.ok and verdict.chain_version == 2


@pytest.mark.parametrize("keyed", [False, True])
def test_the_cli_verify_fails_logs_swapped_between_threads(tmp_path: Path, keyed: bool) -> None:
    db = tmp_path / "s.db"
    env = {**os.environ, "LOGRAPH_CHAIN_KEY": KEY.decode()} if keyed else {
        k: v for k, v in os.environ.items() if k != "LOGRAPH_CHAIN_KEY"}

    async def write() -> None:
        async with SqliteSaver.from_conn_string(db) as saver:
            saver = Checkpointer(saver.log, chain_key=KEY if keyed else None, store_id="")
            graph = two_nodes().compile(checkpointer=saver)
            for user in ("alice", "bob"):
                await graph.ainvoke({"log": [user]}, cfg(user), durability="sync")

    anyio.run(write)

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lograph.adapters.cli", "verify", str(db)],
                              capture_output=True, text=True, timeout=60, check=False, env=env)

    assert verify().returncode == 0
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE events SET thread = 'x' WHERE thread = 'alice'")
        conn.execute("UPDATE events SET thread = 'alice' WHERE thread = 'bob'")
        conn.execute("UPDATE events SET thread = 'bob' WHERE thread = 'x'")
    conn.close()
    swapped = verify()
    assert swapped.returncode == 1, swapped.stdout + swapped.stderr
    assert swapped.stdout.count("moved from another thread") == 2, swapped.stdout


def test_a_chain_key_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Seal(b"short")


def test_verify_expect_head_and_the_full_head_hash(tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    async def write() -> None:
        async with SqliteSaver.from_conn_string(db) as saver:
            graph = two_nodes().compile(checkpointer=saver)
            await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
            await graph.ainvoke({"log": ["in"]}, cfg("u"), durability="sync")

    anyio.run(write)
    conn = sqlite3.connect(db)
    head = conn.execute("SELECT hash FROM events WHERE thread = 't' ORDER BY seq DESC").fetchone()[0]
    conn.close()

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lograph.adapters.cli", "verify", str(db), *args],
                              capture_output=True, text=True, timeout=60, check=False)

    ok = verify("t", "--expect-head", head.hex())
    assert ok.returncode == 0 and head.hex() in ok.stdout, ok.stdout + ok.stderr
    swapped = verify("u", "--expect-head", head.hex())  # another thread's log in its place
    assert swapped.returncode == 1 and "not the expected" in swapped.stdout
    assert verify("--expect-head", head.hex()).returncode == 2  # which thread?
    assert verify("t", "--expect-head", "abc").returncode == 2


# --- 17. metadata that cannot be stored ------------------------------------------------------


@pytest.mark.parametrize("where", ["configurable", "metadata"])
async def test_unstorable_metadata_is_refused_before_anything_is_written(
    anyio_backend: str, store_kind: str, tmp_path: Path, where: str
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        before = await everything(saver.log)
        bad: dict[str, Any] = {"configurable": {"thread_id": "t"}}
        bad.setdefault(where, {})["who"] = "al\udc00ice"
        for _ in range(3):
            for call in (lambda: graph.ainvoke({"log": ["x"]}, bad),
                         lambda: graph.ainvoke(None, bad),
                         lambda: graph.aupdate_state(bad, {"log": ["u"]}, as_node="b")):
                with pytest.raises(EncodeError, match="metadata"):
                    await call()
        assert await everything(saver.log) == before  # no orphan run.finished


# --- the lograph command on hostile stores (10, 11, 13, 15, 16, 18) --------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    plain = ["--plain"] if "--plain" in args else []
    rest = [a for a in args if a != "--plain"]
    return subprocess.run([sys.executable, "-m", "lograph.adapters.cli", *plain, *rest],
                          capture_output=True, text=True, timeout=120, check=False)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


def sqlite_store(tmp_path: Path, threads: dict[str, Any]) -> Path:
    db = tmp_path / "s.db"

    async def write() -> None:
        async with SqliteSaver.from_conn_string(db) as saver:
            graph = two_nodes().compile(checkpointer=saver)
            for thread, value in threads.items():
                await graph.ainvoke({"log": [value]}, cfg(thread), durability="sync")

    anyio.run(write)
    return db


def test_cli_escapes_control_characters_and_prints_huge_integers(tmp_path: Path) -> None:
    db = sqlite_store(tmp_path, {"evil\x1b[2K\x1b[1A\r": 1, "big": 7 ** 9000})
    conn = sqlite3.connect(db)  # tamper with the evil thread: its FAIL line must show
    conn.execute("UPDATE events SET ts = ts + 1 WHERE thread LIKE 'evil%' AND seq = 2")
    conn.commit()
    conn.close()
    verify = cli("verify", str(db), "--plain")
    no_traceback(verify)
    assert verify.returncode == 1 and "\x1b" not in verify.stdout
    assert "FAIL  thread 'evil\\x1b[2K\\x1b[1A\\r'" in verify.stdout, verify.stdout
    for args in (("threads",), ("log", "big"), ("log", "big", "--json"), ("state", "big"),
                 ("state", "big", "--json"), ("history", "big"), ("history", "big", "--json")):
        proc = cli(args[0], str(db), *args[1:], "--plain")
        no_traceback(proc)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "\x1b" not in proc.stdout
    assert str(7 ** 9000 % 10 ** 40) in cli("state", str(db), "big", "--json").stdout


def test_cli_shows_a_row_nested_past_pythons_limit(tmp_path: Path) -> None:
    db = sqlite_store(tmp_path, {"t": 1})
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT seq, parent, kind, run_id, step, task_id, ns, ts FROM events "
                       "WHERE thread = 't' ORDER BY seq DESC").fetchone()
    parent = conn.execute("SELECT hash FROM events WHERE thread = 't' AND seq = ?", (row[1],)).fetchone()[0]
    deep = b"\x81" * 90_000 + b"\x00"
    digest = make_event(parent, seq=row[0], parent=row[1], kind=row[2], run_id=row[3], step=row[4],
                        task_id=row[5], ns=row[6], ts=row[7], body=deep).hash
    conn.execute("UPDATE events SET body = ?, hash = ? WHERE thread = 't' AND seq = ?",
                 (deep, digest, row[0]))
    conn.commit()
    conn.close()
    for args in (("log", "t", "--json"), ("log", "t"), ("verify",), ("threads",), ("state", "t")):
        proc = cli(args[0], str(db), *args[1:], "--plain")
        no_traceback(proc)
        assert proc.returncode in (0, 1, 3), (args, proc.returncode, proc.stderr)
    assert "$too_deep" in cli("log", str(db), "t", "--json").stdout


def test_cli_malformed_dsns_are_usage_errors_and_passwords_are_never_shown() -> None:
    for dsn in ("postgresql://user:s3cret@localhost/db?sslmode=bogus",
                "postgresql://user:s3cret@[::1/db", "postgresql://user:s3cret@host:notaport/db"):
        proc = cli("threads", dsn)
        no_traceback(proc)
        assert proc.returncode == 2, (dsn, proc.returncode, proc.stderr)
        assert "s3cret" not in proc.stderr + proc.stdout
    assert shown("postgresql://u:s3cret@h/db?password=p2") == "postgresql://u:***@h/db?password=%2A%2A%2A"


async def test_postgres_refuses_schema_names_it_would_cut(anyio_backend: str) -> None:
    dsn = await pg_dsn()
    for name in ("tenant_" + "a" * 60 + "_one", "\u00e9" * 32):
        with pytest.raises(ValueError, match="63"):
            await PostgresLog.open(dsn, schema=name)
    log = await PostgresLog.open(dsn, schema="t" * 63)  # the longest name is kept whole
    await log.aclose()


async def test_an_unknown_kind_code_names_its_row_and_verify_checks_the_other_threads(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with open_saver("postgres", tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        for thread in ("a", "b"):
            await graph.ainvoke({"log": [thread]}, cfg(thread), durability="sync")
        await raw_pg(f'UPDATE "{saver.log.schema}".events SET kind = 99 WHERE thread = $1 AND seq = 2', "a")
        fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log))
        with pytest.raises(CorruptLogError) as info:
            await fresh.aget_state(cfg("a"))
        assert (info.value.thread, info.value.seq) == ("a", 2)
        assert (await fresh.aget_state(cfg("b"))).values == {"log": ["b", "a", "b"]}
        verdict = await verify_thread(saver.log, "a")
        assert verdict.chain[0].seq == 2 and "unknown event kind" in verdict.chain[0].reason
        dsn = f"{await pg_dsn()}?schema={saver.log.schema}"
        proc = await anyio.to_thread.run_sync(lambda: cli("verify", dsn, "--plain"))
        no_traceback(proc)
        assert proc.returncode == 1 and "ok    b:" in proc.stdout and "event 2" in proc.stdout


# --- 12. a re-sealed body of the wrong shape ---------------------------------------------------


async def test_a_resealed_body_of_the_wrong_shape_fails_verify_and_every_reader(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        events = await saver.log.read("t")
        row = next(e for e in events if e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "a")
        body = decode(row.body)
        body["writes"] = 5
        await write_rows(store_kind, saver.log, "t",
                         resealed(events, {row.seq: encode(body)}, from_edit=True))
        verdict = await verify_thread(saver.log, "t")
        assert not verdict.ok and verdict.chain[0].seq == row.seq, verdict
        assert "shape" in verdict.chain[0].reason
        fresh = two_nodes().compile(checkpointer=Checkpointer(saver.log))

        async def history() -> Any:
            return [s async for s in fresh.aget_state_history(cfg("t"))]

        for call in (lambda: fresh.aget_state(cfg("t")), history):
            with pytest.raises(CorruptLogError) as info:
                await call()
            assert (info.value.thread, info.value.seq) == ("t", row.seq)


# --- 7. verify compares encodings; 6. it needs no application code ---------------------------


@dataclasses.dataclass(eq=False)
class Opaque:
    n: int


class Values(TypedDict, total=False):
    log: Annotated[list, operator.add]
    odd: Any


def odd_values() -> StateGraph:
    b = StateGraph(Values)
    b.add_node("a", lambda s: {"log": [float("nan")], "odd": [Decimal("NaN"), Decimal("sNaN"),
                                                               Opaque(1), float("nan")]})
    b.add_edge(START, "a")
    return b


async def test_verify_passes_an_untouched_thread_whose_values_are_not_equal_to_themselves(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = odd_values().compile(checkpointer=Checkpointer(saver.log, snapshot_every=1))
        for _ in range(3):
            await graph.ainvoke({"log": []}, cfg("t"), durability="sync")
        assert await saver.log.snapshots("t")
        verdict = await verify_thread(saver.log, "t")
        assert verdict.ok, verdict.problem
        # and an edited snapshot is still found
        seq = (await saver.log.snapshots("t"))[-1]
        found = await saver.log.latest_snapshot("t", seq)
        assert found is not None
        edited = decode(found[1])
        edited[1][_SNAPSHOT_FIELDS.index("step")] += 1
        await saver.log.put_snapshot("t", seq, encode(edited))
        verdict = await verify_thread(saver.log, "t")
        assert not verdict.ok and "snapshot was edited" in verdict.problem


APP = """
import dataclasses, enum, operator
from typing import Annotated, Any, TypedDict
import anyio, pydantic
from lograph.adapters.sqlite import SqliteSaver
from lograph.runtime import START, StateGraph

@dataclasses.dataclass
class Point:
    x: int

class Colour(enum.Enum):
    RED = "red"

class Order(pydantic.BaseModel):
    item: str

class S(TypedDict, total=False):
    log: Annotated[list, operator.add]

def build():
    b = StateGraph(S)
    b.add_node("a", lambda s: {"log": [Point(1), Colour.RED, Order(item="tea")]})
    b.add_edge(START, "a")
    return b

async def write(db):
    async with SqliteSaver.from_conn_string(db, snapshot_every=1) as saver:
        graph = build().compile(checkpointer=saver)
        for _ in range(3):
            await graph.ainvoke({"log": []}, {"configurable": {"thread_id": "t"}})

if __name__ == "__main__":
    import sys
    anyio.run(write, sys.argv[1])
"""


def test_the_cli_reads_a_store_of_application_types_without_the_application(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "shop_app.py").write_text(APP)
    db = tmp_path / "shop.db"
    subprocess.run([sys.executable, "shop_app.py", str(db)], cwd=app, check=True, timeout=120)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM snapshots").fetchone()[0] > 0
    for command in (("threads",), ("verify",), ("state", "t"), ("log", "t"), ("history", "t"),
                    ("state", "t", "--json")):
        proc = cli(command[0], str(db), *command[1:], "--plain")  # from the tests' directory
        no_traceback(proc)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    assert "done" in cli("threads", str(db), "--plain").stdout
    # with the application's module the values read back as its classes
    with_app = subprocess.run(
        [sys.executable, "-m", "lograph.adapters.cli", "state", str(db), "t", "--import", "shop_app",
         "--json"], cwd=app, capture_output=True, text=True, timeout=120, check=False)
    assert with_app.returncode == 0, with_app.stderr
    missing = cli("verify", str(db), "--import", "no_such_module_here")
    assert missing.returncode == 2 and "no_such_module_here" in missing.stderr


# --- 9. the docs do not recommend resuming a running thread -----------------------------------


def test_a_running_thread_is_not_to_be_resumed_blindly() -> None:
    doc = ThreadSummary.__doc__ or ""
    assert "resume it with" not in doc and "unless you know its process is gone" in " ".join(doc.split())
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "What optimistic concurrency does and does not prevent" in readme


# --- 14. a store on a read-only file system ------------------------------------------------------


def test_a_store_on_a_read_only_mount_is_a_store_that_cannot_be_opened(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"needs to mount a file system (as root): {made.stderr.strip()}")
    try:
        db = sqlite_store(mount, {"t": 1})
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        for args in (("threads",), ("log", "t"), ("verify",)):
            proc = cli(args[0], str(db), *args[1:])
            no_traceback(proc)
            assert proc.returncode == 3, (args, proc.returncode, proc.stderr)
            assert "not a lograph store" not in proc.stderr and "read-only" in proc.stderr
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# --- 8. history is lazy -------------------------------------------------------------------------


def asking() -> StateGraph:
    def ask(state: State) -> dict[str, Any]:
        return {"log": [f"answer:{interrupt('ok?')}"]}

    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("ask", ask)
    b.add_edge(START, "a")
    b.add_edge("a", "ask")
    return b


async def test_history_with_a_limit_costs_what_it_returns(
    anyio_backend: str, store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = asking().compile(checkpointer=Checkpointer(saver.log, snapshot_every=50))
        for turn in range(150):
            await graph.ainvoke({"log": [turn]}, cfg("t"))
            await graph.ainvoke(Command(resume=turn), cfg("t"))
        full = [s async for s in graph.aget_state_history(cfg("t"))]
        await graph.ainvoke({"log": ["fork"]}, full[len(full) // 2].config)  # a branch
        full = [s async for s in graph.aget_state_history(cfg("t"))]
        events = len(await saver.log.read("t"))
        assert events > 1500

        folded = 0
        real = _fold_module._apply

        def counting(*args: Any) -> Any:
            nonlocal folded
            folded += 1
            return real(*args)

        monkeypatch.setattr(_fold_module, "_apply", counting)
        fresh = asking().compile(checkpointer=Checkpointer(saver.log, snapshot_every=50))
        first = [s async for s in fresh.aget_state_history(cfg("t"), limit=5)]
        assert folded < 400, f"{folded} events folded for 5 checkpoints of {events}"
        assert [(s.values, s.next, s.config, s.metadata, s.tasks) for s in first] == [
            (s.values, s.next, s.config, s.metadata, s.tasks) for s in full[:5]]
        before = [s async for s in fresh.aget_state_history(cfg("t"), before=full[40].config, limit=3)]
        assert [s.config for s in before] == [s.config for s in full[41:44]]
        one = [s async for s in fresh.aget_state_history(full[7].config, limit=1)]
        assert [(s.values, s.tasks) for s in one] == [(full[7].values, full[7].tasks)]


# --- 19. a clock past the year 9999; shared substructure; private files; pool noise ----------


def shared(depth: int = 40) -> list[Any]:
    """A value that holds one object in many places: 2**depth leaves when written out."""
    x: list[Any] = ["leaf"]
    for _ in range(depth):
        x = [x, x]
    return x


async def test_a_value_with_shared_substructure_is_refused_at_once(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """Before: encoding wrote it out in full (2**40 leaves), holding the event loop with
    no bound. Now: EncodeError within about a MiB of encoding, nothing of it written."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        with anyio.fail_after(60), pytest.raises(EncodeError, match="same objects in many places"):
            await graph.ainvoke({"log": [shared()]}, cfg("t"))
        assert await saver.log.read("t") == []
        b = StateGraph(State)
        b.add_node("a", lambda s: {"log": [shared()]})
        b.add_edge(START, "a")
        b.add_edge("a", END)
        node = b.compile(checkpointer=saver)
        with anyio.fail_after(60), pytest.raises(EncodeError, match="written by node 'a'"):
            await node.ainvoke({"log": ["in"]}, cfg("u"), durability="sync")
        assert (await node.aget_state(cfg("u"))).values == {"log": ["in"]}
        assert not any(b"leaf" in e.body for e in await saver.log.read("u"))
        # one object held in many places, of a modest size, is stored as before
        out = await graph.ainvoke({"log": [{"k": 1}] * 1000}, cfg("v"))
        assert out["log"] == [{"k": 1}] * 1000 + ["a", "b"]
        assert (await verify_thread(saver.log, "v")).ok


async def test_a_postgres_outage_leaves_no_driver_tracebacks(
    anyio_backend: str, own_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: asyncpg's pool kept a connection floor with a background task that logged
    a warning with a traceback for each reconnect attempt during an outage (on stderr in
    an application without logging set up). lograph reports the outage itself."""
    import logging

    from tests._store_postgres import fresh_schema

    caplog.set_level(logging.DEBUG)
    async with await PostgresLog.open(own_server.dsn, schema=fresh_schema(), retry_for=1.0,
                                      min_size=2) as log:
        await log.setup()
        graph = two_nodes().compile(checkpointer=Checkpointer(log))
        await graph.ainvoke({"log": []}, cfg("t"), durability="sync")
        own_server.kill()
        try:
            with pytest.raises(StoreUnavailableError):
                await graph.ainvoke({"log": []}, cfg("u"), durability="sync")
            await anyio.sleep(2.5)  # the floor task retried every second here
        finally:
            await anyio.to_thread.run_sync(own_server.restart)
        out = await graph.ainvoke({"log": []}, cfg("u"), durability="sync")
        assert out == {"log": ["a", "b"]}
    noise = [r for r in caplog.records if r.name.startswith("asyncpg")]
    assert not noise, [r.getMessage() for r in noise]


def test_an_encoding_is_bounded_and_large_values_still_round_trip() -> None:
    from lograph.eventlog._codec import _CHECK_ABOVE, MAX_ENCODED

    big = [str(i) * 8 for i in range(2 * _CHECK_ABOVE // 8)]  # past the check: encoded twice
    assert decode(encode(big)) == big
    with pytest.raises(EncodeError, match=f"over {MAX_ENCODED >> 20} MiB"):
        encode(b"x" * (MAX_ENCODED + 1))



async def test_a_clock_past_the_year_9999_breaks_no_reader(
    anyio_backend: str, store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lograph.runtime import _journal

    monkeypatch.setattr(_journal, "time", types.SimpleNamespace(time=lambda: 3.2e11))  # year 12110
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_nodes().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        snapshot = await graph.aget_state(cfg("t"))
        assert snapshot.values == {"log": ["in", "a", "b"]} and "out of range" in str(snapshot.created_at)
        assert len([s async for s in graph.aget_state_history(cfg("t"))]) == 4
        assert await saver.aget_tuple(cfg("t")) is not None
        assert (await verify_thread(saver.log, "t")).ok
        if store_kind == "sqlite":
            db = saver.log.path
            for args in (("log", "t"), ("history", "t"), ("state", "t"), ("threads",),
                         ("log", "t", "--json")):
                proc = await anyio.to_thread.run_sync(lambda a=args: cli(a[0], db, *a[1:]))
                no_traceback(proc)
                assert proc.returncode == 0, (args, proc.stderr)


async def test_a_new_sqlite_store_is_private_to_its_owner(anyio_backend: str, tmp_path: Path) -> None:
    db = tmp_path / "private.db"
    async with SqliteSaver.from_conn_string(db) as saver:
        await two_nodes().compile(checkpointer=saver).ainvoke({"log": []}, cfg("t"))
        files = [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
        assert len(files) >= 2
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
