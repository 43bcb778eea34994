"""The base port's contract as test cases (see ``lograph.eventlog.testing``)."""

from __future__ import annotations

import os
import random
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

from ._codec import encode
from ._errors import ConflictError, StoreUnavailableError
from ._event import GENESIS, Event, make_event, verify_link
from ._port import (
    TIERS,
    Append,
    Capability,
    CheckedAppend,
    EventLog,
    ThreadInfo,
    ancestry,
    capabilities,
)


def chain(
    n: int,
    *,
    start: int = 1,
    parent: int | None = None,
    parent_hash: bytes = GENESIS,
    run_id: str = "run-1",
    ts: float = 1_700_000_000.0,
    body: Callable[[int], bytes] = lambda seq: f"body {seq}".encode(),
) -> list[Event]:
    """``n`` events seq ``start``.. each the parent of the next, hash-chained."""
    events: list[Event] = []
    prev_seq = start - 1 if parent is None else parent
    prev_hash = parent_hash
    for seq in range(start, start + n):
        event = make_event(
            prev_hash,
            seq=seq,
            parent=prev_seq,
            kind="node.writes",
            run_id=run_id,
            step=seq,
            task_id=f"task-{seq}",
            ts=ts + seq / 8,
            body=body(seq),
        )
        events.append(event)
        prev_seq, prev_hash = seq, event.hash
    return events


def _seqs(events: list[Event] | None) -> list[int]:
    assert events is not None
    return [e.seq for e in events]


def _bad_appends(prefix: list[Event]) -> dict[str, list[Event]]:
    h = prefix[-1].hash
    return {
        "empty": [],
        "gap": [*chain(1, start=3, parent_hash=h), *chain(1, start=5, parent=3)],
        "restarts at the head": chain(2, start=2, parent_hash=h),
        "skips the head": chain(2, start=4, parent=2, parent_hash=h),
        "parent is itself": [make_event(h, seq=3, parent=3, kind="node.writes", ts=1.0, body=b"x")],
        "parent in the future": [
            make_event(h, seq=3, parent=4, kind="node.writes", ts=1.0, body=b"x")
        ],
    }


class EventLogContract:
    """The base port's promises, one test each. Subclass it per store (see the module).

    ``open_log()`` returns an async context manager that yields a fresh, empty, opened
    log and closes it on exit (closing twice must be safe: some cases close it
    themselves). ``self.tmp_path`` is the test's own directory, for stores on disk.
    Each case asserts concrete values read back, so a store that drops, reorders,
    re-encodes or half-writes anything fails.
    """

    pytestmark = pytest.mark.anyio

    #: the optional tier whose cases this class adds (set by the tiers' contracts)
    tier: ClassVar[Capability | None] = None
    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _contract_tmp_path(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def open_log(self) -> AbstractAsyncContextManager[Any]:
        """An async context manager yielding a fresh, empty, opened log (define it)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define open_log(): an async context manager "
            "yielding a fresh, empty, opened log of the store under test"
        )

    # --- the port itself --------------------------------------------------------------

    async def test_store_implements_the_port(self) -> None:
        async with self.open_log() as log:
            assert isinstance(log, EventLog)

    async def test_declares_exactly_the_tiers_it_is_tested_for(self) -> None:
        async with self.open_log() as log:
            declared = capabilities(log)  # TypeError: a declared tier is not implemented
            for capability in declared:
                protocol = TIERS[capability][0]
                assert isinstance(log, protocol), f"declares {capability} but is no {protocol.__name__}"
        tested = {t for k in type(self).__mro__ if (t := k.__dict__.get("tier")) is not None}
        for capability in declared - tested:
            pytest.fail(f"{type(log).__name__} declares {capability.value!r}: add "
                        f"lograph.eventlog.testing.{TIERS[capability][0].__name__}Contract "
                        f"to {type(self).__name__}'s bases")
        for capability in tested - declared:
            pytest.fail(f"{type(self).__name__} tests {capability.value!r}, which "
                        f"{type(log).__name__} does not declare in its capabilities")

    async def test_append_then_read_round_trips_every_field(self) -> None:
        e1 = make_event(
            GENESIS,
            seq=1,
            parent=0,
            kind="run.started",
            run_id="run-ü",
            step=-1,
            ts=1_700_000_000.123456,
            body=b"",
        )
        e2 = make_event(
            e1.hash,
            seq=2,
            parent=1,
            kind="node.writes",
            run_id="run-ü",
            step=0,
            task_id="task:0:agent",
            ns="outer:1|inner:2",
            ts=1_700_000_000.5,
            body=b"\x00\xff\x00\x80 binary \x00",
        )
        e3 = make_event(
            e2.hash,
            seq=3,
            parent=2,
            kind="checkpoint",
            run_id="run-ü",
            step=2**40,
            task_id="t",
            ts=0.1 + 0.2,
            body=bytes(range(256)),
        )
        async with self.open_log() as log:
            await log.append("t", [e1, e2, e3], 0)
            got = await log.read("t")

        assert got == [e1, e2, e3]
        for stored, sent in zip(got, [e1, e2, e3], strict=True):
            assert type(stored.body) is bytes and stored.body == sent.body
            assert type(stored.hash) is bytes and len(stored.hash) == 32
            assert stored.ts == sent.ts and stored.step == sent.step and stored.ns == sent.ns
        assert got[2].ts == 0.30000000000000004
        assert [verify_link(e, h) for e, h in zip(got, [GENESIS, e1.hash, e2.hash], strict=True)] == [
            True
        ] * 3

    async def test_read_ranges(self) -> None:
        events = chain(6)
        async with self.open_log() as log:
            await log.append("t", events, 0)
            assert await log.read("t") == events
            assert _seqs(await log.read("t", after=2)) == [3, 4, 5, 6]
            assert _seqs(await log.read("t", upto=3)) == [1, 2, 3]
            assert _seqs(await log.read("t", after=2, upto=4)) == [3, 4]
            assert await log.read("t", after=2, upto=4) == events[2:4]
            assert _seqs(await log.read("t", upto=100)) == [1, 2, 3, 4, 5, 6]
            assert await log.read("t", after=6) == []
            assert await log.read("t", after=4, upto=4) == []
            assert await log.read("t", upto=0) == []
            assert await log.read("other") == []

    async def test_head(self) -> None:
        first = chain(3)
        async with self.open_log() as log:
            assert await log.head("t") == 0
            await log.append("t", first, 0)
            assert await log.head("t") == 3
            await log.append("t", chain(2, start=4, parent_hash=first[-1].hash), 3)
            assert await log.head("t") == 5
            assert await log.head("other") == 0

    async def test_head_event_is_the_newest_seq_and_its_hash(self) -> None:
        first = chain(3)
        async with self.open_log() as log:
            assert await log.head_event("t") == (0, b"")
            await log.append("t", first, 0)
            assert await log.head_event("t") == (3, first[-1].hash)
            fork = chain(1, start=4, parent=1, parent_hash=first[0].hash, run_id="fork")
            await log.append("t", fork, 3)
            assert await log.head_event("t") == (4, fork[0].hash)  # the newest seq, any branch
            await log.delete_thread("t")
            assert await log.head_event("t") == (0, b"")
            again = chain(3, run_id="again")
            await log.append("t", again, 0)
            assert await log.head_event("t") == (3, again[-1].hash) != (3, first[-1].hash)

    @pytest.mark.parametrize("case", list(_bad_appends(chain(2))))
    async def test_append_rejects_non_dense_seqs(self, case: str) -> None:
        prefix = chain(2)
        bad = _bad_appends(prefix)[case]
        async with self.open_log() as log:
            await log.append("t", prefix, 0)
            with pytest.raises(ValueError, match="'t'" if bad else "at least one event"):
                await log.append("t", bad, 2)
            assert await log.head("t") == 2
            assert await log.read("t") == prefix

    async def test_stale_expect_head_conflicts_and_writes_nothing(self) -> None:
        prefix = chain(3)
        async with self.open_log() as log:
            await log.append("t", prefix, 0)

            with pytest.raises(ConflictError) as behind:
                await log.append("t", chain(2, start=2, parent_hash=prefix[0].hash, run_id="late"), 1)
            assert behind.value.thread == "t"
            assert behind.value.expected_head == 1
            assert behind.value.actual_head in (3, None)
            assert "'t'" in str(behind.value)

            with pytest.raises(ConflictError) as ahead:
                await log.append("t", chain(1, start=6, parent=3), 5)
            assert ahead.value.expected_head == 5

            with pytest.raises(ConflictError):
                await log.append("fresh", chain(1, start=3, parent=0), 2)

            assert await log.read("t") == prefix
            assert await log.head("t") == 3
            assert await log.read("fresh") == []
            assert [info.thread for info in await log.threads()] == ["t"]

    async def test_an_append_after_another_event_at_the_same_seq_conflicts(self) -> None:
        """A thread deleted and written again reuses seqs: an append that names the hash of
        the event it follows (``parent_hash``) is refused, writing nothing, when the stored
        event at that seq is another one; on the head and on a fork's parent alike."""
        old = chain(3, run_id="old")
        new = chain(3, run_id="new")  # the same seqs, other events
        async with self.open_log() as log:
            await log.append("t", old, 0)
            await log.delete_thread("t")
            await log.append("t", new, 0)
            stale = chain(1, start=4, parent_hash=old[2].hash, run_id="stale")
            fork = chain(1, start=4, parent=1, parent_hash=old[0].hash, run_id="stale")
            for item, parent_hash in ((stale, old[2].hash), (fork, old[0].hash)):
                (error,) = await log.append_batch([Append("t", tuple(item), 3, parent_hash)])
                assert isinstance(error, ConflictError), error
                assert "written again" in str(error)
            assert await log.read("t") == new

            current = chain(1, start=4, parent_hash=new[2].hash, run_id="next")
            forked = chain(1, start=5, parent=1, parent_hash=new[0].hash, run_id="next")
            assert await log.append_batch([Append("t", tuple(current), 3, new[2].hash)]) == [None]
            assert await log.append_batch([Append("t", tuple(forked), 4, new[0].hash)]) == [None]
            assert await log.read("t") == new + current + forked
            # without a parent_hash the store checks the seq alone (the port's older contract)
            assert await log.append_batch([Append("t", tuple(chain(1, start=6, parent=5)), 5)]) == [None]
            # a later item of one batch may fork from an earlier item's event
            six = (await log.read("t"))[-1]
            more = chain(2, start=7, parent_hash=six.hash, run_id="more")
            branch = chain(1, start=9, parent=7, parent_hash=more[0].hash, run_id="branch")
            assert await log.append_batch([
                Append("t", tuple(more), 6, six.hash), Append("t", tuple(branch), 8, more[0].hash),
            ]) == [None, None]
            assert [e.seq for e in await log.read("t")][-3:] == [7, 8, 9]

    async def test_concurrent_appends_with_one_head_exactly_one_wins(self) -> None:
        async with self.open_log() as log:
            for round_ in range(5):
                thread = f"race-{round_}"
                prefix = chain(1)
                await log.append(thread, prefix, 0)
                candidates = {
                    name: chain(2, start=2, parent_hash=prefix[0].hash, run_id=name)
                    for name in ("left", "right")
                }
                outcomes: dict[str, BaseException | None] = {}

                async def attempt(
                    name: str,
                    thread: str = thread,
                    candidates: dict[str, list[Event]] = candidates,
                    outcomes: dict[str, BaseException | None] = outcomes,
                ) -> None:
                    try:
                        await log.append(thread, candidates[name], 1)
                    except ConflictError as e:
                        outcomes[name] = e
                    else:
                        outcomes[name] = None

                async with anyio.create_task_group() as tg:
                    tg.start_soon(attempt, "left")
                    tg.start_soon(attempt, "right")

                winners = [name for name, err in outcomes.items() if err is None]
                losers = [err for err in outcomes.values() if err is not None]
                assert len(winners) == 1, outcomes
                assert len(losers) == 1 and isinstance(losers[0], ConflictError)
                assert await log.read(thread) == prefix + candidates[winners[0]]

    async def test_append_batch_isolates_a_conflict(self) -> None:
        async with self.open_log() as log:
            await _isolates_a_conflict(log, log.append_batch)

    async def test_append_batch_invalid_item_gets_its_value_error(self) -> None:
        async with self.open_log() as log:
            await _invalid_item_gets_its_value_error(log, log.append_batch)

    async def test_append_batch_items_of_one_thread_apply_in_order(self) -> None:
        async with self.open_log() as log:
            await _items_of_one_thread_apply_in_order(log, log.append_batch)

    async def test_branches_follow_parent_links(self) -> None:
        main = chain(4)  # 1 <- 2 <- 3 <- 4
        fork = chain(2, start=5, parent=2, parent_hash=main[1].hash, run_id="fork")  # 2 <- 5 <- 6
        async with self.open_log() as log:
            await log.append("t", main, 0)
            await log.append("t", fork, 4)
            events = await log.read("t")
            assert await log.head("t") == 6
            (info,) = await log.threads()
            assert (info.head, info.events) == (6, 6)

        assert events == main + fork
        assert [e.parent for e in events] == [0, 1, 2, 3, 2, 5]
        assert _seqs(ancestry(events, 4)) == [1, 2, 3, 4]
        assert _seqs(ancestry(events, 6)) == [1, 2, 5, 6]
        assert _seqs(ancestry(events, 6, base=2)) == [5, 6]
        assert ancestry(events, 6, base=3) is None
        for tip in (4, 6):
            branch = ancestry(events, tip)
            assert branch is not None
            hashes = [GENESIS] + [e.hash for e in branch[:-1]]
            assert all(verify_link(e, h) for e, h in zip(branch, hashes, strict=True))

    async def test_threads_lists_every_thread_by_name(self) -> None:
        sizes = {"b": 3, "a": 1, "B": 2, "é": 4, "z": 1, "🧵": 2}

        def repeated(name: str) -> Callable[[int], bytes]:
            return lambda seq: name.encode() * seq

        made = {
            name: chain(n, run_id=name, ts=1000.0 * i, body=repeated(name))
            for i, (name, n) in enumerate(sizes.items())
        }
        async with self.open_log() as log:
            assert await log.threads() == []
            for name, events in made.items():
                await log.append(name, events, 0)
            infos = await log.threads()

        expected = [
            ThreadInfo(name, len(ev), len(ev), sum(len(e.body) for e in ev), ev[-1].ts)
            for name, ev in sorted(made.items())
        ]
        assert [i.thread for i in infos] == ["B", "a", "b", "z", "é", "🧵"]
        assert infos == expected
        assert infos[4].bytes == len("é".encode()) * (1 + 2 + 3 + 4)

    async def test_snapshots(self) -> None:
        events = chain(6)
        async with self.open_log() as log:
            await log.append("t", events, 0)
            assert await log.latest_snapshot("t", 6) is None
            assert await log.snapshots("t") == []

            await log.put_snapshot("t", 2, b"state@2")
            await log.put_snapshot("t", 5, b"state@5\x00\xff")
            await log.put_snapshot("other", 1, b"other@1")
            assert await log.snapshots("t") == [2, 5]
            assert await log.latest_snapshot("t", 1) is None
            assert await log.latest_snapshot("t", 2) == (2, b"state@2")
            assert await log.latest_snapshot("t", 4) == (2, b"state@2")
            assert await log.latest_snapshot("t", 5) == (5, b"state@5\x00\xff")
            assert await log.latest_snapshot("t", 100) == (5, b"state@5\x00\xff")

            await log.put_snapshot("t", 2, b"state@2")  # idempotent
            assert await log.snapshots("t") == [2, 5]
            assert await log.latest_snapshot("t", 3) == (2, b"state@2")

            await log.delete_snapshots("t")
            assert await log.snapshots("t") == []
            assert await log.latest_snapshot("t", 100) is None
            assert await log.read("t") == events
            assert await log.snapshots("other") == [1]
            assert await log.latest_snapshot("other", 1) == (1, b"other@1")

    async def test_delete_thread_removes_that_thread_only(self) -> None:
        gone, kept = chain(3, run_id="gone"), chain(2, run_id="kept")
        async with self.open_log() as log:
            await log.append("gone", gone, 0)
            await log.append("kept", kept, 0)
            await log.put_snapshot("gone", 2, b"g")
            await log.put_snapshot("kept", 1, b"k")

            await log.delete_thread("gone")
            await log.delete_thread("never-existed")

            assert await log.read("gone") == []
            assert await log.head("gone") == 0
            assert await log.snapshots("gone") == []
            assert await log.latest_snapshot("gone", 10) is None
            assert await log.read("kept") == kept
            assert await log.snapshots("kept") == [1]
            assert [i.thread for i in await log.threads()] == ["kept"]

            reborn = chain(1, run_id="reborn")
            await log.append("gone", reborn, 0)
            assert await log.read("gone") == reborn

    async def test_aclose_twice_is_fine(self) -> None:
        async with self.open_log() as log:
            await log.append("t", chain(1), 0)
            await log.aclose()
            await log.aclose()

    async def test_a_closed_log_refuses_every_use(self) -> None:
        async with self.open_log() as log:
            await log.append("t", chain(1), 0)
            await log.aclose()
            uses: list[Callable[[], Awaitable[object]]] = [
                lambda: log.append("t", chain(1, start=2, parent=1), 1),
                lambda: log.read("t"),
                lambda: log.head("t"),
                lambda: log.threads(),
                lambda: log.put_snapshot("t", 1, b"x"),
                lambda: log.latest_snapshot("t", 1),
                lambda: log.delete_thread("t"),
            ]
            for use in uses:
                with pytest.raises(StoreUnavailableError, match="closed"):
                    await use()

    async def test_large_body_round_trips(self) -> None:
        big = random.Random(7).randbytes(1 << 20)
        events = chain(2, body=lambda seq: big if seq == 1 else b"small")
        async with self.open_log() as log:
            await log.append("t", events, 0)
            got = await log.read("t")
            (info,) = await log.threads()
        assert got == events
        assert got[0].body == big and len(got[0].body) == 1 << 20
        assert info.bytes == (1 << 20) + len(b"small")

    async def test_unicode_thread_names_are_exact(self) -> None:
        nfc = unicodedata.normalize("NFC", "café")
        nfd = unicodedata.normalize("NFD", "café")
        names = [nfc, nfd, "日本語のスレッド", "🧵 thread", "Thread", "thread", "tab\tand space "]
        assert len(set(names)) == len(names)
        made = {name: chain(i + 1, run_id=name) for i, name in enumerate(names)}
        async with self.open_log() as log:
            for name, events in made.items():
                await log.append(name, events, 0)
            for name, events in made.items():
                assert await log.read(name) == events
                assert await log.head(name) == len(events)
            infos = await log.threads()
        assert [i.thread for i in infos] == sorted(names)
        assert {i.thread: i.head for i in infos} == {name: len(ev) for name, ev in made.items()}

    async def test_recent_snapshots_are_newest_first_up_to_a_limit(self) -> None:
        async with self.open_log() as log:
            await log.append("t", chain(9), 0)
            for seq in (2, 4, 6, 8):
                await log.put_snapshot("t", seq, f"state@{seq}".encode())
            await log.put_snapshot("other", 5, b"other@5")
            assert await log.recent_snapshots("t", 7, 2) == [(6, b"state@6"), (4, b"state@4")]
            assert await log.recent_snapshots("t", 100, 10) == [
                (8, b"state@8"), (6, b"state@6"), (4, b"state@4"), (2, b"state@2")]
            assert await log.recent_snapshots("t", 1, 5) == []
            assert await log.recent_snapshots("t", 8, 0) == []
            assert await log.recent_snapshots("nobody", 8, 3) == []

    async def test_large_bodies_and_snapshots_read_back_exactly(self) -> None:
        """Stores on disk may keep large bodies and snapshots compressed: never visibly."""
        prose = encode({"messages": [{"role": "ai", "content": "the tool said it was fine " * 40}]}, path="x")
        noise = encode({"blob": os.urandom(600)}, path="x")  # does not compress: kept as it is
        bodies = {1: prose, 2: noise, 3: b"\xa0"}
        events = chain(3, body=lambda seq: bodies[seq])
        async with self.open_log() as log:
            await log.append("t", events, 0)
            assert await log.read("t") == events
            parents = [GENESIS] + [e.hash for e in events[:-1]]
            assert all(verify_link(e, p) for e, p in zip(events, parents, strict=True))
            await log.put_snapshot("t", 1, prose)
            await log.put_snapshot("t", 2, noise)
            assert await log.latest_snapshot("t", 1) == (1, prose)
            assert await log.recent_snapshots("t", 2, 5) == [(2, noise), (1, prose)]


# --- append_batch's contract, shared by the base port and the inline tier -------------------

AppendBatch = Callable[[Sequence[Append]], Any]


async def _isolates_a_conflict(log: Any, append_batch: AppendBatch) -> None:
    a, b_prefix, c = chain(2, run_id="a"), chain(2, run_id="b"), chain(1, run_id="c")
    stale_b = chain(1, run_id="b-late")
    await log.append("b", b_prefix, 0)
    results = await append_batch(
        [Append("a", tuple(a), 0), Append("b", tuple(stale_b), 0), Append("c", tuple(c), 0)]
    )
    assert len(results) == 3
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ConflictError)
    assert results[1].thread == "b" and results[1].expected_head == 0
    assert await log.read("a") == a
    assert await log.read("b") == b_prefix
    assert await log.read("c") == c


async def _invalid_item_gets_its_value_error(log: Any, append_batch: AppendBatch) -> None:
    a, c, d = chain(1, run_id="a"), chain(2, run_id="c"), chain(1, run_id="d")
    gap = [*chain(1), *chain(1, start=3, parent=1)]
    # a store skips its own check only for a CheckedAppend (checked when made): every
    # other item is checked, next to checked ones too
    results = await append_batch([
        Append("a", tuple(a), 0), Append("b", tuple(gap), 0), Append("c", tuple(c), 0),
        CheckedAppend("d", d, 0), Append("e", tuple(d), 5),
    ])
    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], ValueError) and isinstance(results[4], ValueError)
    assert await log.read("a") == a
    assert await log.read("b") == []
    assert await log.read("c") == c
    assert await log.read("d") == d
    assert await log.read("e") == []


async def _items_of_one_thread_apply_in_order(log: Any, append_batch: AppendBatch) -> None:
    first = chain(2)
    second = chain(1, start=3, parent_hash=first[-1].hash)
    again = chain(1, run_id="again")
    assert await append_batch([]) == []
    results = await append_batch(
        [
            Append("t", tuple(first), 0),
            Append("t", tuple(second), 2),
            Append("t", tuple(again), 0),
        ]
    )
    assert results[:2] == [None, None]
    assert isinstance(results[2], ConflictError)
    assert await log.read("t") == first + second


APPEND_BATCH_CASES = {
    "isolates a conflict": _isolates_a_conflict,
    "an invalid item fails alone": _invalid_item_gets_its_value_error,
    "items of one thread apply in order": _items_of_one_thread_apply_in_order,
}
