"""Run records: the durable queue of runs a store keeps beside its log (``Capability.RUNS``).

A submitted run is a row: recorded before it is acknowledged, claimed by one worker at
a time under a lease, finished once. The store never decodes a run's input, config or
result: they are bytes the runtime encodes.

Rules every store keeps (the contract suite checks each):
- A thread's runs are claimed in the order they were recorded (``order``), one at a
  time: a run is claimable only while it is its thread's oldest active run (pending or
  running), so at most one run per thread is running, across all workers.
- A claim gives a fresh lease token and an expiry; ``renew_lease`` extends a lease that
  has not expired; a running run whose lease expired is claimable again (its worker
  died) and the claim that takes it bumps ``attempts``.
- **Fencing**: an :class:`~lograph.eventlog.Append` that carries a :class:`Lease` is
  written only if, in the same transaction as the append's own head check, its run is
  running under that token and the lease has not expired; otherwise that item gets
  :class:`LeaseLostError` and writes nothing. A worker that lost its lease cannot write.
- ``finish_run`` records the outcome once, under the lease's token (after a new claim
  the old token finishes nothing).
- An idempotency key is unique per thread: recording a run with a key the thread
  already has returns the recorded run instead.
- **Wake-ups** (``watch_runs``) are hints, never state: a store announces, once a write
  committed, that a run may have become claimable (a run recorded, or one ended) or that
  a run ended or was asked to stop; a waiter re-reads the store after each wake-up and
  after its own poll interval, so a wake-up lost (another process on SQLite, a dropped
  listener connection) costs time, never a run.
- **In-process runs** (``enter_run``): a run its caller executes itself (a direct
  ``ainvoke``) takes a place in its thread's queue like a submitted run, but the store
  keeps no input for it (``input`` is empty), so no worker claims it: its caller takes it
  (``take_run``) once it is the thread's first active run, and renews its lease while it
  waits and while it runs. One whose lease expired (its process died) is ended by the
  next ``enter_run``, ``take_run`` or ``claim_run`` that meets it (pending: cancelled;
  running: error), so the thread's queue moves on. Its record is dropped when it ends
  (``drop_run``, or with its last append: ``Append.drops_run``): its history is the log's.
- **A run's end with its last append** (``Append.ends_run``, a :class:`RunEnd`): a
  worker's run records how it ended in the transaction of its last append, fenced by
  its lease as the append is, instead of a ``finish_run`` of its own; waiters are woken
  as by ``finish_run`` once it committed.
- **A run taken as it is recorded** (``create_run_claimed(new, worker, seconds, graph)``,
  which a store may offer beside ``create_run``; the memory and PostgreSQL stores do):
  an ``enqueue`` run whose thread has no active run (and, where the store keeps turns,
  whose turn is free) is recorded running under a fresh lease of ``worker``, exactly as
  its first claim would leave it, in the one write that records it; else it is
  recorded as ``create_run`` records it. Returns ``(record, created, lease or None,
  flushed or None)``: ``flushed``, when given, is to be awaited once the run is handed
  to its worker, for the record once it is on disk (a store may commit a run taken
  so without waiting for the disk when the run's first fenced commit, before any of
  its nodes runs, will flush it; a record a crash lost is recorded again, pending).
  A worker of the submitting process that has a free slot takes the run so, without a
  claim of its own; the lease, its fencing and a takeover after it expired are those
  of any claim.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import anyio

from ._errors import LeaseLostError, RunBusyError, RunExistsError
from ._port import TIERS, Capability, EventLog, check_text, check_thread_id

#: a run's statuses: waiting for a worker, claimed, and the five ways it ends
PENDING, RUNNING = "pending", "running"
ENDED = ("success", "error", "interrupted", "cancelled", "timeout")
STATUSES = RUN_STATUSES = (PENDING, RUNNING, *ENDED)
ACTIVE = (PENDING, RUNNING)
#: what a new run does when its thread already has an active run
STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
#: what a running run's worker is asked to do at its next step boundary
STOPS = ("cancel", "interrupt", "rollback")
DURABILITIES = ("sync", "async", "exit")

MetaValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a running run; appends that carry it are fenced by it."""

    run_id: str
    token: str


@dataclass(frozen=True, slots=True)
class NewRun:
    """What ``create_run`` records (see :func:`check_new_run` for what is refused)."""

    run_id: str
    thread: str
    input: bytes
    config: bytes = b""
    durability: str = "async"
    strategy: str = "enqueue"
    idempotency_key: str | None = None
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    timeout: float | None = None  # seconds a worker lets the run take (None: no limit)
    #: the name of the graph that runs it (``CompiledGraph.name``); None: any worker's
    graph: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the store has it. Times are seconds since the epoch (the store's clock)."""

    run_id: str
    thread: str
    status: str
    input: bytes
    config: bytes
    durability: str
    strategy: str
    idempotency_key: str | None
    metadata: dict[str, MetaValue]
    order: int  # creation order across the store: a thread's runs are claimed by it
    created: float
    updated: float
    started: float | None = None  # first claimed
    finished: float | None = None
    attempts: int = 0  # claims so far (more than one: a worker died and another took over)
    worker: str | None = None  # the worker holding (or last holding) the lease
    lease_expires: float | None = None
    stop: str | None = None  # asked of the running run: cancel, interrupt or rollback
    result: bytes | None = None
    error: str | None = None
    first_seq: int = 0  # the thread's head when the run was first claimed
    timeout: float | None = None
    #: the graph that runs it: as submitted, else the graph of the worker that claimed it
    graph: str | None = None
    #: set by a claim only: when the run before it on its thread was rolled back, that
    #: run's ``first_seq`` (where the rolled-back progress began); 0 otherwise
    prior_rollback: int = 0
    #: set by a claim only: whether other runs were pending then (so a worker claims again
    #: at once rather than wait for a wake-up)
    queued: bool = False
    #: set by ``enter_run`` when it took the run at once, and by a run's first claim
    #: (``attempts`` 1): the hash of the thread's head event (``first_seq``; b"" for a
    #: thread with no events), read in the same transaction, so the run need not read
    #: the head again
    head_hash: bytes | None = None

    @property
    def done(self) -> bool:
        return self.status in ENDED

    @property
    def in_process(self) -> bool:
        """Run by its caller in its own process (``enter_run``): no worker claims it."""
        return not self.input


@dataclass(eq=False, slots=True)
class RunEnd:
    """How a worker's run ended, recorded with its last append (``Append.ends_run``) in
    the append's transaction, as ``finish_run`` records it: the item is written only if
    its run's end is (its lease holds), and an item that is not written ends nothing.
    ``record``: the ended run as the store recorded it, set once the append committed
    (None while it has not, or when the store could not tell: then ``get_run``)."""

    status: str
    result: bytes | None = None
    error: str | None = None
    record: RunRecord | None = None

    def __post_init__(self) -> None:
        check_end(self.status)


@runtime_checkable
class RunQueue(EventLog, Protocol):
    """The :attr:`Capability.RUNS` tier: run records, claims, leases, fenced appends."""

    async def create_run(self, new: NewRun) -> tuple[RunRecord, bool]:
        """Record ``new`` as pending; ``(record, True)``. A run of the thread with the same
        idempotency key: ``(that run, False)``, nothing recorded. Strategy ``reject`` on a
        thread with an active run: RunBusyError, nothing recorded; ``interrupt`` and
        ``rollback`` ask the thread's running run to stop (``stop``) in the same
        transaction."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self, *, thread: str | None = None, status: str | Iterable[str] | None = None,
        since: float | None = None, until: float | None = None,
        metadata: Mapping[str, MetaValue] | None = None, limit: int = 100,
        graph: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching every filter given (created in ``[since, until)``, metadata a
        superset of ``metadata``, ``graph`` its graph's name), newest first."""
        ...

    async def run_counts(self) -> dict[str, int]:
        """How many runs the store has in each status (statuses with none are left out)."""
        ...

    async def claim_run(self, worker: str, lease: float, *, limit: int | None = None,
                        graph: str | None = None) -> tuple[RunRecord, Lease] | None:
        """Take the oldest claimable run (see the module) for ``lease`` seconds, or None.
        ``graph``: a worker of the graph of that name takes only runs submitted for it or
        for no graph (and records its name on those). ``limit``: only while fewer runs
        than that are running under unexpired leases (of ``graph``, when given; else in
        the store), counted in the claim's own transaction (so claims by any number of
        workers never exceed it). A first claim reads the thread's head with it
        (``first_seq`` and ``head_hash``). A store may commit a claim without waiting for
        the disk: one lost in a crash leaves its run as it was (pending, or under its
        older lease), so its worker's fenced appends are refused and the next claim
        takes the run as if this one never happened; an append that commits durably
        makes the claim it is fenced by durable too."""
        ...

    async def renew_lease(self, lease: Lease, seconds: float) -> RunRecord:
        """Extend an unexpired lease by ``seconds`` from now; LeaseLostError otherwise."""
        ...

    async def finish_run(
        self, lease: Lease, status: str, *, result: bytes | None = None, error: str | None = None,
    ) -> RunRecord:
        """Record how the run ended (one of ``ENDED``); LeaseLostError if another claim
        took it or it already ended."""
        ...

    async def stop_run(self, run_id: str, stop: str = "cancel") -> RunRecord | None:
        """A pending run ends ``cancelled`` now; a running one is asked to ``stop`` (its
        worker acts at the next step boundary); an ended one is left. None: no such run."""
        ...

    def watch_runs(self, run_id: str | None = None) -> AbstractAsyncContextManager[RunWatch]:
        """Wake-ups for one waiter: ``run_id`` None, when a run may have become claimable;
        else when that run may have ended or been asked to stop. Entered before the
        waiter reads the store, so nothing that commits after the read is missed."""
        ...

    async def enter_run(self, new: NewRun, holder: str, seconds: float) -> tuple[RunRecord, Lease]:
        """Record an in-process run (``new.input`` empty; see the module) held by
        ``holder`` under a lease of ``seconds``: running at once if it is its thread's
        first active run (``first_seq`` and ``head_hash``: the thread's head), else
        pending. The thread's expired in-process runs end first; ``new.strategy`` acts as
        in ``create_run``."""
        ...

    async def take_run(self, lease: Lease, seconds: float) -> RunRecord:
        """Renew an in-process run's lease for ``seconds``; a pending one that is now its
        thread's first active run is taken (running). An ended run is returned as it
        ended (cancelled while it waited); LeaseLostError if the lease expired."""
        ...

    async def drop_run(self, lease: Lease) -> None:
        """Remove an in-process run's record (it ended; its events are in the log);
        nothing if ``lease`` no longer holds it."""
        ...


TIERS[Capability.RUNS] = (RunQueue, "claim_run", None)


#: a thread-safe way into the waiting task's event loop: given a callable, run it there soon
CallIn = Callable[[Callable[[], None]], None]


class RunWatch:
    """One waiter's wake-ups (see :meth:`RunQueue.watch_runs`). ``record``: the newest
    run record a wake-up from this process carried (a joiner then reads nothing)."""

    __slots__ = ("_call_in", "_event", "_fired", "_signals", "_thread", "key", "record")

    def __init__(self, signals: RunSignals, key: str | None) -> None:
        self._signals = signals
        self.key = key
        self.record: RunRecord | None = None
        self._fired = False
        self._event: anyio.Event | None = None
        self._thread = threading.get_ident()
        self._call_in = signals.call_in() if signals.call_in is not None else None

    def fire(self, record: RunRecord | None) -> None:
        """From any thread: wake the waiter (now if it waits in this thread's loop)."""
        if record is not None:
            self.record = record
        self._fired = True
        event = self._event  # read after _fired: wait() sets _event, then reads _fired
        if event is None:
            return
        if threading.get_ident() == self._thread:
            event.set()
        elif self._call_in is not None:
            self._call_in(event.set)
        # else: another thread, no way into the waiter's loop: it wakes at its poll

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 - the poll fallback, by design
        """Until a wake-up since the last wait, or ``timeout`` seconds; whether woken."""
        if self._signals.keep_listening is not None:
            await self._signals.keep_listening()
        if self._fired:
            await anyio.lowlevel.checkpoint()
        else:
            self._event = event = anyio.Event()
            if not self._fired:
                with anyio.move_on_after(timeout):
                    await event.wait()
            self._event = None
        return self.consume()

    def consume(self) -> bool:
        """Whether a wake-up came since the last wait (or ``consume``), without waiting;
        it counts as seen then."""
        fired, self._fired = self._fired, False
        return fired

    def hears_all(self) -> bool:
        """Whether every change the store makes is announced to this process now (a
        waiter then polls only as a safeguard)."""
        return self._signals.heard_all_since is not None

    def quiet_since(self, since: float) -> bool:
        """Whether the watched run surely did not change since ``since`` (``time.monotonic()``
        before a read of it): this process heard every change the store made since then,
        and none to this run. (A change announced after the watch began wakes it.)"""
        return self._signals.quiet_since(self.key, since)


class RunSignals:
    """A store's in-process wake-ups (one per database: stores on the same file share
    one, see :func:`signals_for`). ``call_in``, called in a waiting task, returns a
    thread-safe way into its loop (stores in adapters, which may use the loops' own
    libraries, pass one); ``keep_listening``: the store's cross-process listener,
    (re)started if it is not running (PostgreSQL's LISTEN)."""

    def __init__(self, *, call_in: Callable[[], CallIn] | None = None,
                 keep_listening: Callable[[], Awaitable[None]] | None = None) -> None:
        self.call_in = call_in
        self.keep_listening = keep_listening
        self._watches: dict[str | None, set[RunWatch]] = {}
        self._lock = threading.Lock()
        #: since when (``time.monotonic()``) every change the store made to a run was
        #: announced here, None while some may not be (other processes on SQLite, a
        #: PostgreSQL listener down); a store all in this process sets it at once
        self.heard_all_since: float | None = None
        self._changed: OrderedDict[str, None] = OrderedDict()  # runs announced changed, the last CHANGES
        self._forgot_at = -math.inf  # when the oldest of them was last dropped

    #: how many changed runs ``quiet_since`` remembers
    CHANGES = 4096

    @asynccontextmanager
    async def watch(self, key: str | None) -> AsyncIterator[RunWatch]:
        if self.keep_listening is not None:
            await self.keep_listening()
        w = RunWatch(self, key)
        with self._lock:
            self._watches.setdefault(key, set()).add(w)
        try:
            yield w
        finally:
            with self._lock:
                left = self._watches.get(key)
                if left is not None:
                    left.discard(w)
                    if not left:
                        del self._watches[key]

    def quiet_since(self, key: str | None, since: float) -> bool:
        heard = self.heard_all_since
        with self._lock:
            return (heard is not None and heard <= since and self._forgot_at < since
                    and key not in self._changed)

    def notify(self, key: str | None, record: RunRecord | None = None) -> None:
        with self._lock:
            if key is not None:
                # (an OrderedDict: a dict's oldest key is found by skipping the slots its
                # deleted keys left, a scan per change once many were trimmed)
                self._changed[key] = None
                self._changed.move_to_end(key)
                if len(self._changed) > self.CHANGES:
                    self._changed.popitem(last=False)
                    self._forgot_at = time.monotonic()
            watches = tuple(self._watches.get(key, ()))
        for w in watches:
            w.fire(record)

    def notify_all(self) -> None:
        """Wake every waiter (after a listener was down: anything may have happened)."""
        with self._lock:
            watches = [w for ws in self._watches.values() for w in ws]
        for w in watches:
            w.fire(None)

    def created(self) -> None:
        """A run was recorded: it may be claimable."""
        self.notify(None)

    def changed(self, record: RunRecord, *, next_waits: bool = True) -> None:
        """``record`` was finished or asked to stop. A run that ended frees its thread
        for the next one (and a place under a claim's ``limit``): workers are woken
        unless the store said no run is pending."""
        self.notify(record.run_id, record)
        if record.done and next_waits:
            self.notify(None)


_SHARED: weakref.WeakValueDictionary[Hashable, RunSignals] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def signals_for(key: Hashable | None, make: Callable[[], RunSignals]) -> RunSignals:
    """The signals of the database ``key`` names (``make()``'s on first use), shared by
    every store object of this process open on it while any holds them; None: a store
    of its own."""
    if key is None:
        return make()
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = make()
        return found


#: a stored run row's columns, in the order :func:`run_of_row` reads them (stores on disk
#: select them so; ``metadata`` is JSON text)
ROW_COLUMNS = (
    "run_id", "thread", "status", "input", "config", "durability", "strategy", "idem",
    "metadata", "ord", "created", "updated", "started", "finished", "attempts", "worker",
    "lease_expires", "stop", "result", "error", "first_seq", "timeout", "graph",
)


def run_of_row(row: Sequence[Any], *, prior_rollback: int = 0, queued: bool = False,
               head_hash: bytes | None = None) -> RunRecord:
    """A stored row (:data:`ROW_COLUMNS`) as a RunRecord (with what a claim adds to it)."""
    (run_id, thread, status, input, config, durability, strategy, idem, metadata, order,
     created, updated, started, finished, attempts, worker, lease_expires, stop, result,
     error, first_seq, timeout, graph) = row
    return RunRecord(
        run_id, thread, status, bytes(input), bytes(config), durability, strategy, idem,
        json.loads(metadata), int(order), created, updated, started, finished, int(attempts),
        worker, lease_expires, stop, None if result is None else bytes(result), error,
        int(first_seq), timeout, graph, prior_rollback, queued, head_hash)


def new_token() -> str:
    return os.urandom(12).hex()


def check_new_run(new: NewRun, *, in_process: bool = False) -> None:
    """Refuse (ValueError) a run no store could record exactly; before any I/O.
    ``in_process``: recorded by ``enter_run`` (no input); other runs need theirs."""
    check_thread_id(new.thread)
    if bool(new.input) == in_process:
        raise ValueError("an in-process run (enter_run) keeps no input; a submitted run "
                         "(create_run) needs its encoded input")
    check_text(new.run_id, "run id", 256)
    if new.idempotency_key is not None:
        check_text(new.idempotency_key, "idempotency key", 1024)
    check_graph(new.graph)
    if new.strategy not in STRATEGIES:
        raise ValueError(f"multitask_strategy={new.strategy!r}: use one of {', '.join(STRATEGIES)}")
    if new.durability not in DURABILITIES:
        raise ValueError(f"durability={new.durability!r}: use one of {', '.join(DURABILITIES)}")
    if new.timeout is not None and not (isinstance(new.timeout, int | float) and new.timeout > 0):
        raise ValueError(f"timeout={new.timeout!r}: use a number of seconds > 0, or None")
    if new.metadata or type(new.metadata) is not dict:  # (none: nothing to check)
        metadata_json(new.metadata)


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """The metadata as stored (JSON text); ValueError unless a map of text to plain values."""
    if not isinstance(metadata, Mapping):
        raise ValueError(f"run metadata must be a mapping, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValueError(f"run metadata keys must be strings, got {key!r}")
        check_text(key, "metadata key", 256)
        if isinstance(value, str):
            check_text(value, f"metadata value of {key!r}", 4096)
        elif not isinstance(value, int | float | bool) or value != value:  # NaN: no JSON
            raise ValueError(
                f"run metadata value of {key!r} must be a string, number or boolean "
                f"(searchable in every store), got {type(value).__name__}")
    return json.dumps(dict(metadata), sort_keys=True, allow_nan=False)


def check_filters(status: str | Iterable[str] | None, limit: int) -> tuple[str, ...] | None:
    """``list_runs``'s status filter as a tuple (None: any); ValueError for a bad one."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit={limit!r}: use a whole number >= 1")
    if status is None:
        return None
    wanted = (status,) if isinstance(status, str) else tuple(status)
    for s in wanted:
        if s not in STATUSES:
            raise ValueError(f"unknown run status {s!r}; use one of {', '.join(STATUSES)}")
    return wanted


def check_graph(graph: str | None) -> None:
    """A graph's name as a run records it (or None); ValueError for anything else."""
    if graph is not None:
        if not isinstance(graph, str):
            raise ValueError(f"a run's graph is named by a string, not {type(graph).__name__}")
        check_text(graph, "graph name", 256)


def check_end(status: str) -> None:
    if status not in ENDED:
        raise ValueError(f"a run ends with one of {', '.join(ENDED)}, not {status!r}")


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r}: use a whole number >= 1, or None")


def check_stop(stop: str) -> None:
    if stop not in STOPS:
        raise ValueError(f"stop={stop!r}: use one of {', '.join(STOPS)}")


#: why an in-process run whose lease expired was ended
STALE = "its caller stopped renewing its lease (its process stopped or died)"


def check_lease_seconds(seconds: float) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"a lease lasts a number of seconds > 0, not {seconds!r}")


class MemoryRuns:
    """The RUNS tier's bookkeeping in memory (``MemoryLog`` holds one). Every method is
    synchronous: called from an async method that never awaits, it is atomic."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self._tokens: dict[str, str] = {}  # run id -> the token of its lease
        self._order = 0
        self.signals = RunSignals()
        self.signals.heard_all_since = -math.inf  # every change is this process's

    def _active(self, thread: str) -> list[RunRecord]:
        return sorted((r for r in self.runs.values() if r.thread == thread and r.status in ACTIVE),
                      key=lambda r: r.order)

    def create_claimed(self, new: NewRun, worker: str, seconds: float,
                       head_event: Callable[[str], tuple[int, bytes]], graph: str | None,
                       ) -> tuple[RunRecord, bool, Lease | None]:
        """``create``, with an ``enqueue`` run on an idle thread taken at once by
        ``worker`` (as ``claim`` would take it): then its lease too."""
        check_lease_seconds(seconds)
        check_graph(graph)
        check_new_run(new)
        if new.strategy != "enqueue" or self._active(new.thread):
            return (*self.create(new), None)
        record, created = self.create(new, quiet=True)
        if not created:
            return record, created, None
        taken, lease = self._take(record, worker, seconds, head_event, graph, time.time())
        return taken, True, lease

    def create(self, new: NewRun, *, in_process: bool = False, quiet: bool = False,
               ) -> tuple[RunRecord, bool]:
        """``quiet``: no wake-up for claimers (the caller takes the run at once)."""
        check_new_run(new, in_process=in_process)
        if new.idempotency_key is not None:
            for r in self.runs.values():
                if r.thread == new.thread and r.idempotency_key == new.idempotency_key:
                    return r, False
        if new.run_id in self.runs:
            raise RunExistsError(new.run_id)
        active = self._active(new.thread)
        if active and new.strategy == "reject":
            raise RunBusyError(new.thread, active[0].run_id)
        now = time.time()
        stopped = []
        if new.strategy in ("interrupt", "rollback"):
            for r in active:
                if r.status == RUNNING and r.stop is None:
                    stopped.append(replace(r, stop=new.strategy, updated=now))
                    self.runs[r.run_id] = stopped[-1]
        self._order += 1
        record = RunRecord(
            new.run_id, new.thread, PENDING, new.input, new.config, new.durability, new.strategy,
            new.idempotency_key, json.loads(metadata_json(new.metadata)), self._order, now, now,
            timeout=new.timeout, graph=new.graph)
        self.runs[new.run_id] = record
        for r in stopped:
            self.signals.changed(r)
        if not quiet:
            self.signals.created()
        return record, True

    def list(self, thread: str | None, status: str | Iterable[str] | None, since: float | None,
             until: float | None, metadata: Mapping[str, MetaValue] | None, limit: int,
             graph: str | None = None) -> list[RunRecord]:
        wanted = check_filters(status, limit)
        check_graph(graph)
        want_meta = json.loads(metadata_json(metadata or {}))
        found = [
            r for r in self.runs.values()
            if (thread is None or r.thread == thread) and (graph is None or r.graph == graph)
            and (wanted is None or r.status in wanted)
            and (since is None or r.created >= since) and (until is None or r.created < until)
            and all(k in r.metadata and r.metadata[k] == v and type(r.metadata[k]) is type(v)
                    for k, v in want_meta.items())
        ]
        found.sort(key=lambda r: r.order, reverse=True)
        return found[:limit]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.runs.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def claim(self, worker: str, seconds: float, head_event: Callable[[str], tuple[int, bytes]],
              limit: int | None = None, graph: str | None = None,
              ) -> tuple[RunRecord, Lease] | None:
        """``head_event(thread)``: the thread's head seq and its event's hash (a first
        claim's ``first_seq`` and ``head_hash``)."""
        check_lease_seconds(seconds)
        check_limit(limit)
        check_graph(graph)
        now = time.time()
        self._end_stale(None, now)
        if limit is not None and sum(
                1 for r in self.runs.values()
                if r.status == RUNNING and not r.in_process and (graph is None or r.graph == graph)
                and r.lease_expires is not None and r.lease_expires > now) >= limit:
            return None
        firsts: dict[str, RunRecord] = {}
        for r in sorted(self.runs.values(), key=lambda r: r.order):
            if r.status in ACTIVE and r.thread not in firsts:
                firsts[r.thread] = r
        for r in sorted(firsts.values(), key=lambda r: r.order):
            if r.in_process or (graph is not None and r.graph not in (None, graph)):
                continue  # its caller runs it; another graph's workers run it
            if r.status == PENDING or (r.lease_expires is not None and r.lease_expires <= now):
                record, lease = self._take(r, worker, seconds, head_event, graph, now)
                if any(p.status == PENDING and not p.in_process
                       and (graph is None or p.graph in (None, graph)) for p in self.runs.values()):
                    record = replace(record, queued=True)  # (runs a worker of the graph takes)
                return record, lease
        return None

    def _take(self, r: RunRecord, worker: str, seconds: float,
              head_event: Callable[[str], tuple[int, bytes]], graph: str | None, now: float,
              ) -> tuple[RunRecord, Lease]:
        """Claim ``r`` (claimable) for ``worker``: the claim's answer and lease."""
        token = new_token()
        head, digest = head_event(r.thread) if r.attempts == 0 else (r.first_seq, None)
        record = replace(
            r, status=RUNNING, worker=worker, lease_expires=now + seconds, updated=now,
            started=r.started if r.started is not None else now, attempts=r.attempts + 1,
            first_seq=head, graph=r.graph if r.graph is not None else graph)
        self.runs[r.run_id] = record
        self._tokens[r.run_id] = token
        record = replace(record, head_hash=digest)  # (the claim's answer, not stored)
        before = [p for p in self.runs.values() if p.thread == r.thread and p.order < r.order]
        prior = max(before, key=lambda p: p.order, default=None)
        if prior is not None and prior.stop == "rollback":
            record = replace(record, prior_rollback=prior.first_seq)
        return record, Lease(r.run_id, token)

    def holds(self, lease: Lease, *, unexpired: bool = True) -> RunRecord:
        """The run ``lease`` holds; LeaseLostError if it does not (any more)."""
        r = self.runs.get(lease.run_id)
        if r is None or r.status != RUNNING or self._tokens.get(lease.run_id) != lease.token:
            raise LeaseLostError(lease.run_id, "another worker claimed it, or it ended")
        if unexpired and (r.lease_expires is None or r.lease_expires <= time.time()):
            raise LeaseLostError(lease.run_id, "its lease expired")
        return r

    def renew(self, lease: Lease, seconds: float) -> RunRecord:
        check_lease_seconds(seconds)
        r = self.holds(lease)
        now = time.time()
        record = self.runs[r.run_id] = replace(r, lease_expires=now + seconds, updated=now)
        return record

    def finish(self, lease: Lease, status: str, result: bytes | None, error: str | None) -> RunRecord:
        check_end(status)
        return self._end(self.holds(lease, unexpired=False), status, result, error)

    def end(self, lease: Lease, end: RunEnd) -> RunRecord:
        """``end`` recorded with an append already fenced by ``lease`` (``Append.ends_run``)."""
        return self._end(self.holds(lease), end.status, end.result, end.error)

    def _end(self, r: RunRecord, status: str, result: bytes | None, error: str | None,
             ) -> RunRecord:
        now = time.time()
        record = self.runs[r.run_id] = replace(
            r, status=status, result=result, error=error, finished=now, updated=now,
            lease_expires=None)
        self._tokens.pop(r.run_id, None)
        waits = any(p.status == PENDING for p in self.runs.values())
        self.signals.changed(record, next_waits=waits)
        return record

    def delete_thread(self, thread: str) -> None:
        for run_id in [r.run_id for r in self.runs.values() if r.thread == thread]:
            del self.runs[run_id]
            self._tokens.pop(run_id, None)

    def stop(self, run_id: str, stop: str) -> RunRecord | None:
        check_stop(stop)
        r = self.runs.get(run_id)
        if r is None or r.done:
            return r
        now = time.time()
        if r.status == PENDING:
            record = replace(r, status="cancelled", stop=stop, finished=now, updated=now)
        else:
            record = replace(r, stop=r.stop or stop, updated=now)
        self.runs[run_id] = record
        self.signals.changed(record)
        return record

    def _end_stale(self, thread: str | None, now: float) -> None:
        """End the in-process runs (of ``thread``, or all) whose lease expired."""
        for r in list(self.runs.values()):
            if (r.in_process and r.status in ACTIVE and (thread is None or r.thread == thread)
                    and r.lease_expires is not None and r.lease_expires <= now):
                self.runs[r.run_id] = ended = replace(
                    r, status="cancelled" if r.status == PENDING else "error", error=STALE,
                    finished=now, updated=now, lease_expires=None)
                self._tokens.pop(r.run_id, None)
                self.signals.changed(ended)

    def enter(self, new: NewRun, holder: str, seconds: float,
              head_event: Callable[[str], tuple[int, bytes]]) -> tuple[RunRecord, Lease]:
        """``head_event(thread)``: the thread's head seq and its event's hash."""
        check_lease_seconds(seconds)
        now = time.time()
        thread = new.thread
        if new.idempotency_key is None and new.run_id not in self.runs and not any(
                r.thread == thread and r.status in ACTIVE for r in self.runs.values()):
            # an idle thread (the common case): taken at once, nothing to end or ask
            check_new_run(new, in_process=True)
            head, digest = head_event(thread)
            self._order += 1
            lease = Lease(new.run_id, new_token())
            self._tokens[new.run_id] = lease.token
            record = self.runs[new.run_id] = RunRecord(
                new.run_id, thread, RUNNING, b"", new.config, new.durability, new.strategy, None,
                dict(new.metadata), self._order, now, now, now, None, 1, holder, now + seconds,
                first_seq=head, timeout=new.timeout, head_hash=digest)  # (kept as read)
            return record, lease
        self._end_stale(new.thread, now)
        record, _ = self.create(new, in_process=True)
        lease = Lease(new.run_id, new_token())
        self.runs[new.run_id] = replace(record, worker=holder, lease_expires=now + seconds)
        self._tokens[new.run_id] = lease.token
        return self.take(lease, seconds, lambda t: head_event(t)[0]), lease

    def take(self, lease: Lease, seconds: float, head_of: Callable[[str], int]) -> RunRecord:
        check_lease_seconds(seconds)
        r = self.runs.get(lease.run_id)
        if r is not None and r.done:
            return r
        now = time.time()
        if r is None or self._tokens.get(lease.run_id) != lease.token:
            raise LeaseLostError(lease.run_id, "it ended or was dropped")
        if r.lease_expires is None or r.lease_expires <= now:
            raise LeaseLostError(lease.run_id, "its lease expired")
        record = replace(r, lease_expires=now + seconds, updated=now)
        if r.status == PENDING:
            self._end_stale(r.thread, now)
            if self._active(r.thread)[0].run_id == r.run_id:
                record = replace(record, status=RUNNING, started=now, attempts=1,
                                 first_seq=head_of(r.thread))
        self.runs[r.run_id] = record
        return record

    def drop(self, lease: Lease) -> None:
        if self._tokens.get(lease.run_id) == lease.token:
            del self.runs[lease.run_id]
            del self._tokens[lease.run_id]
            self.signals.notify(lease.run_id)
            self.signals.notify(None)  # its thread's next run may be claimable now
