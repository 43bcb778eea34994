"""What a submitted run costs the store beyond a direct run of the same graph (issue 21's
"background run's overhead"), and that what it saves keeps every promise: the claim
reads the thread's head (the run reads it no more); the claim needs no flush of its
own, so a crash may lose it, which leaves the run to the next claim; the run's end is
recorded with its last append, so no crash can leave a finished run to a takeover.
On every store, on asyncio and trio.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import MemoryLog, RunRecord
from lograph.runtime import END, START, Command, RunError, Runs, StateGraph, Worker
from lograph.runtime._runs import decode_input
from tests._stores import open_saver
from tests.test_runs import Gates, S

pytestmark = pytest.mark.anyio

CONFIG = {"configurable": {"thread_id": "t"}}
READS = ("head", "head_event", "load_head", "read", "latest_snapshot", "recent_snapshots")


#: what the store is asked for a run (beyond the reads)
CALLS = ("create_run", "claim_run", "append_batch", "finish_run", "get_run", "renew_lease",
         "drop_run", "enter_run", "take_run")


def count_reads(saver: Any, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...] = READS,
                ) -> list[str]:
    """The names of the log's reads of thread state (or ``names``) from now on, as they
    are made."""
    made: list[str] = []
    for name in names:
        method = getattr(saver.log, name, None)
        if method is None:
            continue

        async def counted(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
            made.append(_name)
            return await _method(*args, **kw)

        monkeypatch.setattr(saver.log, name, counted)
    return made


async def forget_claim(kind: str, saver: Any, tmp_path: Path, before: RunRecord) -> None:
    """Put the run's record back as it was before a claim (what a crash that lost the
    claim's commit, never flushed, leaves behind)."""
    if kind == "memory":
        assert isinstance(saver.log, MemoryLog)
        saver.log._runs.runs[before.run_id] = before
        saver.log._runs._tokens.pop(before.run_id, None)
        return
    sql = ("UPDATE {runs} SET status = {p}, worker = {p}, token = NULL, lease_expires = {p}, "
           "started = {p}, attempts = {p}, first_seq = {p} WHERE run_id = {p}")
    args = (before.status, before.worker, before.lease_expires, before.started, before.attempts,
            before.first_seq, before.run_id)
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "saver.db") as conn:
            conn.execute(sql.format(runs="runs", p="?"), args)
        return
    numbered = sql.format(runs=f'"{saver.log.schema}".runs', p="{}")
    numbered = numbered.format(*(f"${i}" for i in range(1, len(args) + 1)))
    await saver.log._call("test", lambda conn: conn.execute(numbered, *args))


async def test_a_claimed_run_reads_the_threads_head_no_more(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first claim reads the thread's head in its own statement: the run starts there
    without reading it again, on a thread this process knows and on a new one."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates()
        graph = gates.graph(saver)
        await graph.ainvoke({"log": ["direct"]}, CONFIG)  # (this process's fold of "t")
        runs = Runs(saver)
        worker = Worker(graph, lease=30, poll=0.01)
        for thread in ("t", "new"):
            handle = await runs.submit(thread, {"log": ["in"]}, durability="sync")
            reads = count_reads(saver, monkeypatch)
            done = await worker.run_once()
            assert done is not None and done.status == "success"
            assert reads == [], thread
            monkeypatch.undo()
            assert await handle.join() == {
                "log": ["direct", "a", "b", "c"] * (thread == "t") + ["in", "a", "b", "c"]}


async def test_a_run_claimed_before_this_process_wrote_its_thread_starts_from_what_it_wrote(
    store_kind: str, tmp_path: Path,
) -> None:
    """The head a claim read is not used once this process has written the thread since
    (a plain call ran on it in between, on a store that keeps no turns): the run reads the
    head, as before. Where turns are kept (SQLite, PostgreSQL) the plain call waits
    behind the claimed run instead."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")
        claimed = await saver.log.claim_run("w", 30)
        assert claimed is not None and claimed[0].head_hash == b""
        if saver.turns is None:
            await graph.ainvoke({"log": ["direct"]}, CONFIG)
            final = await Worker(graph, lease=30).execute(*claimed)
            assert final is not None and final.status == "success"
            assert await handle.join() == {"log": ["direct", "a", "b", "c", "in", "a", "b", "c"]}
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(graph.ainvoke, {"log": ["direct"]}, CONFIG)
            await anyio.sleep(0.2)
            assert await graph.aget_state(CONFIG) is not None
            assert (await graph.aget_state(CONFIG)).values == {}  # it waits, writing nothing
            final = await Worker(graph, lease=30).execute(*claimed)
            assert final is not None and final.status == "success"
        assert (await graph.aget_state(CONFIG)).values == {
            "log": ["in", "a", "b", "c", "direct", "a", "b", "c"]}


async def test_a_claim_lost_in_a_crash_leaves_its_run_to_the_next_claim(
    store_kind: str, tmp_path: Path,
) -> None:
    """A claim is committed without waiting for the disk: a crash may lose it (its run is
    pending again). Its worker cannot write (its first append, before any node runs,
    is fenced by the lost lease), so the next claim runs the run from its input, once."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates()
        graph = gates.graph(saver)
        handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")
        before = await saver.log.get_run(handle.run_id)
        claimed = await saver.log.claim_run("w1", 30)
        assert claimed is not None and before is not None
        await forget_claim(store_kind, saver, tmp_path, before)
        worker = Worker(graph, lease=30, poll=0.01)
        assert await worker.execute(*claimed) is None  # refused: it wrote nothing
        assert gates.ran == [] and await saver.log.head("t") == 0
        assert replace(await saver.log.get_run(handle.run_id), updated=0) == replace(before, updated=0)
        done = await worker.run_once()
        assert done is not None and (done.status, done.attempts) == ("success", 1)
        assert gates.ran == ["a", "b", "c"]
        assert await handle.join() == {"log": ["in", "a", "b", "c"]}


async def test_a_worker_run_costs_its_claim_beyond_the_appends_of_a_direct_run(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond its record, a submitted run asks the store for its claim and for the
    appends a direct run of the graph makes, nothing more: the claim is its first read,
    and its end (finished, or paused on an interrupt) rides its last append."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver, ask="b")
        calls = count_reads(saver, monkeypatch, CALLS + READS)
        await graph.ainvoke({"log": ["d"]}, {"configurable": {"thread_id": "d"}},
                            durability="sync")
        appends = calls.count("append_batch")
        assert appends > 1
        runs = Runs(saver)
        worker = Worker(graph, lease=30, poll=0.01)
        for thread, input, status in (("s", {"log": ["in"]}, "interrupted"),
                                      ("s", Command(resume="yes"), "success")):
            handle = await runs.submit(thread, input, durability="sync")
            calls.clear()
            done = await worker.run_once()
            assert done is not None and done.status == status
            # (the resumed run appends less: its input checkpoint is its first step's)
            assert calls[0] == "claim_run" and set(calls[1:]) == {"append_batch"}, calls
            assert len(calls) - 1 == appends or status == "success"
            assert (await handle.refresh()) == done
        assert await handle.join() == {"log": ["in", "a", "b:yes", "c"]}


async def test_a_worker_that_dies_after_its_last_append_leaves_its_run_ended(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No crash can come between a run's last events and its end (they commit together):
    nothing is left for another worker to take over."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates()
        graph = gates.graph(saver)
        handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")

        async def died(*args: Any, **kw: Any) -> Any:
            raise RuntimeError("the worker died before it recorded the run's end")

        monkeypatch.setattr(saver.log, "finish_run", died)
        done = await Worker(graph, lease=0.2, poll=0.01).run_once()
        assert done is not None and done.status == "success"
        await anyio.sleep(0.3)  # (its lease would have run out)
        assert await saver.log.claim_run("w2", 30) is None
        assert gates.ran == ["a", "b", "c"]
        assert await handle.join() == {"log": ["in", "a", "b", "c"]}


async def test_a_failed_runs_error_rides_its_last_append(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run whose node fails records its error with its last append too, worded as the
    worker words it after a run."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver, fail="b")
        handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")
        calls = count_reads(saver, monkeypatch, CALLS + READS)
        done = await Worker(graph, lease=30, poll=0.01).run_once()
        assert done is not None and (done.status, done.error) == ("error", "ValueError: b failed")
        assert calls[0] == "claim_run" and set(calls[1:]) == {"append_batch"}, calls
        with pytest.raises(RunError, match="ValueError: b failed"):
            await handle.join()


async def test_a_timeout_error_of_the_graph_is_an_error_not_the_runs_timeout(
    store_kind: str, tmp_path: Path,
) -> None:
    """A TimeoutError a node raises (a run with no timeout of its own) ends the run as an
    error, recorded with its last append; the worker serves on (it used to fail formatting
    the run's missing timeout, and stop)."""
    async with open_saver(store_kind, tmp_path) as saver:

        async def slow(state: Any) -> dict[str, Any]:
            raise TimeoutError("the service did not answer")

        g = StateGraph(S)
        g.add_node("a", slow)
        g.add_edge(START, "a")
        g.add_edge("a", END)
        runs = Runs(saver)
        first = await runs.submit("t", {"log": ["in"]})
        second = await runs.submit("u", {"log": ["in"]})
        async with Worker(g.compile(checkpointer=saver), lease=30, poll=0.01):
            with anyio.fail_after(10):  # (one run at a time: the second once the first ended)
                assert (await first.wait()).status == "error"
                assert (await second.wait()).status == "error"
        assert (await first.refresh()).error == "TimeoutError: the service did not answer"


async def idle(worker: Worker) -> None:
    """Until ``worker`` serves with a slot a submit may take: free, or held by its wait
    for news (its first claim, which found nothing, is behind it)."""
    with anyio.fail_after(10):
        while worker._runs_tg is None or not (worker._spare or worker._slots.value):  # noqa: ASYNC110 - nothing announces it
            await anyio.sleep(0.005)


#: the stores that record a run already taken by a serving worker of the submitting
#: process (``create_run_claimed``); SQLite records it pending, for a claim
TAKES_AT_ONCE = ("memory", "postgres")


async def test_a_run_submitted_beside_a_serving_worker_is_taken_as_it_is_recorded(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker of this process with a free slot takes a submitted run in the write that
    records it: the run is running when ``submit`` returns, under that worker's lease,
    and nobody claims it (no claim's round trip, no wait for the worker's wake-up).
    Then the run asks the store for its appends only, as a claimed run does."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(saver)
        async with Worker(graph, lease=30, poll=30) as worker:  # (one slot, free while it waits)
            await idle(worker)
            for thread in ("t", "u"):
                calls = count_reads(saver, monkeypatch, (*CALLS, "create_run_claimed", *READS))
                handle = await runs.submit(thread, {"log": ["in"]}, durability="sync")
                submitted = handle.record
                assert await handle.join() == {"log": ["in", "a", "b", "c"]}
                calls = list(calls)
                monkeypatch.undo()
                record = await handle.refresh()
                assert (record.status, record.attempts, record.worker) == ("success", 1, worker.name)
                if store_kind in TAKES_AT_ONCE:
                    assert (submitted.status, submitted.worker) == ("running", worker.name)
                    assert calls[0] == "create_run_claimed" and set(calls[1:]) == {"append_batch"}, calls
                else:
                    assert submitted.status == "pending" and "claim_run" in calls


async def test_the_task_that_ran_a_submits_run_waits_for_the_next_one(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run taken as it is recorded runs in a task the worker keeps: once the run is
    over, that task waits for the next submit's run (at most ``concurrency`` wait), so
    a submit starts no task of its own; a worker stopped while they wait stops cleanly."""
    tasks = []
    handed = Worker._handed

    async def counted(self: Worker, handoff: Any) -> None:
        tasks.append(handoff)
        await handed(self, handoff)

    monkeypatch.setattr(Worker, "_handed", counted)
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(saver)
        async with Worker(graph, lease=30, poll=30) as worker:
            await idle(worker)
            for i in range(6):
                handle = await runs.submit(f"t{i}", {"log": ["in"]}, durability="sync")
                assert await handle.join() == {"log": ["in", "a", "b", "c"]}
                assert handle.record.worker == worker.name
                with anyio.fail_after(10):  # (its task tidies up after the joiner heard)
                    while store_kind in TAKES_AT_ONCE and not worker._idle:  # noqa: ASYNC110
                        await anyio.sleep(0.005)
                assert len(worker._idle) <= worker.concurrency
        assert worker._idle == [] and worker._slots.value == 1
    # (SQLite claims every run: no handoff at all)
    assert len(tasks) == (1 if store_kind in TAKES_AT_ONCE else 0)


async def test_a_run_submitted_while_every_slot_is_busy_waits_for_a_claim(
    store_kind: str, tmp_path: Path,
) -> None:
    """With no free slot (or a thread busy) a run is recorded pending, and the worker
    claims it once a slot is free; a run for another graph is left to that graph's
    workers."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("a")
        graph = gates.graph(saver)
        runs = Runs(saver)
        async with Worker(graph, lease=30, poll=30) as worker:
            await idle(worker)
            first = await runs.submit("t", {"log": ["in"]}, durability="sync")
            busy = await runs.submit("u", {"log": ["in"]}, durability="sync")
            other = await runs.submit("v", {"log": ["in"]}, graph="another")
            assert first.record.status == ("running" if store_kind in TAKES_AT_ONCE else "pending")
            assert (busy.record.status, other.record.status) == ("pending", "pending")
            gates.open["a"].set()
            with anyio.fail_after(20):
                assert await first.join() == await busy.join() == {"log": ["in", "a", "b", "c"]}
            assert (await busy.refresh()).worker == worker.name
            assert (await other.refresh()).status == "pending"


async def test_a_run_taken_as_it_was_recorded_is_taken_over_once_its_lease_expired(
    store_kind: str, tmp_path: Path,
) -> None:
    """The lease a submit recorded its run under is a claim's lease: a worker that stops
    (dies) running it leaves it to another worker once the lease expired, which resumes
    it from the log without running a recorded node again (``sync``)."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        async with Worker(graph, lease=0.5, poll=30, concurrency=2) as first:
            await idle(first)
            handle = await runs.submit("t", {"log": ["in"]}, durability="sync")
            submitted = handle.record
            with anyio.fail_after(10):
                await gates.reached["b"].wait()  # (a's step is in the log)
        # the worker stopped: its heartbeat stopped too, the run is left running
        record = await handle.refresh()
        assert (record.status, record.worker) == ("running", first.name)
        assert submitted.status == ("running" if store_kind in TAKES_AT_ONCE else "pending")
        gates.open["b"].set()
        second = Worker(graph, lease=30, poll=0.01)
        assert await second.run_once() is None  # its lease holds for now
        await anyio.sleep(0.6)
        done = await second.run_once()
        assert done is not None and (done.status, done.attempts, done.worker) == (
            "success", 2, second.name)
        assert gates.ran == ["a", "b", "b", "c"]  # (b never finished before: it runs again)
        assert await handle.join() == {"log": ["in", "a", "b", "c"]}


async def test_runs_submitted_at_once_on_one_thread_run_one_at_a_time_in_order(
    store_kind: str, tmp_path: Path,
) -> None:
    """Only a run whose thread is idle is taken as it is recorded: runs submitted at once
    on one thread, with free slots for all of them, wait in the queue behind the first
    and run one at a time in the order they were recorded; an idempotency key returns
    its run, taken once."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("a")
        graph = gates.graph(saver)
        runs = Runs(saver)
        handles: list[Any] = []
        async with Worker(graph, lease=30, poll=0.05, concurrency=4) as worker:
            await idle(worker)

            async def submit(i: int) -> None:
                handles.append(await runs.submit("t", {"log": [f"in{i}"]}, durability="sync",
                                                 idempotency_key=f"k{i % 3}"))

            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(submit, i)
            assert len({h.run_id for h in handles}) == 3
            assert sum(h.created for h in handles) == 3
            running = [h for h in handles if h.record.status == "running"]
            assert len({h.run_id for h in running}) <= 1
            gates.open["a"].set()
            with anyio.fail_after(20):
                for h in handles:
                    await h.wait()
        records = sorted([await h.refresh() for h in handles if h.created], key=lambda r: r.order)
        assert [r.status for r in records] == ["success"] * 3
        assert [r.attempts for r in records] == [1] * 3
        starts = [r.first_seq for r in records]
        assert starts == sorted(starts) and len(set(starts)) == 3
        assert gates.ran == ["a", "b", "c"] * 3
        values = (await graph.aget_state({"configurable": {"thread_id": "t"}})).values
        assert values["log"] == [x for r in records
                                 for x in (decode_input(r.input)["log"][0], "a", "b", "c")]


async def test_a_sync_run_taken_at_once_is_on_disk_before_submit_returns(
    store_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL commits a ``sync`` run it records taken at once without waiting for the
    disk: the run's first append, fenced by the record and before any node runs, is a
    commit that flushes the record with it, and ``submit`` returns only once it did.
    A run in another durability mode (its nodes may run before any commit) is
    recorded with a flush of its own, and ``submit`` returns at once."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Gates().graph(saver)
        runs = Runs(saver)
        seen: list[str] = []
        append = saver.log.append_batch

        async def appended(*args: Any, **kw: Any) -> Any:
            done = await append(*args, **kw)
            seen.append("append")
            return done

        monkeypatch.setattr(saver.log, "append_batch", appended)
        async with Worker(graph, lease=30, poll=30) as worker:
            for thread, durability in (("s", "sync"), ("a", "async")):
                await idle(worker)
                seen.clear()
                handle = await runs.submit(thread, {"log": ["in"]}, durability=durability)
                seen.append("submitted")
                assert await handle.join() == {"log": ["in", "a", "b", "c"]}
                first = seen.index("submitted")
                if store_kind == "postgres" and durability == "sync":
                    assert first == 1, seen
                else:
                    assert first == 0, seen


async def test_a_run_taken_at_once_whose_record_a_crash_lost_is_recorded_again(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record committed without waiting for the disk may be lost in a server crash
    before the run's first append: that append is refused (its fence has no row), no
    node runs, and the submit, finding no record when it flushes, records the run
    again, pending; a claim then runs it once, from its input."""
    from lograph.adapters import _pg_log, _pg_runs

    monkeypatch.setattr(_pg_log, "FLUSH_WAIT", 0.1)
    create_claimed = _pg_runs.create_claimed

    async def lost(conn: Any, q: Any, *args: Any) -> Any:
        done = await create_claimed(conn, q, *args)
        if done[3] is not None:  # taken at once: the crash loses it
            await conn.execute(f"DELETE FROM {q.table} WHERE run_id = $1", done[0].run_id)
        return done

    monkeypatch.setattr(_pg_runs, "create_claimed", lost)
    async with open_saver("postgres", tmp_path) as saver:
        gates = Gates()
        graph = gates.graph(saver)
        async with Worker(graph, lease=30, poll=30) as worker:
            await idle(worker)
            handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")
            assert handle.created and handle.record.status == "pending"
            assert await handle.join() == {"log": ["in", "a", "b", "c"]}
        record = await handle.refresh()
        assert (record.status, record.attempts) == ("success", 1)
        assert gates.ran == ["a", "b", "c"]


async def test_a_run_taken_at_once_that_writes_nothing_is_flushed_by_its_submit(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run taken at once whose worker stops before its first append: the submit
    flushes the record itself and returns it, running under that worker's lease; once
    the lease expired another worker takes the run over."""
    from lograph.adapters import _pg_log

    monkeypatch.setattr(_pg_log, "FLUSH_WAIT", 0.1)
    async with open_saver("postgres", tmp_path) as saver:
        gates = Gates()
        graph = gates.graph(saver)
        async with Worker(graph, lease=0.5, poll=30) as first:
            await idle(first)
            monkeypatch.setattr(first, "take", lambda handoff, record, lease: None)  # (it stopped)
            handle = await Runs(saver).submit("t", {"log": ["in"]}, durability="sync")
            assert (handle.record.status, handle.record.worker) == ("running", first.name)
            assert (await handle.refresh()).status == "running"
        await anyio.sleep(0.6)
        done = await Worker(graph, lease=30).run_once()
        assert done is not None and (done.status, done.attempts) == ("success", 2)
        assert await handle.join() == {"log": ["in", "a", "b", "c"]}
        assert gates.ran == ["a", "b", "c"]


async def test_a_serving_worker_keeps_the_leases_of_all_its_runs_with_one_heartbeat(
    store_kind: str, tmp_path: Path,
) -> None:
    """A serving worker renews the leases of its runs every ``lease / 3`` seconds from
    one task: runs whose steps outlast the lease many times keep it (nobody can claim
    them), and a stop asked of one is acted on at its next step boundary."""
    async with open_saver(store_kind, tmp_path) as saver:
        gates = Gates("b")
        graph = gates.graph(saver)
        runs = Runs(saver)
        rival = Worker(graph, lease=30, poll=0.01)
        async with Worker(graph, lease=0.3, poll=0.01, concurrency=2) as worker:
            handles = [await runs.submit(t, {"log": ["in"]}, durability="sync")
                       for t in ("t", "u")]
            with anyio.fail_after(10):
                while gates.ran.count("b") < 2:  # noqa: ASYNC110 - b's gate tells of the first only
                    await anyio.sleep(0.01)
            for _ in range(4):
                await anyio.sleep(0.25)
                assert await rival.run_once() is None  # (each lease would have expired)
            await handles[1].cancel()
            gates.open["b"].set()
            with anyio.fail_after(10):
                assert await handles[0].join() == {"log": ["in", "a", "b", "c"]}
                with pytest.raises(RunError):
                    await handles[1].join()
        first, second = [await h.refresh() for h in handles]
        assert (first.status, first.attempts, first.worker) == ("success", 1, worker.name)
        assert (second.status, second.attempts) == ("cancelled", 1)
        assert gates.ran.count("c") == 1
