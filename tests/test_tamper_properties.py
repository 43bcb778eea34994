"""Tampering with stored rows, at random (hypothesis): every reader answers right or refuses.

Each example writes a few threads to a fresh store (memory, SQLite or PostgreSQL; keyed
chain or not; snapshots often or never), then does one thing an attacker with write
access to the database could do to its rows:

- ``edit``: flip a byte of a body; ``header``: move a row's time; ``bomb``: a body that
  inflates to 320 MiB; ``malformed``: a body of the wrong shape, re-sealed;
- ``delete``: remove a row from the middle; ``truncate``: remove a thread's newest rows;
- ``swap``: exchange two rows' bodies; ``move``: exchange two threads' whole logs;
- ``reseal``: change a recorded write and recompute the hashes from there on, unkeyed.

Then it checks, on the tampered store: every reader (``aget_state`` and history through a
fresh checkpointer, the saver's ``aget_tuple``, the audit's summaries, timelines and lenient
folds that the ``lograph`` command prints) either returns what the untouched log or the
tampered log holds, or raises a ``LogError`` (a clear lograph error), never anything else;
memory stays bounded (tracemalloc's peak, the bomb included); ``verify_thread`` fails with
its first problem at the first tampered row (for a move, the first event: chains are
bound to their thread id), except where the chain cannot see it (a cut tail; an unkeyed
re-seal), where the head recorded before the attack no longer matches, as ``lograph
verify --expect-head`` checks.

Sizes: ``make test`` runs a few examples per store and event loop; ``LOGRAPH_RELIABILITY=full``
many more. Figures go to ``LOGRAPH_FIGURES`` (section ``tamper``).
"""

from __future__ import annotations

import operator
import tempfile
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lograph.eventlog import (
    Event,
    Kind,
    LogError,
    ThreadInfo,
    decode,
    encode,
    make_event,
    state_at,
    summarize,
    timeline,
)
from lograph.eventlog.lowlevel import RowMapper
from lograph.runtime import START, Checkpointer, StateGraph, interrupt, verify_thread
from tests._reliability import TIMEOUT, scale, tally
from tests._stores import open_log
from tests.test_bad_inputs import raw_pg

ATTACKS = ("edit", "header", "bomb", "malformed", "delete", "truncate", "swap", "move", "reseal")
EXAMPLES = {"memory": scale(12, 400), "sqlite": scale(6, 150), "postgres": scale(4, 100)}
KEY = b"tamper-test-key-0123456789"
PEAK = 200 << 20  # tracemalloc's peak while reading a tampered store, bomb included


class State(TypedDict, total=False):
    log: Annotated[list, operator.add]
    approved: bool


def graph() -> StateGraph:
    def ask(state: State) -> dict[str, Any]:
        return {"approved": bool(interrupt("approve?"))} if len(state.get("log", [])) > 3 else {}

    b = StateGraph(State)
    b.add_node("plan", lambda s: {"log": ["plan"]})
    b.add_node("work", lambda s: {"log": ["work"]})
    b.add_node("ask", ask)
    b.add_edge(START, "plan")
    b.add_edge("plan", "work")
    b.add_edge("work", "ask")
    return b


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# --- the rows, behind the store's back --------------------------------------------------------


_BOMB: list[bytes] = []


def bomb() -> bytes:
    if not _BOMB:
        squeeze = zlib.compressobj(9)
        chunk = bytes(1 << 20)
        _BOMB.append(b"\xff" + b"".join(squeeze.compress(chunk) for _ in range(320)) + squeeze.flush())
    return _BOMB[0]


Row = tuple[Event, bytes]  # an event and what the store keeps as its body


async def replace_rows(kind: str, log: Any, thread: str, rows: list[Row]) -> None:
    """Make ``rows`` the whole stored log of ``thread`` (bodies stored exactly as given)."""
    if kind == "memory":
        log._events[thread] = [_with_body(e, stored) for e, stored in rows]
        return
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(log.path)
        with conn:
            conn.execute("DELETE FROM events WHERE thread = ?", (thread,))
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (thread, e.seq, e.parent, e.kind, e.run_id, e.step, e.task_id, e.ns, e.ts, stored, e.hash)
                for e, stored in rows])
        conn.close()
        return
    codes = RowMapper(kind_codes=True)
    table = f'"{log.schema}".events'
    await raw_pg(f"DELETE FROM {table} WHERE thread = $1", thread)
    for e, stored in rows:
        code = codes.row_of(e).kind
        await raw_pg(f"INSERT INTO {table} (seq, parent, step, ts, kind, thread, run_id, task_id, ns, "
                     "body, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                     e.seq, e.parent, e.step, e.ts, code, thread, e.run_id, e.task_id, e.ns, stored, e.hash)


def _with_body(e: Event, stored: bytes) -> Event:
    return RowMapper().event_of((e.seq, e.parent, e.kind, e.run_id, e.step, e.task_id, e.ns, e.ts,
                              stored, e.hash))


def packed(e: Event) -> Row:
    return e, RowMapper().row_of(e).body


def sealed(events: list[Event], start: int, change: Callable[[Event], bytes],
           key: bytes | None = None) -> list[Event]:
    """``events`` with the body of event ``start`` changed and every hash from it on
    recomputed after its stored parent (``key``: keyed links)."""
    hashes = {e.seq: e.hash for e in events if e.seq < start}
    out = []
    for e in events:
        if e.seq < start:
            out.append(e)
            continue
        body = change(e) if e.seq == start else e.body
        new = make_event(hashes[e.parent], seq=e.seq,
                         parent=e.parent, kind=e.kind, run_id=e.run_id, step=e.step,
                         task_id=e.task_id, ns=e.ns, ts=e.ts, body=body, key=key)
        hashes[e.seq] = new.hash
        out.append(new)
    return out


# --- one example -------------------------------------------------------------------------------


@asynccontextmanager
async def store(kind: str) -> AsyncIterator[Any]:
    with tempfile.TemporaryDirectory() as directory:
        async with open_log(kind, Path(directory)) as log:
            yield log


def saver_on(log: Any, keyed: bool, every: int) -> Checkpointer:
    return Checkpointer(log, snapshot_every=every, chain_key=KEY if keyed else None,
                        store_id="tamper" if keyed else "")


async def one_example(kind: str, keyed: bool, every: int, runs: list[int], attack: str,
                      picks: list[int]) -> None:
    async with store(kind) as log:
        writer = graph().compile(checkpointer=saver_on(log, keyed, every))
        threads = [f"t{i}" for i in range(len(runs))]
        for thread, n in zip(threads, runs, strict=True):
            await writer.ainvoke({"log": ["in"]}, cfg(thread), durability="sync")
            for _ in range(n):
                await writer.ainvoke({"log": ["more"]}, cfg(thread), durability="sync")
        original = {t: await log.read(t) for t in threads}
        states = {t: (await writer.aget_state(cfg(t))).values for t in threads}
        target = threads[picks[0] % len(threads)]
        expect = await tamper(kind, log, attack, original, target, threads, picks, keyed)
        tampered = {t: await log.read(t) for t in threads}
        tracemalloc.start()
        try:
            await read_everything(log, keyed, threads, states, tampered)
            await check_verdicts(log, keyed, original, expect, attack)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < PEAK, f"{attack}: {peak >> 20} MiB to read a tampered store"
    tally("tamper", tried=1, survived=1, **{attack: 1})


async def tamper(kind: str, log: Any, attack: str, original: dict[str, list[Event]], target: str,
                 threads: list[str], picks: list[int], keyed: bool) -> dict[str, int]:
    """Do ``attack``; return, per thread, the seq verify must name first (0: the chain
    cannot see it, but the thread's recorded head no longer matches)."""
    events = original[target]
    n = len(events)
    i = 1 + picks[1] % (n - 1)  # a row with a parent: seqs 2..n
    j = 1 + picks[2] % (n - 1)
    rows = [packed(e) for e in events]
    if attack == "edit":
        e = events[i]
        flip = bytearray(e.body)
        flip[picks[3] % len(flip)] ^= 0x01 << (picks[4] % 8)
        rows[i] = (e, RowMapper().row_of(_replace(e, bytes(flip))).body)
    elif attack == "header":
        rows[i] = (_replace(events[i], events[i].body, ts=events[i].ts + 1.5), rows[i][1])
    elif attack == "bomb":
        rows[i] = (events[i], bomb())
    elif attack == "malformed":
        shapes = [5, "x", [1, 2, 3], {"writes": 7}, None]
        forged = sealed(events, i + 1, lambda e: encode(shapes[picks[3] % len(shapes)]),
                        KEY if keyed else None)
        rows = [packed(e) for e in forged]
    elif attack == "delete":
        i = min(i, n - 2)  # not the newest: that is a truncation
        del rows[i]
    elif attack == "truncate":
        del rows[max(1, n - 1 - picks[3] % 3):]
    elif attack == "swap":
        a, b = sorted((i, j))
        if a == b or events[a].body == events[b].body:
            b = next((k for k in range(1, n) if k != a and events[k].body != events[a].body), a)
        if a == b:
            return {t: -1 for t in threads}
        a, b = sorted((a, b))
        rows[a], rows[b] = (events[a], rows[b][1]), (events[b], rows[a][1])
        i = a
    elif attack == "move":
        other = threads[(threads.index(target) + 1) % len(threads)]
        if other == target:
            return {t: -1 for t in threads}
        await replace_rows(kind, log, other, rows)
        await replace_rows(kind, log, target, [packed(e) for e in original[other]])
        return {target: 1, other: 1}  # chains are bound to their thread: seq 1 opens none
    elif attack == "reseal":
        writes = [k for k in range(1, n) if events[k].kind == Kind.NODE_WRITES]
        i = writes[picks[3] % len(writes)]
        body = decode(events[i].body)
        body["writes"] = [["log", ["forged"]], ["approved", True]]
        rows = [packed(e) for e in sealed(events, i + 1, lambda e: encode(body))]
        await replace_rows(kind, log, target, rows)
        return {target: i + 1 if keyed else 0}
    await replace_rows(kind, log, target, rows)
    if attack == "truncate":
        return {target: 0}
    return {target: i + 1}


def _replace(e: Event, body: bytes, **changes: Any) -> Event:
    fields = {"seq": e.seq, "parent": e.parent, "kind": e.kind, "run_id": e.run_id, "step": e.step,
              "task_id": e.task_id, "ns": e.ns, "ts": e.ts, "body": body, "hash": e.hash, **changes}
    return Event(**fields)


async def read_everything(log: Any, keyed: bool, threads: list[str], states: dict[str, Any],
                          tampered: dict[str, list[Event]]) -> None:
    """Every reader answers from the untouched or the tampered log, or raises LogError."""
    reader = graph().compile(checkpointer=saver_on(log, keyed, 10_000))
    all_states = list(states.values())
    for thread in threads:
        events = tampered[thread]
        allowed = [*all_states]
        try:
            allowed.append(state_at(events, events[-1].seq, exact=False, thread=thread).values)
        except (LogError, IndexError):
            pass
        got = await outcome(reader.aget_state(cfg(thread)))
        if not isinstance(got, LogError):
            assert _plain(got.values) in [_plain(s) for s in allowed], (thread, got.values)
        await outcome(_history(reader, thread))
        await outcome(reader.checkpointer.aget_tuple(cfg(thread)))
        await outcome(_listed(reader, thread))
        if events:
            info = ThreadInfo(thread, events[-1].seq, len(events), 0, events[-1].ts)
            await outcome(_sync(summarize, info, events))
            await outcome(_sync(lambda rows: list(timeline(rows)), events))


async def outcome(awaitable: Any) -> Any:
    try:
        return await awaitable
    except LogError as e:  # a clear lograph error: the only failure allowed
        return e


async def _sync(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def _history(reader: Any, thread: str) -> list[Any]:
    return [s async for s in reader.aget_state_history(cfg(thread))]


async def _listed(reader: Any, thread: str) -> list[Any]:
    return [t async for t in reader.checkpointer.alist(cfg(thread))]


def _plain(values: Any) -> str:
    return repr(sorted(values.items())) if isinstance(values, dict) else repr(values)


async def check_verdicts(log: Any, keyed: bool, original: dict[str, list[Event]],
                         expect: dict[str, int], attack: str) -> None:
    seal = saver_on(log, keyed, 10_000).seal
    for thread, first in expect.items():
        if first < 0:
            continue  # nothing changed (no two rows differ)
        verdict = await verify_thread(log, thread, seal=seal)
        if first == 0:
            assert verdict.head_hash != original[thread][-1].hash, (attack, "head unchanged")
            continue
        assert not verdict.ok, (attack, thread, first)
        assert verdict.chain and verdict.chain[0].seq == first, (attack, first, verdict.chain[:2])


# --- the property, per store and event loop ------------------------------------------------------


def tamper_property(kind: str) -> Any:
    @pytest.mark.timeout(TIMEOUT)
    @pytest.mark.parametrize("backend", ("asyncio", "trio"))
    @settings(max_examples=EXAMPLES[kind], deadline=None, derandomize=not scale(False, True),
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(keyed=st.booleans(), every=st.sampled_from([2, 5, 10_000]),
           runs=st.lists(st.integers(0, 3), min_size=1, max_size=3),
           attack=st.sampled_from(ATTACKS), picks=st.lists(st.integers(0, 2**16), min_size=5, max_size=5))
    def test(backend: str, keyed: bool, every: int, runs: list[int], attack: str, picks: list[int]) -> None:
        anyio.run(one_example, kind, keyed, every, runs, attack, picks, backend=backend)

    return test


test_tampered_rows_are_refused_or_read_right_memory = tamper_property("memory")
test_tampered_rows_are_refused_or_read_right_sqlite = tamper_property("sqlite")
test_tampered_rows_are_refused_or_read_right_postgres = tamper_property("postgres")
