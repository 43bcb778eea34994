"""Durable runs: submit a run to the store, and join, stream, cancel or list it from anywhere.

Rules:
- ``submit`` returns once the run is recorded in the store (``create_run``): a run that
  was acknowledged survives any crash. Its input, config and result are stored with the
  event log's codec; anything the codec cannot store is refused before a byte is written.
- A run record is the only shared state: ``join``, ``stream`` and ``cancel`` read or
  write the store, so any process holding the store can do them for any run.
- ``stream`` reads the run's events from the thread's log (everything after the head
  the thread had when the run was first claimed; one run per thread runs at a time),
  so a client that reconnects, here or elsewhere, passes ``after=`` the last seq it saw
  and misses nothing.
- Workers (``_worker``) claim and execute what is submitted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol, cast

import anyio

from lograph.eventlog import (
    AuditEvent,
    Capability,
    EventLog,
    Kind,
    Lease,
    NewRun,
    RunQueue,
    RunRecord,
    capabilities,
    checkpoint_id,
    decode,
    encode,
    typed,
)

from ._checkpointer import Checkpointer
from ._errors import GraphError
from ._otel import TRACE_KEY, submitting
from ._types import Command

__all__ = ["RunError", "RunHandle", "Runs"]

#: what a submitted config may hold (stored with the run; anything else is refused)
CONFIG_KEYS = ("configurable", "recursion_limit", "tags", "metadata", "run_name")
_POLL = 0.05
#: seconds between a waiter's reads when the store announces every change to this process
_SAFEGUARD = 1.0


class Taker(Protocol):
    """An in-process worker that a submit may hand its run to (``Worker``): ``reserve``
    takes one of its slots for ``new`` if it would claim ``new`` and is serving on the
    caller's event loop (None: it would not), and starts the run's task there; then
    ``take`` hands that task what the store recorded running under ``lease``, or
    ``unreserve`` gives the slot back. One of the two follows every reserve."""

    name: str
    lease: float
    graph_name: str | None

    def reserve(self, new: NewRun) -> Any: ...

    def unreserve(self, handoff: Any) -> None: ...

    def take(self, handoff: Any, record: RunRecord, lease: Lease) -> None: ...


#: the in-process workers serving each store (by ``id`` of its runs tier) while they serve
TAKERS: dict[int, list[Taker]] = {}


async def record_run(queue: RunQueue, new: NewRun) -> tuple[RunRecord, bool]:
    """``create_run``; or, when a worker of this process serving this store has a free
    slot and the store can (``create_run_claimed``), recorded already taken by it: one
    write instead of a record and a claim, and no wait for the worker's wake-up. The
    run is that worker's from there, under its lease, as if it had claimed it (a
    takeover after it expires included). It returns once the record is on disk: a
    store may commit it without waiting for that, and say when it is (the run's first
    commit, in ``sync`` durability, flushes it: one flush fewer)."""
    takers = TAKERS.get(id(queue))
    create_claimed: Any = getattr(queue, "create_run_claimed", None)
    taker = handoff = None
    if takers and create_claimed is not None:
        for taker in takers:
            handoff = taker.reserve(new)
            if handoff is not None:
                break
    if taker is None or handoff is None:
        return await queue.create_run(new)
    lease = None
    try:
        # (shielded: a run recorded as taken is handed in, whatever happens to the caller;
        # its task started with the reserve, so it starts while the record is written)
        with anyio.CancelScope(shield=True):
            record, created, lease, flushed = await create_claimed(
                new, taker.name, taker.lease, taker.graph_name)
    finally:
        if lease is None:
            taker.unreserve(handoff)
    if lease is not None:
        taker.take(handoff, record, lease)
    if flushed is not None:  # not on disk yet: its run's first commit, or a flush, puts it there
        record = await flushed()
    return record, created


class RunError(GraphError):
    """A run ended without a result: ``status`` says how (error, cancelled, timeout,
    interrupted by a newer run), ``record`` is the run as the store has it."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.status = record.status
        why = f": {record.error}" if record.error else ""
        super().__init__(f"run {record.run_id!r} on thread {record.thread!r} ended "
                         f"{record.status}{why}")


def queue_of(store: Any) -> tuple[Checkpointer, RunQueue]:
    """The checkpointer and its runs tier, from a checkpointer or a compiled graph."""
    saver = getattr(store, "checkpointer", store)
    if not isinstance(saver, Checkpointer):
        raise TypeError("durable runs need a store: pass a checkpointer (MemorySaver, "
                        "SqliteSaver, PostgresSaver) or a graph compiled with one, "
                        f"not {type(store).__name__}")
    if Capability.RUNS not in capabilities(saver.log):
        raise TypeError(f"the store {type(saver.log).__name__} keeps no run records "
                        "(Capability.RUNS): use a MemorySaver, SqliteSaver or PostgresSaver")
    return saver, cast(RunQueue, saver.log)


def encode_input(input: Any) -> bytes:
    """The run's input as stored: ``{"input": value}`` or ``{"command": fields}``."""
    if isinstance(input, Command):
        fields = {"graph": input.graph, "update": input.update, "resume": input.resume,
                  "goto": input.goto}
        return encode({"command": fields}, path="the run's Command")
    return encode({"input": input}, path="the run's input")


def decode_input(data: bytes) -> Any:
    stored = decode(data)
    if "command" in stored:
        return Command(**stored["command"])
    return stored["input"]


def encode_config(config: Mapping[str, Any] | None, trace: Mapping[str, str] | None = None) -> bytes:
    """The parts of ``config`` a worker runs with; ValueError for anything else.
    ``trace``: the submitter's trace context, stored beside them (``_otel``)."""
    config = dict(config or {})
    unknown = sorted(k for k in config if k not in CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"a submitted run's config is stored and run by a worker, so it holds only "
            f"{', '.join(CONFIG_KEYS)}; got {unknown[0]!r} (callbacks and other live objects "
            "belong to the worker's process)")
    configurable = dict(config.get("configurable") or {})
    for reserved in ("thread_id", "checkpoint_ns"):
        configurable.pop(reserved, None)  # the run's thread is its own; a run is a top graph
    config["configurable"] = configurable
    if trace:
        config[TRACE_KEY] = dict(trace)
    return encode(config, path="the run's config")


def run_config(record: RunRecord) -> dict[str, Any]:
    """The config a worker runs ``record`` with: its stored config on its thread, with its
    run id in the metadata (so the log's run.started events name the run)."""
    config: dict[str, Any] = decode(record.config) if record.config else {}
    config.pop(TRACE_KEY, None)  # (the worker's span links to it: ``_otel``)
    config["configurable"] = {**config.get("configurable", {}), "thread_id": record.thread}
    config["metadata"] = {**config.get("metadata", {}), "run_id": record.run_id}
    return config


async def rollback_point(log: EventLog, thread: str, seq: int) -> str | None:
    """The checkpoint a rolled-back run started from (``seq``: the thread's head then)."""
    events = {e.seq: e for e in await log.read(thread, upto=seq)}
    while seq and events[seq].kind != Kind.CHECKPOINT:
        seq = events[seq].parent
    return checkpoint_id(seq, events[seq].hash) if seq else None


async def prior_rollback(queue: RunQueue, record: RunRecord) -> int:
    """Where the run before ``record`` on its thread began, if it was rolled back; else
    0 (what a claim reports as ``prior_rollback``, for a run taken by its caller)."""
    before = [r for r in await queue.list_runs(thread=record.thread, limit=50)
              if r.order < record.order]
    return before[0].first_seq if before and before[0].stop == "rollback" else 0


def stopped(stop: str) -> tuple[str, str]:
    """How a run stopped for ``stop`` ends: its status and why."""
    if stop == "interrupt":
        return "interrupted", ("stopped at a step boundary for a newer run "
                               "(multitask_strategy='interrupt')")
    if stop == "rollback":
        return "cancelled", ("rolled back for a newer run (multitask_strategy='rollback'); "
                             "its steps stay in the log on a branch of their own")
    return "cancelled", "cancelled"


class RunHandle:
    """A submitted run, by id: any process holding the store can join, stream or cancel it."""

    def __init__(self, queue: RunQueue, record: RunRecord, *, created: bool = True,
                 read_at: float | None = None) -> None:
        self._queue = queue
        self.record = record
        #: False when ``submit`` found the run by its idempotency key instead
        self.created = created
        self._read_at = read_at  # time.monotonic() before ``record`` was read

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def thread_id(self) -> str:
        return self.record.thread

    def __repr__(self) -> str:
        return f"<RunHandle {self.run_id!r} thread={self.thread_id!r} {self.record.status}>"

    async def refresh(self) -> RunRecord:
        """The run as the store has it now."""
        read_at = time.monotonic()
        found = await self._queue.get_run(self.run_id)
        self._read_at = read_at
        if found is None:
            raise LookupError(f"run {self.run_id!r} is no longer in the store (its thread was deleted)")
        self.record = found
        return found

    async def wait(self, *, poll: float = _POLL) -> RunRecord:
        """Wait until the run has ended; its final record. Woken by the store when the run
        ends (in this process at once, with the final record; from another process
        through PostgreSQL's LISTEN), and reading the store every ``poll`` seconds
        as well (how a joiner on SQLite learns of another process's worker; every
        second while this process hears of every change)."""
        async with self._queue.watch_runs(self.run_id) as woken:
            fresh = self._read_at is not None and woken.quiet_since(self._read_at)
            record = self.record if fresh else await self.refresh()  # (fresh: from submit, say)
            while not record.done:
                await woken.wait(max(poll, _SAFEGUARD) if woken.hears_all() else poll)
                told = woken.record
                if told is not None and told.done:
                    self.record = record = told
                else:
                    record = await self.refresh()
        return record

    async def join(self, *, poll: float = _POLL) -> Any:
        """Wait for the run; what ``invoke`` would have returned. A run that paused on an
        interrupt returns the state it paused at. RunError if it ended without a result."""
        record = await self.wait(poll=poll)
        if record.result is None:
            raise RunError(record)
        return decode(record.result)

    async def cancel(self) -> RunRecord:
        """Cancel the run, recorded in the store: a pending run ends ``cancelled`` at once;
        a running one is stopped by its worker at its next step boundary."""
        found = await self._queue.stop_run(self.run_id, "cancel")
        if found is None:
            raise LookupError(f"run {self.run_id!r} is not in the store")
        self.record = found
        return found

    async def stream(self, *, after: int | None = None, poll: float = _POLL) -> AsyncIterator[AuditEvent]:
        """The run's events as the log has them (typed audit events), as they are written,
        until the run has ended. ``after``: the last seq already seen (a reconnecting
        client passes it and misses nothing)."""
        async with self._queue.watch_runs(self.run_id) as woken:
            record = await self.refresh()
            while record.status == "pending":
                await woken.wait(poll)
                record = await self.refresh()
        if record.started is None:
            return  # it ended without ever running (cancelled while pending): no events
        cursor = max(record.first_seq, after or 0)
        log = self._queue
        while True:
            ended = record.done  # read before the events: nothing after it is missed
            for event in await log.read(record.thread, after=cursor):
                cursor = event.seq
                yield typed(event)
            if ended:
                return
            await anyio.sleep(poll)
            record = await self.refresh()


class Runs:
    """Durable runs on a store (a checkpointer, or a graph compiled with one).

    ``await Runs(saver).submit("thread-1", {"messages": [...]})`` records a run for a
    :class:`~lograph.runtime.Worker` to execute and returns its handle. Given a graph,
    its runs are submitted for that graph's name (workers of other graphs leave them).
    """

    def __init__(self, store: Any) -> None:
        self.saver, self.queue = queue_of(store)
        #: the graph name runs are submitted for by default (None: any worker's)
        self.graph: str | None = None if store is self.saver else getattr(store, "name", None)

    async def submit(
        self, thread_id: str, input: Any = None, config: Mapping[str, Any] | None = None, *,
        durability: str = "async", multitask_strategy: str = "enqueue",
        idempotency_key: str | None = None, metadata: Mapping[str, Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the run's limit, kept with it
        run_id: str | None = None, graph: str | None = None,
    ) -> RunHandle:
        """Record a run of ``input`` (a state update, a ``Command``, or None to resume) on
        ``thread_id``; return its handle once the store has it.

        ``multitask_strategy`` when the thread has an active run: ``"enqueue"`` (run after
        it), ``"reject"`` (RunBusyError, nothing recorded), ``"interrupt"`` (stop it at
        its next step boundary, keeping its progress, then run), ``"rollback"`` (stop it
        and run from where it started; its progress stays in the log on a branch of its
        own). ``idempotency_key``: a thread's run with the same key is returned instead
        (``handle.created`` is False). ``timeout``: seconds a worker lets it run.
        ``graph``: the name of the graph to run it (only its workers claim it; default:
        the name of the graph these runs were made with, if any).
        """
        with submitting(str(thread_id), durability) as traced:
            new = NewRun(
                run_id or str(uuid.uuid4()), str(thread_id), encode_input(input),
                encode_config(config, traced.carrier), durability, multitask_strategy,
                idempotency_key, dict(metadata or {}), timeout,
                graph if graph is not None else self.graph)  # (the store checks it)
            read_at = time.monotonic()
            record, created = await record_run(self.queue, new)
            traced.recorded(record, created)
        return RunHandle(self.queue, record, created=created, read_at=read_at)

    async def get(self, run_id: str) -> RunHandle:
        found = await self.queue.get_run(run_id)
        if found is None:
            raise LookupError(f"no run {run_id!r} in the store")
        return RunHandle(self.queue, found, created=False)

    async def list(
        self, *, thread_id: str | None = None, status: str | Iterable[str] | None = None,
        since: float | None = None, until: float | None = None,
        metadata: Mapping[str, Any] | None = None, limit: int = 100, graph: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching every filter given, newest first (see ``RunQueue.list_runs``)."""
        return await self.queue.list_runs(thread=thread_id, status=status, since=since,
                                          until=until, metadata=metadata, limit=limit,
                                          graph=graph)

    async def counts(self) -> dict[str, int]:
        """Runs per status; ``counts().get("pending", 0)`` is the queue's depth."""
        return await self.queue.run_counts()

