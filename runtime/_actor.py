"""The thread actor: owns a thread's head in this process and serialises work on it.

Runs, resumes and ``update_state`` on one thread take the actor's turn (a FIFO lock:
the lock's wait queue is the mailbox), so within a process they never interleave.
Across processes the log's optimistic append makes the loser fail with a conflict.

The actor caches the fold at the thread's head, so consecutive runs do not re-read
the log; at the start of every turn it asks the store for the head (one cheap query)
and reloads only if another process moved it.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from lograph.eventlog import Checkpoint, CorruptLogError, Event, ancestry, verify_link
from lograph.eventlog._fold import apply, dump_snapshot, load_snapshot

from ._commit import loop_key

if TYPE_CHECKING:
    from ._checkpointer import Checkpointer


class ThreadActor:
    def __init__(self, saver: Checkpointer, thread: str) -> None:
        self.saver = saver
        self.thread = thread
        self.cached: Checkpoint | None = None  # the fold at ``head``
        self.head = 0
        self.busy = False
        self._locks: weakref.WeakKeyDictionary[Any, anyio.Lock] = weakref.WeakKeyDictionary()
        self.last_snapshot = 0

    def forget(self) -> None:
        self.cached, self.head, self.last_snapshot = None, 0, 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[ThreadActor]:
        """Exclusive use of the thread in this process, with ``head``/``cached`` current."""
        key = loop_key()
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock(fast_acquire=True)
        async with lock:
            self.busy = True
            try:
                head = await self.saver.log.head(self.thread)
                if head != self.head or self.cached is None:
                    self.cached = await self.load(head) if head else Checkpoint()
                    self.head = head
                yield self
            finally:
                self.busy = False

    async def load(self, tip: int) -> Checkpoint:
        """Fold the branch ending at event ``tip``, from the nearest snapshot on it."""
        log = self.saver.log
        snap = await log.latest_snapshot(self.thread, tip)
        if snap is not None:
            base, data = snap
            chain = ancestry(await log.read(self.thread, after=base, upto=tip), tip, base)
            if chain is not None:
                start = load_snapshot(data)
                self.last_snapshot = max(self.last_snapshot, base)
                return self._fold(start, chain)
        chain = ancestry(await log.read(self.thread, upto=tip), tip)
        if chain is None:
            raise CorruptLogError(self.thread, tip, "the branch's parent links are broken")
        return self._fold(Checkpoint(), chain)

    def _fold(self, cp: Checkpoint, chain: list[Event]) -> Checkpoint:
        for event in chain:
            if not verify_link(event, cp.head_hash):
                raise CorruptLogError(
                    self.thread, event.seq, "hash chain broken: the event was edited or its "
                    "parent removed; run `lograph verify` for details"
                )
            try:
                apply(cp, event)
            except Exception as e:  # noqa: BLE001 - undecodable body: name the row
                raise CorruptLogError(self.thread, event.seq, f"cannot decode: {e}") from e
        return cp

    def advanced(self, cp: Checkpoint, head: int) -> None:
        """After a turn that wrote: the branch it wrote is the thread's head now."""
        self.cached, self.head = cp, head

    async def maybe_snapshot(self, cp: Checkpoint) -> None:
        """Cache the fold if enough events were appended since the last snapshot."""
        if cp.head - self.last_snapshot < self.saver.snapshot_every:
            return
        data = dump_snapshot(cp)
        with anyio.CancelScope(shield=True):
            await self.saver.log.delete_snapshots(self.thread)
            await self.saver.log.put_snapshot(self.thread, cp.head, data)
        self.last_snapshot = cp.head
