"""Group commit: many threads' appends share one store transaction.

Leader/follower, with no background task and no timer: a caller queues its append and
takes the store's commit lock; if an earlier leader already committed its append while
it waited, it returns at once; otherwise it becomes the leader and commits everything
queued so far in one ``append_batch``. A batch therefore never waits for more work:
whoever is waiting is committed by the next transaction, together with whatever
arrived while the previous one was on disk.

Inline commits: a store that hands its work to a driver thread (SQLite) pays a thread
hop per transaction, about as much as the commit itself. When the caller waits for
its commit and no other thread is being worked on in this process (``turns``, kept by
the thread actors), there is nothing to group it with, so the leader asks the store
to run it on the caller's thread (``append_batch(..., inline=True)``; the store
decides whether that is cheap right now). Only a store that declares the tier
(``Capability.INLINE_APPENDS``, see ``lograph.eventlog.InlineAppender``) is asked.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from contextvars import ContextVar
from typing import cast

import anyio

from lograph.eventlog import (
    Append,
    Capability,
    Event,
    EventLog,
    InlineAppender,
    Lease,
    RunEnd,
    SchemaVersionError,
    StoreUnavailableError,
    capabilities,
)
from lograph.eventlog.lowlevel import CheckedAppend

from ._sync import LoopKey, loop_key

#: the lease of the run this task works for (a worker sets it, ``_worker``): every append
#: made in its context carries it, and the store refuses the append once the lease is lost
RUN_LEASE: ContextVar[Lease | None] = ContextVar("lograph_run_lease", default=None)

#: errors of the store itself, not of one item: every item of the batch shares them
_WHOLE_STORE = (StoreUnavailableError, SchemaVersionError)


class _Request:
    __slots__ = ("append", "done", "error")

    def __init__(self, append: Append) -> None:
        self.append = append
        self.done = False
        self.error: BaseException | None = None


class _Lane:
    """One event loop's side of the writer: its queue and its leader's lock. Requests
    never cross loops: a leader on one loop cannot finish another loop's request, so
    that loop's caller could not learn when its events became durable."""

    __slots__ = ("lock", "queue")

    def __init__(self) -> None:
        self.lock = anyio.Lock(fast_acquire=True)
        self.queue: list[_Request] = []


class Committer:
    """The store's log writer: serialises transactions, batching whatever is queued."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._lanes: weakref.WeakKeyDictionary[LoopKey, _Lane] = weakref.WeakKeyDictionary()
        self.transactions = 0
        self.appends = 0
        self.turns = 0  # thread actors' turns under way in this process (see count_turn)
        self._counting = threading.Lock()  # actors on several event loops' threads
        # Decided once: only a store that declares the tier takes ``inline=``.
        self._inline: InlineAppender | None = (
            cast(InlineAppender, log) if Capability.INLINE_APPENDS in capabilities(log) else None)

    def lane(self) -> _Lane:
        """The running event loop's side of the writer (a run keeps it: its loop's)."""
        key = loop_key()
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        return lane

    @property
    def queued(self) -> int:
        """Appends waiting for a transaction, on every event loop."""
        return sum(len(lane.queue) for lane in list(self._lanes.values()))

    def count_turn(self, delta: int) -> None:
        """A thread actor's turn starts (+1) or ends (-1)."""
        with self._counting:
            self.turns += delta

    async def commit(
        self, thread: str, events: Sequence[Event], expect_head: int, *, waiting: bool = True,
        parent_hash: bytes | None = None, lane: _Lane | None = None, drops_run: bool = False,
        ends_run: RunEnd | None = None,
    ) -> None:
        """Return once ``events`` are durable in the store, or raise their error.

        ``waiting``: the run waits for this commit (False for a background flush, which
        must never hold up the run's event loop). ``parent_hash``: see ``Append``.
        ``lane``: :meth:`lane` as the caller kept it (it must be the running loop's).
        ``drops_run``: these are the last events of the in-process run whose lease this
        task carries (``RUN_LEASE``): its record is dropped with them (``Append.drops_run``).
        ``ends_run``: they are the last of the worker's run whose lease this task carries:
        its end is recorded with them (``Append.ends_run``).

        Shielded: once queued, the append completes even if the caller is cancelled, so
        a cancelled run never leaves the writer with half a batch.
        """
        # An append no store could keep is refused here, before it joins a batch: its
        # error is its caller's alone (and nothing of it is written). Checked once: the
        # store takes a CheckedAppend as it is.
        lease = RUN_LEASE.get()
        request = _Request(CheckedAppend(thread, events, expect_head, parent_hash, lease,
                                         drops_run and lease is not None,
                                         None if lease is None else ends_run))
        if lane is None:
            lane = self.lane()
        lane.queue.append(request)
        with anyio.CancelScope(shield=True):
            lock = lane.lock
            try:  # a free lock at once: what acquire does then, in a shield, without its awaits
                lock.acquire_nowait()
            except anyio.WouldBlock:
                await lock.acquire()
            try:
                if not request.done:
                    await self._lead(lane, waiting)
            finally:
                lock.release()
        if request.error is not None:
            raise request.error

    async def _lead(self, lane: _Lane, waiting: bool) -> None:
        batch, lane.queue = lane.queue, []
        appends = [r.append for r in batch]
        try:
            if self._inline is not None and waiting and len(batch) == 1 and self.turns <= 1:
                results = await self._inline.append_batch(appends, inline=True)
            else:
                results = await self.log.append_batch(appends)
        except Exception as e:  # noqa: BLE001 - every item learns why, or is tried alone
            if len(batch) > 1 and not isinstance(e, _WHOLE_STORE):
                # One item's row failed the transaction (a store limit, a driver's
                # refusal): commit each item alone, so only its own caller fails.
                await self._one_by_one(batch)
                return
            for r in batch:
                r.done, r.error = True, e
            return
        except BaseException as e:  # noqa: BLE001 - cancelled or crashed: every item learns why
            for r in batch:
                r.done, r.error = True, e
            return
        self.transactions += 1
        self.appends += len(batch)
        for r, err in zip(batch, results, strict=True):
            r.done, r.error = True, err

    async def _one_by_one(self, batch: list[_Request]) -> None:
        for r in batch:
            try:
                (r.error,) = await self.log.append_batch([r.append])
            except Exception as e:  # noqa: BLE001 - this item's error, for its caller
                r.error = e
            except BaseException as e:  # noqa: BLE001 - cancelled or crashed: the rest learn why
                for rest in batch:
                    if not rest.done:
                        rest.done, rest.error = True, e
                return
            else:
                self.transactions += 1
                self.appends += 1
            r.done = True
