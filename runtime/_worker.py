"""A worker: claims submitted runs from the store, runs them under a lease, records how
they end.

Rules:
- A run is worked on only under its lease: the lease is in the run's context
  (``_commit.RUN_LEASE``), so every append the run makes carries it and the store
  refuses the append once the lease is lost. A heartbeat renews it every
  ``lease / 3`` seconds; a heartbeat that finds it lost stops the run at once (it could
  not write anyway).
- A run claimed for the first time starts from its input, at the thread's head its
  claim read (no read of its own). A run taken over from a dead worker
  (``attempts > 1``) whose input already reached the log resumes from the log
  (``invoke(None)``): in ``sync`` mode no recorded node or task runs again.
- A stop asked of the run (``cancel``, or a newer run's ``interrupt``/``rollback``
  strategy), learned by the heartbeat, is acted on at the run's next step boundary: the
  engine records the run as cancelled there, keeping every step it committed.
- ``rollback``: the run that follows a rolled-back one on its thread starts from the
  checkpoint the rolled-back run started from (a fork: the rolled-back steps stay in
  the log, on their own branch).
- Outcomes: success (the output), interrupted (paused on an interrupt: the output; or
  stopped by a newer run), cancelled, error (the exception's type and text; a
  TimeoutError the graph raised, a ``step_timeout`` say, too), timeout (the run's own).
  A run that finished, paused or failed records its end (success or interrupted, with
  its output; error) in the transaction of its last append (``Claim``), fenced by its
  lease as every append is: no commit of its own. Other ends are recorded after the
  run (``finish_run``).
- An unreachable store (``StoreUnavailableError``: the store gave up after its own
  retries) never ends the worker: claims wait it out, backing off from ``poll`` to
  ``OUTAGE_BACKOFF`` seconds (logged once when it goes, once when it is back). A run
  that met it is left to its lease (it may have written more than it knows): this
  worker or another takes it over from the log once the lease expires. A finish that
  met it is retried until the store takes it (or the lease was taken over).
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from lograph.eventlog import (
    Checkpoint,
    EncodeError,
    Lease,
    LeaseLostError,
    LogError,
    NewRun,
    RunEnd,
    RunRecord,
    RunWatch,
    StoreUnavailableError,
    encode,
)
from lograph.eventlog.bodies import RunStatus

from ._commit import RUN_LEASE
from ._engine import ignore
from ._invoke import run_graph
from ._otel import report_queue_depth, worker_run
from ._runs import TAKERS, decode_input, queue_of, rollback_point, run_config, stopped
from ._step import plan

__all__ = ["Worker"]

T = TypeVar("T")
_log = logging.getLogger("lograph.worker")

#: the longest wait (seconds) between two tries of a worker whose store is unreachable
OUTAGE_BACKOFF = 5.0


class Worker:
    """Executes submitted runs of ``graph`` from its store: ``async with Worker(graph):``.

    It claims the runs submitted for its graph's name (``graph.name``) and those
    submitted for no graph. ``concurrency``: runs at once in this worker.
    ``graph_limit``: runs of the graph (by name) at once across every worker serving
    the store, counted by the store in each claim's transaction; workers that pass
    different limits each keep their own. ``lease``: seconds a claim holds a run
    without a heartbeat (a dead worker's runs are taken over after it). ``poll``:
    seconds between claims while nothing wakes the worker. ``store``: the checkpointer
    to serve (default: the graph's own).
    """

    def __init__(self, graph: Any, store: Any = None, *, concurrency: int = 1,
                 graph_limit: int | None = None, lease: float = 10.0, poll: float = 0.1,
                 name: str | None = None) -> None:
        saver, self.queue = queue_of(store if store is not None else graph)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency={concurrency!r}: use a whole number >= 1")
        if graph_limit is not None and (isinstance(graph_limit, bool) or not isinstance(graph_limit, int)
                                        or graph_limit < 1):
            raise ValueError(f"graph_limit={graph_limit!r}: use a whole number >= 1, or None")
        for what, value in (("lease", lease), ("poll", poll)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{what}={value!r}: use a number of seconds > 0")
        if getattr(graph, "checkpointer", None) is not saver:
            if hasattr(graph, "compile"):  # a builder
                graph = graph.compile(checkpointer=saver)
            else:
                graph = copy.copy(graph)
                graph.checkpointer = saver
        self.graph = graph
        self.graph_name: str | None = getattr(graph, "name", None)
        self.saver = saver
        self.concurrency = concurrency
        self.graph_limit = graph_limit
        self.lease = float(lease)
        self.poll = float(poll)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.finished = 0  # runs this worker recorded an outcome for
        self.outages = 0  # times the store became unreachable to it (and came back, or not)
        #: since when (``time.monotonic()``) the store is unreachable to it; None: reachable
        self.unreachable_since: float | None = None
        self._tg: TaskGroup | None = None
        self._slots = anyio.Semaphore(concurrency)
        # while it serves: its runs' task group and event loop, for runs a submit hands in
        # (``_runs.record_run``); ``_spare``: the serve loop waits for news holding a free
        # slot, which a submit may take (the loop then waits for another)
        self._runs_tg: TaskGroup | None = None
        self._loop: Any = None
        self._spare = False
        self._in_slots: list[_Slot] = []  # the slots of the runs running in ``serve``
        #: handoffs whose task waits for a submit's run (``_handed``): a submit takes one
        #: rather than start a task while it is on its way to record its run
        self._idle: list[_Handoff] = []
        self._beats: dict[str, _Beat] | None = None  # while serving: its runs' leases

    async def __aenter__(self) -> Worker:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.serve)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        assert self._tg is not None
        # Leaving stops the worker: its runs stop where they are (their leases run out,
        # and another worker resumes them from the log). An error of the body is raised
        # as it is, not inside an exception group.
        self._tg.cancel_scope.cancel()
        if exc is None:
            return await self._tg.__aexit__(None, None, None)
        try:
            await self._tg.__aexit__(None, None, None)
        except BaseException as serving:  # noqa: BLE001 - the body's error goes first
            exc.__context__ = serving
        return None

    async def serve(self) -> None:
        """Claim and run until cancelled, ``concurrency`` runs at a time. With nothing to
        claim it waits for the store's wake-up (a run recorded or ended, in this process
        or, on PostgreSQL, in any), or ``poll`` seconds (a lease that ran out, a run
        another process recorded on SQLite)."""
        async with anyio.create_task_group() as tg, self.queue.watch_runs() as woken:
            more = True  # whether a claim may find a run without a wake-up
            tg.start_soon(report_queue_depth, self.queue)  # (a metric, with an SDK only)
            takers = TAKERS.setdefault(id(self.queue), [])
            takers.append(self)
            self._runs_tg, self._loop = tg, anyio.lowlevel.current_token()
            self._beats = {}
            tg.start_soon(self._heartbeat)
            try:
                while True:
                    await self._slots.acquire()
                    lent = False
                    try:
                        if not more:
                            self._spare = True
                            try:
                                more = await woken.wait(self.poll)
                            finally:
                                lent, self._spare = not self._spare, False
                            if lent:  # a submit's run has the slot: wait for another
                                continue
                        claimed = await self._patiently(self._claim)
                    except BaseException:
                        if not lent:
                            self._slots.release()
                        raise
                    if claimed is None:
                        self._slots.release()
                        more = False
                        continue
                    more = claimed[0].queued  # else the next claim waits for news
                    tg.start_soon(self._run_in_slot, *claimed)
            finally:
                self._runs_tg = self._loop = self._beats = None
                self._idle.clear()
                takers.remove(self)
                if not takers:
                    TAKERS.pop(id(self.queue), None)

    def reserve(self, new: NewRun) -> _Handoff | None:
        """A slot for ``new``, which a submit on this worker's store records taken by it
        (``_runs.record_run``), if it would claim ``new`` now: it serves on the caller's
        event loop, with no ``graph_limit`` (that is counted by claims) and a free slot.
        The run's task starts now, while the submit records the run, and waits for
        ``take`` (the run, taken) or ``unreserve`` (not taken: the slot is given back)."""
        tg = self._runs_tg
        if (tg is None or self.graph_limit is not None
                or (new.graph is not None and self.graph_name not in (None, new.graph))
                or self._loop != anyio.lowlevel.current_token()):
            return None
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            if self._spare:
                self._spare = False  # the serve loop's: it takes another once this run ends
            else:  # a run's whose end is recorded (its task only tidies up now), if any
                done = next((s for s in self._in_slots
                             if s.claim is not None and s.claim.recorded is not None
                             and not s.passed), None)
                if done is None:
                    return None
                done.passed = True
        if self._idle:
            handoff = self._idle.pop()
        else:
            handoff = _Handoff()
            tg.start_soon(self._handed, handoff)
        handoff.reserved = True
        return handoff

    def unreserve(self, handoff: _Handoff) -> None:
        self._hand(handoff, None)

    def take(self, handoff: _Handoff, record: RunRecord, lease: Lease) -> None:
        """Run ``record``, recorded running under ``lease`` by a submit, in the slot
        ``reserve`` gave it. A worker that stopped meanwhile leaves it to its lease
        (another worker takes it over)."""
        self._hand(handoff, (record, lease))

    def _hand(self, handoff: _Handoff, taken: tuple[RunRecord, Lease] | None) -> None:
        if self._runs_tg is None and not handoff.started:
            self._slots.release()  # the worker stopped before the run's task began: it never will
            return
        handoff.taken = taken
        handoff.event.set()

    async def _handed(self, handoff: _Handoff) -> None:
        """A reserved slot's task: the run the submit recorded taken, or nothing. Then it
        waits for the next submit's run (``_idle``; at most ``concurrency`` wait)."""
        while True:
            handoff.started = True
            try:
                await handoff.event.wait()
            except BaseException:  # the worker stopped: the run (if taken) is left to its lease
                if handoff.reserved:
                    self._slots.release()
                elif handoff in self._idle:  # (waiting idle: it held no slot)
                    self._idle.remove(handoff)
                raise
            if handoff.taken is None:
                self._slots.release()
            else:
                await self._run_in_slot(*handoff.taken)
            if len(self._idle) >= self.concurrency:
                return
            handoff = _Handoff()
            self._idle.append(handoff)

    async def _claim(self) -> tuple[RunRecord, Lease] | None:
        return await self.queue.claim_run(self.name, self.lease, limit=self.graph_limit,
                                          graph=self.graph_name)

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, again and again while the store is unreachable (see the
        module), backing off; other errors, a lost lease among them, are raised."""
        delay = self.poll
        while True:
            try:
                done = await call()
            except StoreUnavailableError as e:
                if self.unreachable_since is None:
                    self.unreachable_since = time.monotonic()
                    self.outages += 1
                    _log.warning("worker %s: the store is unreachable (%s); retrying every "
                                 "%g s at most until it is back", self.name, e, OUTAGE_BACKOFF)
                await anyio.sleep(delay)
                delay = min(delay * 2, OUTAGE_BACKOFF)
                continue
            if self.unreachable_since is not None:
                _log.warning("worker %s: the store is reachable again after %.1f s", self.name,
                             time.monotonic() - self.unreachable_since)
                self.unreachable_since = None
            return done

    async def _run_in_slot(self, record: RunRecord, lease: Lease) -> None:
        slot = _Slot()
        try:
            await self._executing(record, lease, slot)
        finally:
            if not slot.passed:
                self._slots.release()

    async def run_once(self) -> RunRecord | None:
        """Claim one run and execute it here; its final record (None: nothing to claim)."""
        claimed = await self._claim()
        if claimed is None:
            return None
        return await self.execute(*claimed)

    async def execute(self, record: RunRecord, lease: Lease) -> RunRecord | None:
        """Run a claimed run to its end and record the outcome; None if the lease was lost
        (whoever holds the run now records it). Traced and measured when an OpenTelemetry
        SDK is configured (``_otel``). A worker stopped after the run's last append
        recorded its end (its joiners may have stopped it) traces that end."""
        return await self._executing(record, lease, None)

    async def _executing(self, record: RunRecord, lease: Lease, slot: _Slot | None,
                         ) -> RunRecord | None:
        claim = Claim(record, self.graph)
        if slot is not None:
            slot.claim = claim
            self._in_slots.append(slot)
        try:
            return await self._claimed(record, lease, claim)
        finally:
            if slot is not None:
                self._in_slots.remove(slot)

    async def _claimed(self, record: RunRecord, lease: Lease, claim: Claim) -> RunRecord | None:
        stopped: BaseException | None = None
        with worker_run(record, self.name) as seen:
            try:
                final = await self._execute(record, lease, claim)
            except anyio.get_cancelled_exc_class() as e:
                if claim.recorded is None:
                    raise
                final, stopped = claim.recorded, e
                self.finished += 1
            seen.ended(final)
        if stopped is not None:
            raise stopped
        return final

    async def _execute(self, record: RunRecord, lease: Lease, claim: Claim) -> RunRecord | None:
        outcome: tuple[str, bytes | None, str | None] = ("lost", None, None)
        run_scope = anyio.CancelScope()
        async with self.queue.watch_runs(record.run_id) as woken:
            beat = _Beat(lease, claim, woken)

            async def pace() -> None:  # at each step's end: the engine records a cancel here
                if woken.consume() and claim.recorded is None:  # a stop may have been
                    await self._renew(beat)  # asked of it (or it ended): learn what
                if beat.stop:
                    run_scope.cancel()
                    await anyio.lowlevel.checkpoint()

            with beat.scope:
                beats = self._beats
                if beats is not None and self._loop == anyio.lowlevel.current_token():
                    beats[record.run_id] = beat  # (the serving worker's heartbeat)
                    try:
                        outcome = await self._outcome(record, lease, pace, run_scope, claim)
                    finally:
                        del beats[record.run_id]
                else:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._beat_alone, beat)
                        outcome = await self._outcome(record, lease, pace, run_scope, claim)
                        tg.cancel_scope.cancel()
            if run_scope.cancelled_caught and beat.stop:
                outcome = _stopped(beat.stop[0])
        if claim.recorded is not None:  # its last append recorded how it ended
            self.finished += 1
            return claim.recorded
        status, result, error = outcome
        if status == "lost":
            return None
        try:
            final = await self._patiently(
                lambda: self.queue.finish_run(lease, status, result=result, error=error))
        except LeaseLostError:
            return None
        self.finished += 1
        return final

    async def _heartbeat(self) -> None:
        """While serving: renew the leases of this worker's runs every ``lease / 3``
        seconds (one task for all of them)."""
        beats = self._beats
        assert beats is not None
        while True:
            await anyio.sleep(self.lease / 3)
            for beat in list(beats.values()):
                if beat.claim.recorded is None:  # (an end recorded: nothing to renew)
                    await self._renew(beat)

    async def _beat_alone(self, beat: _Beat) -> None:
        """A run's own heartbeat, for a run executed outside ``serve``; a stop asked of
        the run wakes it early."""
        while True:
            await beat.woken.wait(self.lease / 3)
            if beat.claim.recorded is not None or not await self._renew(beat):
                return

    async def _renew(self, beat: _Beat) -> bool:
        """Renew a run's lease, learning what was asked of the run; False: it is lost
        (then the run stops at once: it can no longer write)."""
        try:
            now = await self.queue.renew_lease(beat.lease, self.lease)
        except LeaseLostError:
            beat.scope.cancel()
            return False
        except LogError:
            return True  # the store is unreachable for now: the fence decides
        if now.stop is not None and not beat.stop:
            beat.stop.append(now.stop)
        return True

    async def _outcome(self, record: RunRecord, lease: Lease, pace: Any, run_scope: anyio.CancelScope,
                       claim: Claim) -> tuple[str, bytes | None, str | None]:
        token = RUN_LEASE.set(lease)
        deadline: anyio.CancelScope | None = None
        try:
            input, config = await self._start(record)
            output = None
            with run_scope, anyio.fail_after(record.timeout) as deadline:
                output = await run_graph(self.graph, input, config, durability=record.durability,
                                         emit=ignore, pace=pace, claim=claim)
            if claim.end is not None and claim.recorded is not None:
                return claim.end.status, claim.end.result, claim.end.error  # (recorded already)
            if run_scope.cancelled_caught:
                return "cancelled", None, "cancelled"
        except TimeoutError as e:
            if deadline is not None and deadline.cancel_called and record.timeout is not None:
                return "timeout", None, f"the run took more than its timeout of {record.timeout:g} s"
            return "error", None, f"{type(e).__name__}: {e}"  # the graph's own (a step_timeout)
        except Exception as e:  # noqa: BLE001 - the run's outcome, recorded
            if _lost_in(e):
                return "lost", None, None  # left to its lease (see the module)
            return "error", None, f"{type(e).__name__}: {e}"
        finally:
            RUN_LEASE.reset(token)
        try:
            paused = await self._paused(config)
        except StoreUnavailableError:
            return "lost", None, None
        return ("interrupted" if paused else "success"), encode(output, path="the run's output"), None

    async def _paused(self, config: dict[str, Any]) -> bool:
        """Whether the run just ended paused (tasks still to run: an interrupt). Read from
        the thread's fold the run left in memory (no other writer while the lease holds);
        from the store if another turn has the thread or the fold was evicted."""
        thread = config["configurable"]["thread_id"]
        actor = self.saver.actor(thread)
        cp = actor.cached
        if actor.busy or cp is None:
            return bool((await self.graph.aget_state(config)).next)
        return _waits(cp)

    async def _start(self, record: RunRecord) -> tuple[Any, dict[str, Any]]:
        """The input and config this attempt runs with (see the module's rules)."""
        config = run_config(record)
        input = decode_input(record.input)
        log = self.saver.log
        if record.attempts > 1:
            head = await log.head(record.thread)
            if head > record.first_seq:  # the input reached the log: continue from it
                return None, config
        if record.prior_rollback:  # the claim says: the run before it was rolled back
            fork = await rollback_point(self.saver.log, record.thread, record.prior_rollback)
            if fork is not None:
                config["configurable"]["checkpoint_id"] = fork
        return input, config


class Claim:
    """A claimed run's turn on its thread, as its journal sees it (``_journal.RunTurn``):
    the thread's head its first claim read (``RunRecord.head_hash``), so the run does
    not read it again; and its end, recorded with its last append when the run
    finished or paused (``end``; its ``record`` once that append committed)."""

    __slots__ = ("dropped", "end", "graph", "head", "thread")

    def __init__(self, record: RunRecord, graph: Any) -> None:
        self.head = None if record.head_hash is None else (record.first_seq, record.head_hash)
        self.dropped = False
        self.graph = graph
        self.thread = record.thread
        self.end: RunEnd | None = None

    def drops_with_last_append(self) -> bool:
        return False  # (a submitted run's record is kept: its end is recorded)

    def end_with_last_append(self, cp: Checkpoint, failure: BaseException | None,
                             ) -> RunEnd | None:
        """The end of a run that finished, paused or failed, as ``_outcome`` would record
        it: its output, interrupted if tasks are still to run; or its error. None for
        any other end (the worker records it after the run: cancelled, stopped, timed
        out, an error of a lost lease or an unreachable store, which leaves the run to
        its lease), for a graph with untracked channels (its output has values the fold
        lacks) and for an output the codec refuses."""
        if cp.run_status == RunStatus.FAILED:
            if not isinstance(failure, Exception) or _lost_in(failure):
                return None
            self.end = RunEnd("error", error=f"{type(failure).__name__}: {failure}")
            return self.end
        if cp.run_status not in _ENDS_WITH_OUTPUT or self.graph.structure.state.untracked:
            return None
        paused = _waits(cp)
        try:
            result = encode(self.graph.output(cp), path="the run's output")
        except EncodeError:
            return None
        self.end = RunEnd("interrupted" if paused else "success", result)
        return self.end

    @property
    def recorded(self) -> RunRecord | None:
        """The run as its last append ended it (None: it did not)."""
        return None if self.end is None else self.end.record


_ENDS_WITH_OUTPUT = (RunStatus.DONE, RunStatus.INTERRUPTED)


def _waits(cp: Checkpoint) -> bool:
    """Whether tasks are still to run at ``cp`` (a run that ended there paused): whether
    its live snapshot (``_views.snapshot_of``) has a ``next``, without building it."""
    return bool(cp.checkpoint) and any(t.id not in cp.writes for t in plan(cp, "", commands=True))


class _Beat:
    """A run's lease as its heartbeat keeps it: what was asked of the run (``stop``), its
    wake-ups, and the scope that a lost lease cancels."""

    __slots__ = ("claim", "lease", "scope", "stop", "woken")

    def __init__(self, lease: Lease, claim: Claim, woken: RunWatch) -> None:
        self.lease = lease
        self.claim = claim
        self.woken = woken
        self.stop: list[str] = []
        self.scope = anyio.CancelScope()


class _Handoff:
    """A slot ``reserve`` gave a submit's run: its task waits on ``event`` for ``taken``
    (the run's record and lease; None: the run was not taken)."""

    __slots__ = ("event", "reserved", "started", "taken")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.started = False
        self.reserved = False  # given to a submit (else it waits in ``Worker._idle``)
        self.taken: tuple[RunRecord, Lease] | None = None


class _Slot:
    """One of a worker's ``concurrency`` slots, held by a run; ``passed``: handed to a
    submit's run (``Worker.reserve``) once this run's end was recorded, so this run's
    task does not give it back."""

    __slots__ = ("claim", "passed")

    def __init__(self) -> None:
        self.passed = False
        self.claim: Claim | None = None


def _stopped(stop: str) -> tuple[str, bytes | None, str]:
    status, why = stopped(stop)
    return status, None, why


def _lost_in(e: BaseException) -> bool:
    """Whether ``e`` (or an error it wraps) is a lost lease or an unreachable store."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, LeaseLostError | StoreUnavailableError):
            return True
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
        seen += 1
    return False
