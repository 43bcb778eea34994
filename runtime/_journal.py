"""A run's journal: builds events, folds them into the live checkpoint, makes them durable.

The engine never keeps state of its own: it appends events here and reads the fold.
So ``fold(log) == live state`` holds by construction.

Durability (the design's contract):
- ``sync``: ``barrier()`` returns once every event so far is committed. The engine calls
  it before anything that depends on those events runs.
- ``async``: ``barrier()`` hands the events to this run's flusher and returns without
  waiting, unless more than ``ASYNC_LIMIT`` events are still uncommitted: then the run
  waits for the flusher (a slow disk slows the run instead of growing memory).
  ``close()`` waits for the flusher, so the run's last events are durable before
  ``ainvoke`` returns.
- ``exit``: events stay here until ``close()``, which writes them in one transaction.

A journal that is not ``stored`` (a graph run without a checkpointer) keeps nothing:
events are folded as given, never encoded or written, so a state may hold any Python
object, as in LangGraph without a checkpointer.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from lograph.eventlog import Checkpoint, EncodeError, Event, Kind, RunEnd, encode, make_event
from lograph.eventlog.bodies import NULL_TASK, Body, Source, encode_body
from lograph.eventlog.lowlevel import apply

from ._checkpointer import Checkpointer


class RunTurn(Protocol):
    """A run's turn in its thread's queue of runs: a direct run's place (``_place.Place``)
    or a worker's claim (``_worker``). ``head``: the thread's head (seq, hash) as the
    store read it while taking the turn (None: not read), so the run does not read it
    again; ``drops_with_last_append``: whether the run's last append drops its record
    (then ``dropped`` is set once it did); else ``end_with_last_append``: the run's end
    its last append records (``Append.ends_run``), given the run's final fold and the
    error it failed with (``Journal.failure``), or None."""

    head: tuple[int, bytes] | None
    dropped: bool

    def drops_with_last_append(self) -> bool: ...

    def end_with_last_append(self, cp: Checkpoint, failure: BaseException | None,
                             ) -> RunEnd | None: ...

ASYNC_LIMIT = 512  # events handed to the flusher but not yet committed before the run waits
FLUSH_AFTER_PASSES = 3  # scheduler passes the flusher lets the run have before it commits
_FROM_CALLER = (Source.INPUT, Source.UPDATE)


class Journal:
    def __init__(
        self, saver: Checkpointer, thread: str, cp: Checkpoint, head: int, durability: str,
        *, stored: bool = True, place: RunTurn | None = None,
    ) -> None:
        self.saver = saver
        self.stored = stored
        self.place = place  # the run's turn in its thread's queue (see RunTurn)
        #: the error the run failed with (the engine sets it before the run's last events)
        self.failure: BaseException | None = None
        self.thread = thread
        self.cp = cp
        self.durability = durability
        self.next_seq = head + 1
        self.durable_head = head
        self.handed = head  # the last event handed to the store (committed or on its way)
        # The hash of the event the next commit's first event follows: the run's events
        # form one chain from the head it started at, committed in order.
        self._link = cp.head_hash
        self._start = head
        self.pending: list[Event] = []
        self._error: BaseException | None = None
        self._order = anyio.Lock(fast_acquire=True)  # parallel tasks' barriers commit in seq order
        self._lane: Any = None  # the writer's side for the run's event loop (found at its first commit)
        # async mode: the flusher's queue, its wake-up call and the run's wait for room
        self._flusher = False
        self._queued: list[Event] = []
        self._inflight = 0  # events of the transaction the flusher is committing now
        self._wake = anyio.Event()
        self._room: anyio.Event | None = None
        self._closing = False
        # Replaying recorded @task results: barriers wait until the code makes a call the
        # log has no answer for, so a replay that diverges (NonDeterminismError) writes nothing.
        self.hold = False

    def add(self, body: Body, step: int = 0, task_id: str = "", run_id: str = "", ns: str = "") -> Event:
        """Seal ``body`` as an event after the branch's head and fold it. Raises EncodeError,
        writing nothing."""
        if self.stored:
            data, raw = encode_body(body)
        else:  # (a run without a checkpointer: nothing is kept, so nothing is encoded)
            data, raw = body.to_map(), b""
        kind = body.KIND
        cp = self.cp
        if not cp.head:  # a new thread: its first event sets its chain's version for life
            seal = self.saver.seal
            cp.head_hash, cp.keyed = seal.genesis(self.thread), seal.key is not None
        event = make_event(
            cp.head_hash, seq=self.next_seq, parent=cp.head, kind=kind, run_id=run_id,
            step=step, task_id=task_id, ns=ns, ts=time.time(), body=raw,
            key=self.saver.seal.key if cp.keyed else None,
        )
        # What callers hand in (an input, an update, a Command) is folded as decoded from
        # the event: the state never shares an object the caller may change afterwards.
        # (Nodes' writes are folded as given: a node must not change what it returned.)
        outside = self.stored and ((kind == Kind.CHECKPOINT and data["source"] in _FROM_CALLER) or (
            kind == Kind.NODE_WRITES and task_id == NULL_TASK))
        apply(self.cp, event, None if outside else data)
        self.next_seq += 1
        self.pending.append(event)
        return event

    def start(self, tg: TaskGroup) -> None:
        """In ``async`` mode, start this run's flusher in the run's task group."""
        if self.durability == "async":
            self._flusher = True
            tg.start_soon(self._flush)

    async def barrier(self) -> None:
        """A durability point: see the module docstring for what each mode does here."""
        if self._error is not None:
            raise self._error
        if not self.pending or self.durability == "exit" or self.hold:
            return
        if self._flusher:
            self.handed = self.pending[-1].seq
            self._queued += self.pending
            self.pending = []
            self._wake.set()
            while len(self._queued) + self._inflight > ASYNC_LIMIT and self._error is None:
                if self._room is None or self._room.is_set():  # one event for every waiter
                    self._room = anyio.Event()
                await self._room.wait()
            return
        # This barrier is for the events sealed so far, not for what siblings seal while
        # it waits for the lock: a step's last task's writes must go in the step
        # boundary's commit, so the log never holds a step whose tasks all wrote but
        # whose boundary is missing (its live snapshot would show next=()).
        mark = self.pending[-1].seq
        async with self._order:
            if self._error is not None:
                raise self._error
            if self.handed >= mark:
                return  # a sibling's barrier committed ours while we waited
            cut = mark - self.pending[0].seq + 1  # pending seqs are dense
            events, self.pending = self.pending[:cut], self.pending[cut:]
            self.handed = events[-1].seq
            try:
                await self._commit(events)
            except BaseException as e:
                # The branch now ends at events the store does not have: nothing more may
                # be committed after them (it would link to a missing parent).
                self._error = e
                raise

    async def _commit(self, events: list[Event], *, waiting: bool = True, last: bool = False) -> None:
        """``last``: the run's last commit (its place, if it drops with it, goes too)."""
        link, self._link = self._link, events[-1].hash
        writer = self.saver.writer
        if self._lane is None:
            self._lane = writer.lane()
        place = self.place
        drops = last and place is not None and place.drops_with_last_append()
        end = place.end_with_last_append(self.cp, self.failure) \
            if last and place is not None and not drops else None
        await writer.commit(
            self.thread, events, events[0].seq - 1, waiting=waiting, parent_hash=link,
            lane=self._lane, drops_run=drops, ends_run=end,
        )
        self.durable_head = events[-1].seq
        if drops:
            assert place is not None
            place.dropped = True

    async def _flush(self) -> None:
        # Shielded: it ends once close() has been called and the queue is empty.
        with anyio.CancelScope(shield=True):
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                if not self._closing:
                    # Let the run go on to what it awaits next (a node's thread, a call)
                    # first: the commit then overlaps that wait instead of delaying it.
                    # (Handing a call to a worker thread takes anyio two scheduler passes.)
                    for _ in range(FLUSH_AFTER_PASSES):
                        await anyio.lowlevel.checkpoint()
                while self._queued:
                    events, self._queued = self._queued, []
                    self._inflight = len(events)
                    if self._error is None:
                        try:  # (once closing, nothing is queued after the batch that empties it)
                            await self._commit(events, waiting=self._closing,
                                               last=self._closing and not self._queued)
                        except Exception as e:  # noqa: BLE001 - surfaced by the next barrier/close
                            self._error = e
                    self._inflight = 0
                    if self._room is not None:
                        self._room.set()  # backpressure: the run may go on
                if self._closing:
                    if self._room is not None:
                        self._room.set()
                    return

    async def close(self) -> None:
        """Make everything durable (all modes). Shielded: a cancelled run still records its end."""
        with anyio.CancelScope(shield=True):
            if not self.stored:
                self.pending = []
                return
            if self._flusher:
                if self.pending:
                    self.handed = self.pending[-1].seq
                self._queued += self.pending
                self.pending = []
                self._closing = True
                self._wake.set()
                return  # the task group waits for the flusher; the caller checks error()
            if self.pending and self._error is None:
                events, self.pending = self.pending, []
                await self._commit(events, last=True)

    @property
    def resumes(self) -> dict[str, Any]:
        """Answers to interrupts, wherever in the graph (subgraphs included) they were raised."""
        return self.cp.resumes

    def release(self) -> None:
        """New work starts (or a sibling finished): whatever was replayed is kept."""
        self.hold = False

    def error(self) -> BaseException | None:
        return self._error

    def discard(self) -> bool:
        """Forget the run's events if none has been handed to the store yet (True: the
        run wrote nothing). Otherwise keep them, so the branch stays whole."""
        if self.handed > self._start:
            return False
        self.pending = []
        return True


class SubJournal:
    """A subgraph's view of its caller's journal: same chain, its own fold (``cp``).

    Events are sealed on the thread's branch like any other, under the subgraph's
    checkpoint namespace, so the fold keeps the subgraph's state apart; durability
    points are the caller's.
    """

    def __init__(self, root: Journal, ns: str) -> None:
        self.root = root
        self.ns = ns
        self.thread = root.thread
        self.durability = root.durability
        self._held = False  # this subgraph's run set the top journal's replay hold

    @property
    def cp(self) -> Checkpoint:
        child = self.root.cp.children.get(self.ns)
        return child if child is not None else Checkpoint()

    @property
    def resumes(self) -> dict[str, Any]:
        return self.root.cp.resumes

    @property
    def hold(self) -> bool:
        """The replay hold is the top journal's: every event goes through its barriers."""
        return self.root.hold

    @hold.setter
    def hold(self, value: bool) -> None:
        if value and not self.root.hold:
            self.root.hold, self._held = True, True
        elif not value and self._held:
            self.root.hold, self._held = False, False

    def release(self) -> None:
        """New work starts (or a sibling finished): whatever was replayed is kept."""
        self.root.hold, self._held = False, False

    def add(self, body: Body, step: int = 0, task_id: str = "", run_id: str = "",
            ns: str = "") -> Event:
        return self.root.add(body, step, task_id, run_id, self.ns)

    async def barrier(self) -> None:
        await self.root.barrier()


def encode_writes_error(writes: list[list[Any]], node: str) -> EncodeError | None:
    """Find which channel of a node's writes cannot be stored (the slow path of an error)."""
    for channel, value in writes:
        try:
            encode(value, path=f"channel {channel!r} written by node {node!r}")
        except EncodeError as e:
            return e
    return None
