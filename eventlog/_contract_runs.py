"""The runs tier's contract (``Capability.RUNS``): run records, claims, leases, fencing."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from ._contract import EventLogContract, chain
from ._errors import ConflictError, LeaseLostError, RunBusyError
from ._port import Append, Capability
from ._runs import Lease, NewRun, RunEnd, RunRecord


def new(run_id: str, thread: str = "t", **kw: Any) -> NewRun:
    kw.setdefault("input", f"input of {run_id}".encode())
    return NewRun(run_id, thread, **kw)


async def claim_at_once(log: Any, workers: int, limit: int | None = None) -> list[RunRecord]:
    """What ``workers`` claims made at the same time took."""
    claimed: list[RunRecord] = []

    async def claimer(name: str) -> None:
        got = await log.claim_run(name, 30, limit=limit)
        if got is not None:
            claimed.append(got[0])

    async with anyio.create_task_group() as tg:
        for w in range(workers):
            tg.start_soon(claimer, f"w{w}")
    return claimed


class RunQueueContract(EventLogContract):
    """The runs tier, with the base port's cases."""

    tier = Capability.RUNS

    async def test_a_run_is_recorded_as_given_and_read_back(self) -> None:
        async with self.open_log() as log:
            before = time.time() - 5
            run, created = await log.create_run(new(
                "r1", config=b"cfg", durability="sync", idempotency_key="k",
                metadata={"user": "ann", "n": 3, "x": 1.5, "ok": True}, timeout=30.0))
            assert created
            assert (run.run_id, run.thread, run.status, run.input, run.config) == (
                "r1", "t", "pending", b"input of r1", b"cfg")
            assert (run.durability, run.strategy, run.idempotency_key, run.timeout) == (
                "sync", "enqueue", "k", 30.0)
            assert run.metadata == {"user": "ann", "n": 3, "x": 1.5, "ok": True}
            assert before <= run.created <= time.time() + 5
            assert (run.attempts, run.worker, run.result, run.error, run.stop) == (0, None, None, None, None)
            assert await log.get_run("r1") == run
            assert await log.get_run("nobody") is None
            assert await log.list_runs() == [run]

    async def test_an_idempotency_key_returns_the_recorded_run(self) -> None:
        async with self.open_log() as log:
            first, created = await log.create_run(new("r1", idempotency_key="key"))
            again, created_again = await log.create_run(new("r2", idempotency_key="key"))
            assert created and not created_again and again == first
            other, created_other = await log.create_run(new("r3", "t2", idempotency_key="key"))
            assert created_other and other.run_id == "r3"  # per thread
            assert {r.run_id for r in await log.list_runs()} == {"r1", "r3"}

    async def test_bad_runs_are_refused_before_anything_is_recorded(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            with pytest.raises(ValueError, match="already recorded"):
                await log.create_run(new("r1"))
            for bad in (new("a", strategy="sometimes"), new("b", durability="maybe"),
                        new("c", metadata={"k": [1]}), new("d", metadata={"k": float("nan")}),
                        new("e", "bad\x00thread"), new("f", timeout=-1)):
                with pytest.raises(ValueError):
                    await log.create_run(bad)
            assert [r.run_id for r in await log.list_runs()] == ["r1"]

    async def test_a_threads_runs_are_claimed_in_order_one_at_a_time(self) -> None:
        async with self.open_log() as log:
            assert await log.claim_run("w", 30) is None
            for run_id, thread in (("a1", "a"), ("a2", "a"), ("b1", "b")):
                await log.create_run(new(run_id, thread))
            got = await log.claim_run("w1", 30)
            assert got is not None
            run, lease = got
            assert (run.run_id, run.status, run.worker, run.attempts) == ("a1", "running", "w1", 1)
            assert lease.run_id == "a1" and run.lease_expires is not None
            second = await log.claim_run("w2", 30)
            assert second is not None and second[0].run_id == "b1"  # a2 waits for a1
            assert await log.claim_run("w3", 30) is None
            await log.finish_run(lease, "success", result=b"out")
            third = await log.claim_run("w3", 30)
            assert third is not None and third[0].run_id == "a2"
            done = await log.get_run("a1")
            assert done is not None and (done.status, done.result, done.error) == ("success", b"out", None)
            assert done.finished is not None and done.done

    async def test_a_first_claim_records_the_threads_head(self) -> None:
        async with self.open_log() as log:
            events = chain(3)
            await log.append("t", events, 0)
            await log.create_run(new("r1"))
            got = await log.claim_run("w", 0.2)
            # the head's hash too, read with it: the run's first read
            assert got is not None and (got[0].first_seq, got[0].head_hash) == (3, events[2].hash)
            assert (await log.get_run("r1")).head_hash is None  # (the claim's answer alone)
            await log.create_run(new("r2", "fresh"))
            fresh = await log.claim_run("w", 30)
            assert fresh is not None and (fresh[0].first_seq, fresh[0].head_hash) == (0, b"")
            await anyio.sleep(0.3)
            again = await log.claim_run("w2", 30)  # a takeover: the head may have moved on
            assert again is not None and (again[0].attempts, again[0].head_hash) == (2, None)

    async def test_an_expired_lease_is_taken_over_and_fences_its_old_holder(self) -> None:
        async with self.open_log() as log:
            events = chain(4)
            await log.append("t", events[:1], 0)
            await log.create_run(new("r1"))
            got = await log.claim_run("w1", 0.3)
            assert got is not None
            old = got[1]
            await log.append_batch([Append("t", (events[1],), 1, events[0].hash, lease=old)])
            assert await log.claim_run("w2", 30) is None  # still held
            await anyio.sleep(0.4)
            # expired: the old holder can no longer write, even before anyone claims it
            [error] = await log.append_batch([Append("t", (events[2],), 2, events[1].hash, lease=old)])
            assert isinstance(error, LeaseLostError)
            with pytest.raises(LeaseLostError):
                await log.renew_lease(old, 30)
            taken = await log.claim_run("w2", 30)
            assert taken is not None
            run, lease = taken
            assert (run.run_id, run.worker, run.attempts, run.first_seq) == ("r1", "w2", 2, 1)
            assert lease.token != old.token
            [error] = await log.append_batch([Append("t", (events[2],), 2, events[1].hash, lease=old)])
            assert isinstance(error, LeaseLostError)
            with pytest.raises(LeaseLostError):
                await log.finish_run(old, "success")
            assert await log.head("t") == 2
            [ok] = await log.append_batch([Append("t", (events[2],), 2, events[1].hash, lease=lease)])
            assert ok is None
            renewed = await log.renew_lease(lease, 60)
            assert renewed.lease_expires is not None and renewed.lease_expires > time.time() + 30

    async def test_a_fenced_item_fails_alone_and_a_conflict_stays_a_conflict(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            got = await log.claim_run("w", 30)
            assert got is not None
            good = got[1]
            stale = Lease("r1", "not-the-token")
            a, b = chain(2), chain(2, run_id="other")
            results = await log.append_batch([
                Append("a", tuple(a), 0, lease=stale),
                Append("b", tuple(b), 0, lease=good),
                Append("c", tuple(chain(1)), 0, lease=Lease("nobody", "x")),
            ])
            assert isinstance(results[0], LeaseLostError) and results[1] is None
            assert isinstance(results[2], LeaseLostError)
            assert await log.head("a") == 0 and await log.head("b") == 2 and await log.head("c") == 0
            [conflict] = await log.append_batch([Append("b", tuple(chain(1)), 0, lease=good)])
            assert isinstance(conflict, ConflictError)

    async def test_finishing_records_the_outcome_once(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            got = await log.claim_run("w", 30)
            assert got is not None
            with pytest.raises(ValueError, match="ends with"):
                await log.finish_run(got[1], "running")
            ended = await log.finish_run(got[1], "error", error="ValueError: boom")
            assert (ended.status, ended.error, ended.result) == ("error", "ValueError: boom", None)
            with pytest.raises(LeaseLostError):
                await log.finish_run(got[1], "success")
            [error] = await log.append_batch([Append("t", tuple(chain(1)), 0, lease=got[1])])
            assert isinstance(error, LeaseLostError)

    async def test_strategies_reject_and_interrupt(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            with pytest.raises(RunBusyError):
                await log.create_run(new("r2", strategy="reject"))
            assert await log.get_run("r2") is None
            got = await log.claim_run("w", 30)
            assert got is not None
            await log.create_run(new("r3", strategy="interrupt"))
            running = await log.get_run("r1")
            assert running is not None and running.stop == "interrupt"
            renewed = await log.renew_lease(got[1], 30)
            assert renewed.stop == "interrupt"  # a heartbeat learns it
            await log.finish_run(got[1], "interrupted")
            nxt = await log.claim_run("w", 30)
            assert nxt is not None and nxt[0].run_id == "r3"
            await log.create_run(new("r4", "free", strategy="reject"))  # an idle thread: fine

    async def test_stopping_a_run(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            await log.create_run(new("r2"))
            got = await log.claim_run("w", 30)
            assert got is not None
            with pytest.raises(ValueError):
                await log.stop_run("r1", "pause")
            running = await log.stop_run("r1")
            assert running is not None and (running.status, running.stop) == ("running", "cancel")
            pending = await log.stop_run("r2")
            assert pending is not None and pending.status == "cancelled" and pending.finished is not None
            await log.finish_run(got[1], "cancelled")
            ended = await log.stop_run("r1", "interrupt")
            assert ended is not None and (ended.status, ended.stop) == ("cancelled", "cancel")
            assert await log.stop_run("nobody") is None
            assert await log.claim_run("w", 30) is None  # r2 never runs

    async def test_listing_and_counting_runs(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1", "a", metadata={"user": "ann", "n": 1}))
            await anyio.sleep(0.02)
            middle = time.time()
            await anyio.sleep(0.02)
            await log.create_run(new("r2", "a", metadata={"user": "bob", "n": True}))
            await log.create_run(new("r3", "b", metadata={"user": "ann", "n": "1"}))
            got = await log.claim_run("w", 30)
            assert got is not None

            async def ids(**kw: Any) -> list[str]:
                return [r.run_id for r in await log.list_runs(**kw)]

            assert await ids() == ["r3", "r2", "r1"]
            assert await ids(thread="a") == ["r2", "r1"]
            assert await ids(status="pending") == ["r3", "r2"]
            assert await ids(status=["running", "success"]) == ["r1"]
            assert await ids(metadata={"user": "ann"}) == ["r3", "r1"]
            assert await ids(metadata={"n": 1}) == ["r1"]  # 1, True and "1" are three values
            assert await ids(metadata={"n": True}) == ["r2"]
            assert await ids(metadata={"user": "ann", "n": "1"}) == ["r3"]
            assert await ids(since=middle) == ["r3", "r2"]
            assert await ids(until=middle) == ["r1"]
            assert await ids(limit=1) == ["r3"]
            assert await log.run_counts() == {"pending": 2, "running": 1}
            for bad in ({"status": "lost"}, {"limit": 0}, {"metadata": {"k": [1]}}):
                with pytest.raises(ValueError):
                    await log.list_runs(**bad)

    async def test_deleting_a_thread_deletes_its_runs(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            await log.create_run(new("r2", "kept"))
            got = await log.claim_run("w", 30)
            assert got is not None
            await log.delete_thread("t")
            assert await log.get_run("r1") is None
            [error] = await log.append_batch([Append("t", tuple(chain(1)), 0, lease=got[1])])
            assert isinstance(error, LeaseLostError)
            assert [r.run_id for r in await log.list_runs()] == ["r2"]

    async def test_concurrent_claims_take_each_run_once_and_one_per_thread(self) -> None:
        # Claims made at once take every thread's oldest run between them: none comes
        # back empty while a run it could take waits (rounds: a race shows in some only).
        async with self.open_log() as log:
            for rnd in range(12):
                for i in range(12):
                    await log.create_run(new(f"{rnd}r{i}", f"{rnd}t{i % 4}"))
                claimed = await claim_at_once(log, 8)
                assert sorted(r.run_id for r in claimed) == [f"{rnd}r{i}" for i in range(4)], rnd
                running = await log.list_runs(status="running")
                assert sorted(r.thread for r in running if r.thread.startswith(f"{rnd}t")) == [
                    f"{rnd}t{i}" for i in range(4)]

    async def test_a_claim_after_a_rolled_back_run_says_where_that_run_began(self) -> None:
        async with self.open_log() as log:
            await log.append("t", chain(2), 0)
            await log.create_run(new("r1"))
            first = await log.claim_run("w", 30)
            assert first is not None and first[0].prior_rollback == 0
            await log.append_batch([Append("t", tuple(chain(4)[2:]), 2, lease=first[1])])
            await log.create_run(new("r2", strategy="rollback"))
            await log.create_run(new("r3"))
            await log.finish_run(first[1], "cancelled")
            second = await log.claim_run("w", 30)
            assert second is not None and second[0].run_id == "r2"
            assert second[0].prior_rollback == 2  # r1 began at the thread's head then
            await log.finish_run(second[1], "success")
            third = await log.claim_run("w", 30)
            assert third is not None and third[0].prior_rollback == 0  # r2 was not rolled back

    async def test_watches_wake_on_what_they_watch(self) -> None:
        async with self.open_log() as log:
            async with log.watch_runs() as claimable, log.watch_runs("r1") as r1:
                assert not await claimable.wait(0.01)  # nothing happened: the timeout
                await log.create_run(new("r1"))
                with anyio.fail_after(5):
                    assert await claimable.wait(30)
                assert not await r1.wait(0.01)  # recorded, not ended
                got = await log.claim_run("w", 30)
                assert got is not None and not got[0].queued  # nothing else pending
                await log.stop_run("r1")
                with anyio.fail_after(5):
                    assert await r1.wait(30)  # asked to stop
                await log.create_run(new("r2"))
                with anyio.fail_after(5):
                    assert await claimable.wait(30)
                await log.finish_run(got[1], "cancelled")
                with anyio.fail_after(5):
                    assert await r1.wait(30)
                    assert await claimable.wait(30)  # its thread is free for r2
                assert r1.record is not None and r1.record.status == "cancelled"
                nxt = await log.claim_run("w", 30)
                assert nxt is not None and nxt[0].run_id == "r2"
                await log.finish_run(nxt[1], "success")
                assert not await claimable.wait(0.05)  # nothing waits: workers sleep on

    async def test_a_claim_says_whether_other_runs_are_pending(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1", "a"))
            await log.create_run(new("r2", "a"))  # behind r1 on its thread: pending all the same
            await log.create_run(new("r3", "b"))
            first = await log.claim_run("w", 30)
            assert first is not None and first[0].queued
            second = await log.claim_run("w", 30)
            assert second is not None and second[0].run_id == "r3" and second[0].queued
            assert await log.claim_run("w", 30) is None
            await log.finish_run(first[1], "success")
            last = await log.claim_run("w", 30)
            assert last is not None and last[0].run_id == "r2" and not last[0].queued

    async def test_a_claim_is_not_queued_for_runs_no_worker_of_its_graph_takes(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1", "a"))
            _, lease = await log.enter_run(NewRun("d1", "a", b""), "me", 30)  # waits behind r1
            await log.create_run(new("g1", "b", graph="other"))  # another graph's
            first = await log.claim_run("w", 30, graph="mine")
            assert first is not None and first[0].run_id == "r1"
            assert not first[0].queued  # a claim now would find nothing
            assert await log.claim_run("w", 30, graph="mine") is None
            await log.finish_run(first[1], "success")
            taken = await log.take_run(lease, 30)
            assert taken.status == "running"
            await log.create_run(new("r2", "c"))
            second = await log.claim_run("w", 30, graph="other")
            assert second is not None and second[0].run_id == "g1" and second[0].queued

    async def test_a_claim_under_a_limit_counts_the_running_runs(self) -> None:
        async with self.open_log() as log:
            for i in range(3):
                await log.create_run(new(f"r{i}", f"t{i}"))
            with pytest.raises(ValueError):
                await log.claim_run("w", 30, limit=0)
            first = await log.claim_run("w", 0.3, limit=1)
            assert first is not None and first[0].run_id == "r0"
            assert await log.claim_run("w", 30, limit=1) is None  # r0 runs
            second = await log.claim_run("w", 30, limit=2)
            assert second is not None and second[0].run_id == "r1"
            await anyio.sleep(0.4)  # r0's lease ran out: its worker counts no more
            again = await log.claim_run("w", 30, limit=2)
            assert again is not None and (again[0].run_id, again[0].attempts) == ("r0", 2)
            assert await log.claim_run("w", 30, limit=2) is None
            await log.finish_run(second[1], "success")
            last = await log.claim_run("w", 30, limit=2)
            assert last is not None and last[0].run_id == "r2"

    async def test_a_graphs_runs_are_claimed_and_limited_by_its_name(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("a1", "t1", graph="a"))
            await log.create_run(new("a2", "t2", graph="a"))
            await log.create_run(new("b1", "t3", graph="b"))
            await log.create_run(new("any", "t4"))  # for no graph: any worker's
            for bad in ("x\x00", 7):
                with pytest.raises(ValueError, match="graph"):
                    await log.create_run(new("bad", graph=bad))
            assert [r.run_id for r in await log.list_runs(graph="a")] == ["a2", "a1"]
            found = await log.get_run("b1")
            assert found is not None and found.graph == "b"
            first = await log.claim_run("w", 30, graph="a", limit=1)
            assert first is not None and (first[0].run_id, first[0].graph) == ("a1", "a")
            assert await log.claim_run("w", 30, graph="a", limit=1) is None  # a1 runs: a's limit
            other = await log.claim_run("w", 30, graph="b", limit=1)  # b's limit is its own
            assert other is not None and other[0].run_id == "b1"
            # a worker of graph c takes only the run for no graph, and names it c's
            anyone = await log.claim_run("w", 30, graph="c", limit=1)
            assert anyone is not None and (anyone[0].run_id, anyone[0].graph) == ("any", "c")
            assert [r.run_id for r in await log.list_runs(graph="c")] == ["any"]
            assert await log.claim_run("w", 30, graph="c") is None
            assert await log.claim_run("w", 30, limit=3) is None  # no graph: the store's count
            second = await log.claim_run("w", 30, graph="a", limit=2)
            assert second is not None and second[0].run_id == "a2"

    async def test_concurrent_claims_under_a_limit_never_exceed_it(self) -> None:
        async with self.open_log() as log:
            for i in range(12):
                await log.create_run(new(f"r{i}", f"t{i}"))
            claimed = await claim_at_once(log, 8, limit=3)
            assert sorted(r.run_id for r in claimed) == ["r0", "r1", "r2"]

    # -- in-process runs (``enter_run``: a direct ``ainvoke``'s place in its thread's queue)

    async def test_an_in_process_run_on_an_idle_thread_runs_at_once_and_no_worker_claims_it(
        self,
    ) -> None:
        async with self.open_log() as log:
            events = chain(3)
            await log.append("t", events[:2], 0)
            mine, lease = await log.enter_run(NewRun("d1", "t", b""), "me", 30)
            assert (mine.status, mine.first_seq, mine.worker, mine.in_process) == (
                "running", 2, "me", True)
            await log.create_run(new("r1"))  # a submitted run behind it waits
            assert await log.claim_run("w", 30) is None
            [ok] = await log.append_batch([Append("t", (events[2],), 2, events[1].hash, lease=lease)])
            assert ok is None  # its lease fences its appends
            await log.drop_run(lease)
            assert [r.run_id for r in await log.list_runs()] == ["r1"]
            claimed = await log.claim_run("w", 30)
            assert claimed is not None and claimed[0].run_id == "r1"
            with pytest.raises(ValueError):  # a submitted run needs its input; a direct one none
                await log.create_run(NewRun("r2", "t", b""))
            with pytest.raises(ValueError):
                await log.enter_run(NewRun("d2", "t", b"input"), "me", 30)

    async def test_an_in_process_run_waits_its_turn_and_strategies_act_on_the_running_one(
        self,
    ) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            claimed = await log.claim_run("w", 30)
            assert claimed is not None
            with pytest.raises(RunBusyError):
                await log.enter_run(NewRun("d0", "t", b"", strategy="reject"), "me", 30)
            waiting, lease = await log.enter_run(NewRun("d1", "t", b"", strategy="interrupt"), "me", 30)
            assert waiting.status == "pending"
            assert (await log.get_run("r1")).stop == "interrupt"
            assert (await log.take_run(lease, 30)).status == "pending"
            await log.finish_run(claimed[1], "interrupted")
            taken = await log.take_run(lease, 30)
            assert (taken.status, taken.attempts) == ("running", 1)
            await log.drop_run(lease)
            await log.drop_run(lease)  # once dropped, nothing more
            assert [r.run_id for r in await log.list_runs()] == ["r1"]

    async def test_an_in_process_run_whose_caller_died_is_ended_by_the_next_caller(self) -> None:
        async with self.open_log() as log:
            dead, dead_lease = await log.enter_run(NewRun("d1", "t", b""), "gone", 0.2)
            queued, _ = await log.enter_run(NewRun("d2", "t", b""), "gone", 0.2)
            assert (dead.status, queued.status) == ("running", "pending")
            await anyio.sleep(0.3)
            mine, lease = await log.enter_run(NewRun("d3", "t", b""), "me", 30)
            assert mine.status == "running"
            ended = {r.run_id: (r.status, r.error) for r in await log.list_runs()}
            assert ended["d1"][0] == "error" and ended["d2"][0] == "cancelled"
            assert "stopped renewing its lease" in str(ended["d1"][1])
            assert (await log.take_run(dead_lease, 30)).status == "error"  # it learns how it ended
            [lost] = await log.append_batch([Append("t", tuple(chain(1)), 0, lease=dead_lease)])
            assert isinstance(lost, LeaseLostError)  # and cannot write
            # a worker's claim ends them too: the thread is not blocked for good
            await log.drop_run(lease)
            await log.enter_run(NewRun("d4", "t2", b""), "gone", 0.2)
            await log.create_run(new("r1", "t2"))
            await anyio.sleep(0.3)
            claimed = await log.claim_run("w", 30)
            assert claimed is None or claimed[0].run_id == "r1"
            if claimed is None:  # (PostgreSQL: the claim that ends it sees the thread busy)
                claimed = await log.claim_run("w", 30)
            assert claimed is not None and claimed[0].run_id == "r1"

    async def test_an_in_process_run_taken_at_once_knows_the_head_and_drops_with_its_last_append(
        self,
    ) -> None:
        async with self.open_log() as log:
            events = chain(4)
            await log.append("t", events[:2], 0)
            mine, lease = await log.enter_run(NewRun("d1", "t", b""), "me", 30)
            # the head, read in the transaction that took the place: no read of its own
            assert (mine.status, mine.first_seq, mine.head_hash) == ("running", 2, events[1].hash)
            empty, other = await log.enter_run(NewRun("d2", "fresh", b""), "me", 30)
            assert (empty.first_seq, empty.head_hash) == (0, b"")
            await log.drop_run(other)
            # a last append that fails (a conflict, here) drops nothing
            [conflict] = await log.append_batch([
                Append("t", (events[2],), 2, b"\x00" * 32, lease=lease, drops_run=True)])
            assert isinstance(conflict, ConflictError)
            assert (await log.get_run("d1")) is not None
            [ok] = await log.append_batch([
                Append("t", (events[2],), 2, events[1].hash, lease=lease)])
            assert ok is None and (await log.get_run("d1")) is not None  # not its last: kept
            # the last one goes with its record, in one transaction
            [ok] = await log.append_batch([
                Append("t", (events[3],), 3, events[2].hash, lease=lease, drops_run=True)])
            assert ok is None and await log.head("t") == 4
            assert await log.get_run("d1") is None and await log.list_runs() == []
            after, _ = await log.enter_run(NewRun("d3", "t", b""), "me", 30)
            assert (after.status, after.head_hash) == ("running", events[3].hash)

    async def test_a_last_append_under_a_lost_lease_writes_and_drops_nothing(self) -> None:
        async with self.open_log() as log:
            dead, dead_lease = await log.enter_run(NewRun("d1", "t", b""), "gone", 0.2)
            assert dead.head_hash == b""
            await anyio.sleep(0.3)
            await log.enter_run(NewRun("d2", "t", b""), "me", 30)  # ends d1
            [lost] = await log.append_batch([
                Append("t", tuple(chain(1)), 0, lease=dead_lease, drops_run=True)])
            assert isinstance(lost, LeaseLostError) and await log.head("t") == 0
            assert (await log.get_run("d1")).status == "error"  # kept, with how it ended
            assert (await log.get_run("d2")).status == "running"

    async def test_a_workers_last_append_records_its_runs_end(self) -> None:
        async with self.open_log() as log:
            events = chain(4)
            await log.create_run(new("r1"))
            await log.create_run(new("r2"))  # (pending: the end says workers have more)
            got = await log.claim_run("w", 30)
            assert got is not None
            lease = got[1]
            await log.append_batch([Append("t", tuple(events[:2]), 0, lease=lease)])
            # an append that fails (a conflict, here) ends nothing
            failed = RunEnd("success", b"out")
            [conflict] = await log.append_batch([
                Append("t", (events[2],), 2, b"\x00" * 32, lease=lease, ends_run=failed)])
            assert isinstance(conflict, ConflictError) and failed.record is None
            assert (await log.get_run("r1")).status == "running"
            async with log.watch_runs("r1") as woken, log.watch_runs() as claimable:
                end = RunEnd("interrupted", b"out")
                [ok] = await log.append_batch([
                    Append("t", tuple(events[2:]), 2, events[1].hash, lease=lease, ends_run=end)])
                assert ok is None and await log.head("t") == 4
                with anyio.fail_after(5):  # waiters are woken as by finish_run, with the record
                    assert await woken.wait(30) and await claimable.wait(30)
            ended = await log.get_run("r1")
            assert ended is not None and end.record == ended == woken.record
            assert (ended.status, ended.result, ended.error, ended.lease_expires) == (
                "interrupted", b"out", None, None)
            assert ended.finished is not None and ended.attempts == 1
            with pytest.raises(LeaseLostError):  # ended once: its lease ends nothing more
                await log.finish_run(lease, "error")
            [lost] = await log.append_batch([Append("t", tuple(chain(5))[4:], 4, events[3].hash,
                                                    lease=lease, ends_run=RunEnd("success"))])
            assert isinstance(lost, LeaseLostError) and await log.head("t") == 4
            with pytest.raises(ValueError, match="ends with"):
                RunEnd("running")

    async def test_a_last_append_under_an_expired_lease_ends_nothing(self) -> None:
        async with self.open_log() as log:
            await log.create_run(new("r1"))
            got = await log.claim_run("w", 0.2)
            assert got is not None
            await anyio.sleep(0.3)
            end = RunEnd("success", b"out")
            [lost] = await log.append_batch([Append("t", tuple(chain(1)), 0, lease=got[1],
                                                    ends_run=end)])
            assert isinstance(lost, LeaseLostError) and end.record is None
            assert await log.head("t") == 0 and (await log.get_run("r1")).status == "running"
            taken = await log.claim_run("w2", 30)  # another worker takes it over, and ends it
            assert taken is not None and taken[0].attempts == 2
            mine = RunEnd("success", b"theirs")
            other = chain(1)
            [ok, ok2] = await log.append_batch([
                Append("u", tuple(other), 0),  # (an unfenced item in the same batch)
                Append("t", tuple(chain(1)), 0, lease=taken[1], ends_run=mine)])
            assert ok is None and ok2 is None and mine.record is not None
            assert (await log.get_run("r1")).result == b"theirs"
