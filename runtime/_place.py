"""A direct run's place in its thread's queue of runs: in-process ``invoke``/``stream``
callers take their turn on a thread through the store's runs tier, as submitted runs do.

Rules:
- On a store with the runs tier, a top-level run that names a ``multitask_strategy``
  records itself in its thread's queue (``enter_run``) before it starts (a plain call
  takes no place: ``run_graph``), and runs once it is the thread's first active run,
  under a lease that every append it makes carries (``_commit.RUN_LEASE``): a caller that
  lost its lease cannot write. Callers in several processes (or machines) on one thread
  therefore run one at a time in the order the store recorded them, instead of failing
  with ConflictError; workers' submitted runs share the same queue.
- A plain call (no strategy) on a store that keeps turns (``Capability.TURNS``: SQLite,
  PostgreSQL) holds its thread's turn while it runs instead: a lock that writes nothing
  and dies with its process (``adapters/_turns``). Callers in several processes take
  turns (polling with the backoff below, woken at once by a run of this process that
  ends); a thread with an active recorded run (a submitted run, a place) makes the call
  take a place behind it (``enqueue``), and the store starts no recorded run on a thread
  whose turn is held. A plain call has no record, so ``interrupt``/``rollback`` cannot
  stop it (they wait for it) and ``reject`` names it as ``PLAIN_CALL``.
- ``multitask_strategy`` (``configurable["multitask_strategy"]``, which the keyword of
  ``invoke`` and ``stream`` sets): ``enqueue`` (a submitted run's default) waits; ``reject`` raises
  RunBusyError when the thread has an active run, recording nothing; ``interrupt`` and
  ``rollback`` ask the running run to stop at its next step boundary, then run
  (``rollback``: from the checkpoint that run started from, as a worker does).
- Waiting polls the store with backoff (``FIRST_POLL`` doubling up to ``MAX_POLL``); a
  run of this process that ends wakes this process's waiters on its thread at once.
- A heartbeat renews the lease every ``LEASE / 3`` seconds; it also learns that a newer
  run asked this one to stop: the run then stops at its next step boundary (the engine
  records it cancelled there, keeping its committed steps) and its caller gets RunError.
- When the run ends its record is dropped (the log has its history), except a run
  stopped by a newer one, or one that ran after a rolled-back run: those are kept with
  how they ended, as a later run's rollback reads the queue's order from them.
- A caller cancelled while it waits gives up its place; a process that dies leaves its
  place to expire after ``LEASE`` seconds (the next caller or worker ends it).
"""

from __future__ import annotations

import os
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio

from lograph.eventlog import (
    Checkpoint,
    Lease,
    LeaseLostError,
    LogError,
    MemoryLog,
    NewRun,
    RunBusyError,
    RunEnd,
    RunQueue,
    RunRecord,
    TurnKeeper,
)
from lograph.eventlog.lowlevel import STRATEGIES

from ._checkpointer import Checkpointer
from ._commit import RUN_LEASE
from ._runs import RunError, prior_rollback, rollback_point, stopped
from ._sync import LoopKey, loop_key

__all__ = ["LEASE", "Place", "strategy_of", "thread_place", "with_strategy"]

#: seconds an in-process run's lease lasts without a heartbeat (a dead caller's place
#: is freed after it)
LEASE = 10.0
LOCAL_LEASE = 1e9  # (a store in this process's memory: as long as the process)
FIRST_POLL, MAX_POLL = 0.01, 0.2
#: what RunBusyError names as the active run when a plain call holds the thread's turn
PLAIN_CALL = "a call that named no multitask_strategy"
_HOLDER = f"{socket.gethostname()}:{os.getpid()}"

Pace = Callable[[], Awaitable[None]]


def strategy_of(config: Mapping[str, Any] | None) -> str:
    """The run's ``multitask_strategy`` (its config's, else ``enqueue``); ValueError for
    an unknown one."""
    found = ((config or {}).get("configurable") or {}).get("multitask_strategy")
    if found is None:
        return "enqueue"
    if found not in STRATEGIES:
        raise ValueError(f"multitask_strategy={found!r}: use one of {', '.join(STRATEGIES)}")
    return str(found)


def with_strategy(config: dict[str, Any] | None, strategy: str | None) -> dict[str, Any] | None:
    """``config`` with the ``multitask_strategy`` keyword of ``invoke``/``stream`` in it."""
    if strategy is None:
        return config
    config = dict(config or {})
    config["configurable"] = {**(config.get("configurable") or {}), "multitask_strategy": strategy}
    strategy_of(config)  # refused here, before anything runs
    return config


class Place:
    """A run's turn on its thread: its lease, and what a newer run asked of it."""

    def __init__(self, queue: RunQueue, record: RunRecord, lease: Lease, *, local: bool) -> None:
        self.queue = queue
        self.record = record
        self.lease = lease
        #: the store lives in this process (a MemoryLog): a stop is read from it, without
        #: a round trip, at each step boundary
        self.local = local
        self.stop: str | None = None
        self.fork: str | None = None  # the checkpoint to start from (after a rollback)
        self.scope = anyio.CancelScope()
        #: the thread's head (seq, hash) as the store read it when the place was taken at
        #: once (the run's first read), else None
        self.head = (record.first_seq, record.head_hash) if (
            record.status == "running" and record.head_hash is not None) else None
        self.dropped = False  # the run's last append dropped its record

    def drops_with_last_append(self) -> bool:
        """Whether the run's record goes with its last append (else ``_leave`` ends it)."""
        return self.stop is None and self.fork is None

    def end_with_last_append(self, cp: Checkpoint, failure: BaseException | None,
                             ) -> RunEnd | None:
        return None  # (``_leave`` ends a kept record)

    def pace(self, inner: Pace | None) -> Pace:
        """``inner`` (a stream's pace, or nothing) after stopping the run here if a newer
        run asked it to stop (the engine records the cancel at this step boundary)."""

        async def paced() -> None:
            if self.local and self.stop is None:
                assert isinstance(self.queue, MemoryLog)
                found = self.queue.run_now(self.lease.run_id)
                self.stop = None if found is None else found.stop
            if self.stop is not None:
                self.scope.cancel()
                await anyio.lowlevel.checkpoint()
            if inner is not None:
                await inner()

        return paced

    async def heartbeat(self) -> None:
        while True:
            await anyio.sleep(LEASE / 3)
            try:
                now = await self.queue.renew_lease(self.lease, LEASE)
            except LeaseLostError:
                return  # its appends are refused from now on: the run fails at the next
            except LogError:
                continue  # the store is unreachable for now: the fence decides
            if now.stop is not None and self.stop is None:
                self.stop = now.stop


#: this process's waiters per store and thread, woken when a run of theirs ends
_waiters: weakref.WeakKeyDictionary[Any, dict[str, list[tuple[LoopKey, anyio.Event]]]] = (
    weakref.WeakKeyDictionary())


def _wake(queue: Any, thread: str) -> None:
    waiting = (_waiters.get(queue) or {}).get(thread)
    if not waiting:
        return
    here = loop_key()
    for key, event in waiting:
        if key is here:  # (an event of another loop is left to its poll)
            event.set()


async def _nap(keyed: Any, thread: str, delay: float) -> None:
    """Sleep ``delay`` seconds, or until a run of this process on ``thread`` ends (``_wake``)."""
    by_thread = _waiters.setdefault(keyed, {})
    event = anyio.Event()
    mine = (loop_key(), event)
    by_thread.setdefault(thread, []).append(mine)
    try:
        with anyio.move_on_after(delay):
            await event.wait()
    finally:
        by_thread[thread].remove(mine)
        if not by_thread[thread]:
            del by_thread[thread]


async def _wait_turn(queue: RunQueue, record: RunRecord, lease: Lease, seconds: float,
                     ) -> RunRecord:
    """Poll (with backoff, or until a run of this process ends) until ``record`` runs."""
    delay = FIRST_POLL
    while record.status == "pending":
        await _nap(queue, record.thread, delay)
        delay = min(delay * 2, MAX_POLL, seconds / 3)
        record = await queue.take_run(lease, seconds)
    return record


async def _take_turn(turns: TurnKeeper, thread: str) -> tuple[bool, tuple[int, bytes] | None]:
    """Wait for ``thread``'s turn (True, and the thread's head as read once it was held,
    if the store read it), or learn that the thread has an active recorded run (False:
    queue behind it)."""
    delay = FIRST_POLL
    while True:
        found, head = await turns.try_turn(thread)
        if found != "busy":
            return found == "taken", head
        await _nap(turns, thread, delay)
        delay = min(delay * 2, MAX_POLL)


@asynccontextmanager
async def thread_place(saver: Checkpointer, thread: str, strategy: str, *, queued: bool = True,
                       turn: bool = False,
                       ) -> AsyncIterator[tuple[Place | None, tuple[int, bytes] | None]]:
    """The thread's turn for a direct run, across processes: its place (None: it took
    none, or the store keeps no runs, so only this process's thread actor serialises;
    see the module's rules), and the thread's head (seq, hash) if it was read when the
    turn was taken (the run's first read; else None).
    ``queued=False``: no place is taken (a worker's claimed run, a graph with no store,
    a plain call); ``turn``: a plain call, which holds its thread's turn where the store
    keeps turns (``Capability.TURNS``), or queues behind the thread's active run."""
    queue = saver.runs
    if not queued and turn and saver.turns is not None:
        turns = saver.turns
        taken, head = await _take_turn(turns, thread)
        if taken:
            try:
                yield None, head
            finally:
                turns.end_turn(thread)
                _wake(turns, thread)
            return
        queued = True  # a recorded run is active on the thread: wait behind it
    if not queued:
        yield None, None
        return
    if strategy == "reject" and saver.turns is not None:  # a plain call holds the thread?
        held, _ = await saver.turns.try_turn(thread)
        if held == "busy":
            raise RunBusyError(thread, PLAIN_CALL)
        if held == "taken":
            saver.turns.end_turn(thread)
    if queue is None:
        if strategy != "enqueue":
            raise ValueError(f"multitask_strategy={strategy!r} needs a store that records runs "
                             f"(Capability.RUNS); {type(saver.log).__name__} does not")
        yield None, None
        return
    # A store in this process's memory dies with it: its places need no heartbeat.
    local = isinstance(saver.log, MemoryLog)
    seconds = LOCAL_LEASE if local else LEASE
    new = NewRun(os.urandom(16).hex(), thread, b"", strategy=strategy)
    record, lease = await queue.enter_run(new, _HOLDER, seconds)
    waited = record.status == "pending"
    try:
        if waited:
            record = await _wait_turn(queue, record, lease, seconds)
        if record.done:  # cancelled while it waited (by ``RunHandle.cancel`` or ``lograph``)
            raise RunError(record)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _give_up(queue, lease)
        raise
    place = Place(queue, record, lease, local=local)
    if waited:  # (a run that found its thread idle follows no run it could roll back)
        began = await prior_rollback(queue, record)
        place.fork = await rollback_point(queue, thread, began) if began else None
    token = RUN_LEASE.set(lease)
    error: BaseException | None = None
    try:
        if local:  # (no heartbeat: the lease lasts as long as the process)
            try:
                with place.scope:
                    yield place, place.head
            except BaseException as e:  # noqa: BLE001 - raised below, as for the others
                error = e
        else:
            async with anyio.create_task_group() as tg:
                tg.start_soon(place.heartbeat)
                try:
                    with place.scope:
                        yield place, place.head
                except BaseException as e:  # noqa: BLE001 - raised below, outside the task group
                    error = e
                tg.cancel_scope.cancel()
    finally:
        RUN_LEASE.reset(token)
        if not place.dropped:  # (a run's last append usually took it: no round trip here)
            with anyio.CancelScope(shield=True):
                await _leave(place, error)
        _wake(queue, thread)
    if place.scope.cancelled_caught and place.stop is not None:
        found = await queue.get_run(lease.run_id)
        raise RunError(found or record)
    if error is not None:
        raise error


async def _give_up(queue: RunQueue, lease: Lease) -> None:
    try:
        await queue.drop_run(lease)
    except LogError:
        pass  # unreachable: the place expires after its lease


async def _leave(place: Place, error: BaseException | None) -> None:
    """End the run's record (see the module's rules for which are kept)."""
    queue, lease = place.queue, place.lease
    try:
        if place.stop is not None and place.scope.cancelled_caught:
            status, why = stopped(place.stop)
            await queue.finish_run(lease, status, error=why)
        elif place.fork is not None:
            failed = error is not None and isinstance(error, Exception)
            await queue.finish_run(lease, "error" if failed else "success",
                                   error=f"{type(error).__name__}: {error}" if failed else None)
        else:
            await queue.drop_run(lease)
    except LogError:
        pass  # the lease was lost or the store is unreachable: the place expires

