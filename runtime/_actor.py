"""The thread actor: owns a thread's head in this process and serialises work on it.

Runs, resumes and ``update_state`` on one thread take the actor's turn (a FIFO lock:
the lock's wait queue is the mailbox), so within a process they never interleave.
Across processes the log's optimistic append makes the loser fail with a conflict.

The actor caches the fold at the thread's head, so consecutive runs do not re-read
the log; at the start of every turn it asks the store for the head (one cheap query:
its seq and hash, since a thread deleted and written again reuses seqs) and reloads
only if another process moved it.

Snapshots (a cache of the fold, every ``snapshot_every`` events) are all kept, each
stored as its change since the previous one on the branch (a full one every
``MAX_CHAIN``), so any point of a thread's history, forks included, loads from a
snapshot near it, and all of a thread's snapshots cost about one copy of its state.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from lograph.eventlog import Checkpoint, CorruptLogError, Event, verify_link
from lograph.eventlog.lowlevel import (
    apply,
    broken_link,
    dump_snapshot,
    load_snapshot,
    snapshot_base,
)

from ._folds import FOLDS
from ._sync import LoopKey, loop_key

if TYPE_CHECKING:
    from ._checkpointer import Checkpointer

_log = logging.getLogger("lograph")

MAX_CHAIN = 16  # delta snapshots between two full ones


@dataclass(frozen=True, slots=True)
class Base:
    """The snapshot a fold descends from: the next snapshot is stored as a change of it."""

    seq: int
    values: dict[str, Any]
    depth: int  # delta snapshots between this one and the last full one
    length: int  # the branch's length at the snapshot (0: unknown, from an older format)


class ThreadActor:
    def __init__(self, saver: Checkpointer, thread: str) -> None:
        self.saver = saver
        self.thread = thread
        self.cached: Checkpoint | None = None  # the fold at ``head``
        self.head = 0
        self.base: Base | None = None  # the snapshot ``cached`` descends from
        self.busy = False
        self._locks: weakref.WeakKeyDictionary[LoopKey, anyio.Lock] = weakref.WeakKeyDictionary()

    def forget(self) -> None:
        self.cached, self.head, self.base = None, 0, None

    @asynccontextmanager
    async def turn(self, known: tuple[int, bytes] | None = None) -> AsyncIterator[ThreadActor]:
        """Exclusive use of the thread in this process, with ``head``/``cached`` current.
        ``known``: the thread's head (seq, hash) as read with the run's turn in its
        thread's queue (its place, or its claim), so it is not read again (unless this
        process's fold of the thread is at or past it and differs: a run of this process
        may have written since, so it is read)."""
        key = loop_key()
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock(fast_acquire=True)
        async with lock:
            self.busy = True
            self.saver.writer.count_turn(1)
            try:
                head, loaded = await self.read_head(known)
                if loaded is not None:
                    (self.cached, self.base), self.head = loaded, head
                yield self
            finally:
                self.busy = False
                self.saver.writer.count_turn(-1)

    async def read_head(self, known: tuple[int, bytes] | None = None,
                        ) -> tuple[int, tuple[Checkpoint, Base | None] | None]:
        """The thread's head in the store (``known``: as already read), and the fold there
        with the snapshot it came from; None for the fold when ``cached`` is it (the head
        has not moved).

        From cold, a store that declares ``load_head`` (the saver's ``head_loader``)
        returns the head, the snapshots and the events after them in one round trip.
        """
        cached = self.cached
        if known is not None and cached is not None and (cached.head, cached.head_hash) != known \
                and cached.head >= known[0]:
            known = None  # maybe read before a run of this process wrote to the thread: again
        loader = self.saver.head_loader
        store = self.saver.store_key
        if self.cached is None and store is not None and FOLDS.knows(store, self.thread):
            # a fold a closed saver on this store left (see ``_folds``), if still the head
            head, digest = known or await self.saver.log.head_event(self.thread)
            kept = FOLDS.find(store, self.thread, head, digest)
            if kept is not None:
                return head, kept
            return head, (await self.load_branch(head) if head else (Checkpoint(), None))
        if self.cached is None and loader is not None and not (known and not known[0]):
            head, recent, events = await loader.load_head(self.thread, MAX_CHAIN + 1)
            if not head:
                return 0, (Checkpoint(), None)
            return head, await self.load_branch(head, prefetched=(recent, events))
        head, digest = known or await self.saver.log.head_event(self.thread)
        current = self.cached is not None and self.cached.head == head and (
            self.cached.head_hash == digest)
        if head == self.head and current:
            return head, None
        return head, (await self.load_branch(head) if head else (Checkpoint(), None))

    async def load(self, tip: int) -> Checkpoint:
        """Fold the branch ending at event ``tip``, from the nearest snapshot on it."""
        return (await self.load_branch(tip))[0]

    async def load_branch(
        self, tip: int, *,
        prefetched: tuple[list[tuple[int, bytes]], list[Event]] | None = None,
    ) -> tuple[Checkpoint, Base | None]:
        """The fold at ``tip`` and the snapshot it started from (None: from the first event).

        The nearest snapshot *on the branch* is used: walking the parent links down from
        ``tip``, a snapshot the walk jumps over belongs to another branch (a fork's
        branch leaves the main line below the main line's newest snapshots). Each
        snapshot tried costs one read of the events above it; the first read usually
        finds the branch's own.
        """
        log = self.saver.log
        # the newest snapshots and (usually) the whole chain of bases, in one round trip
        # (``prefetched``: those, and the events above the newest, read with the head)
        if prefetched is not None:
            recent, above = dict(prefetched[0]), prefetched[1]
        else:
            recent, above = dict(await log.recent_snapshots(self.thread, tip, MAX_CHAIN + 1)), None
        chain: list[Event] = []  # the branch, from tip downwards
        cursor = tip
        usable = True  # False once a snapshot's chain of bases turns out broken
        while cursor:
            floor = 0
            if usable:
                below = [seq for seq in recent if seq <= cursor]
                if not below and len(recent) > MAX_CHAIN:  # older ones may be on the branch
                    recent.update(await log.recent_snapshots(self.thread, cursor, MAX_CHAIN + 1))
                    below = [seq for seq in recent if seq <= cursor]
                floor = max(below, default=0)
            # the walk only goes down: it needs no event above the cursor
            if above is not None and cursor == tip and floor == max(recent, default=0):
                by_seq = {e.seq: e for e in above}  # exactly (floor, tip]: read with the head
            else:
                by_seq = {e.seq: e for e in await log.read(self.thread, after=floor, upto=cursor)}
            above = None
            while cursor > floor:
                event = by_seq.get(cursor)
                if event is None:
                    raise CorruptLogError(self.thread, tip, "the branch's parent links are broken")
                chain.append(event)
                cursor = event.parent
            if cursor and cursor == floor:  # the snapshot is on the branch
                loaded = await self._snapshot(floor, recent[floor], recent)
                if loaded is not None:
                    chain.reverse()
                    return self._fold(loaded[0], chain), loaded[1]
                usable = False  # a base of it is gone: fold from the first event
        chain.reverse()
        return self._fold(Checkpoint(), chain), None

    async def _snapshot(
        self, seq: int, data: bytes, fetched: dict[int, bytes]
    ) -> tuple[Checkpoint, Base] | None:
        """The checkpoint of the snapshot at ``seq``, through its chain of bases (None: a
        base is gone, so fold from the log instead)."""
        try:
            base_seq, decoded = snapshot_base(data)
            if not base_seq:
                cp = load_snapshot(decoded)
                return cp, Base(seq, dict(cp.values), 0, cp.length)
        except Exception:  # noqa: BLE001 - a cache that cannot be read: fold from the log
            _log.warning("thread %r: the snapshot at event %d cannot be read; folding the log "
                         "instead", self.thread, seq, exc_info=True)
            return None
        base_data = fetched.get(base_seq)
        if base_data is None:
            found = await self.saver.log.latest_snapshot(self.thread, base_seq)
            if found is None or found[0] != base_seq:
                return None
            base_data = found[1]
        inner = await self._snapshot(base_seq, base_data, fetched)
        if inner is None:
            return None
        try:
            cp = load_snapshot(decoded, inner[0])
        except Exception:  # noqa: BLE001 - as above
            _log.warning("thread %r: the snapshot at event %d cannot be read; folding the log "
                         "instead", self.thread, seq, exc_info=True)
            return None
        return cp, Base(seq, dict(cp.values), inner[1].depth + 1, cp.length)

    def _fold(self, cp: Checkpoint, chain: list[Event]) -> Checkpoint:
        seal = self.saver.seal
        for event in chain:
            if not event.parent:  # the thread's first event: which chain it opens
                keyed = seal.first(event, self.thread)
                if keyed is None:
                    raise CorruptLogError(self.thread, event.seq, broken_link(event, first=True))
                cp.keyed = keyed
            elif not verify_link(event, cp.head_hash, seal.key if cp.keyed else None):
                raise CorruptLogError(self.thread, event.seq, broken_link(event))
            try:
                apply(cp, event)
            except Exception as e:  # undecodable body: name the row
                raise CorruptLogError(self.thread, event.seq, f"cannot decode: {e}") from e
        return cp

    def advanced(self, cp: Checkpoint, head: int, base: Base | None) -> None:
        """After a turn that wrote: the branch it wrote (descending from ``base``) is the head."""
        self.cached, self.head, self.base = cp, head, base

    async def maybe_snapshot(self, cp: Checkpoint, *, finished: bool = False) -> None:
        """Cache the fold if ``snapshot_every`` events were appended since the last snapshot.

        Call right after :meth:`advanced` with the same checkpoint. ``finished``: the
        branch's last event is the ``run.finished`` right after its last checkpoint;
        the snapshot is then taken at that checkpoint (the fold there differs only in
        the head and the run's status), so forking from the state a run ended with, the
        usual point to go back to, loads it without folding anything.
        """
        at = cp.before_finish() if finished else None
        cp = at if at is not None else cp
        base = self.base
        # events appended to this branch since its last snapshot (seqs also count other
        # branches' events: a fork would otherwise snapshot at once)
        since = cp.length - base.length if base is not None and base.length else (
            cp.head - base.seq if base is not None else cp.length)
        if since < self.saver.snapshot_every:
            return
        if base is not None and base.depth + 1 >= MAX_CHAIN:
            base = None  # start a new chain with a full snapshot
        # A snapshot is a cache: the run it follows is already committed, so its failure
        # (a full disk, a lost connection) must never fail the call, whose caller would
        # retry a run that happened. It is logged, and the next turn that writes tries again.
        try:
            data = dump_snapshot(cp, (base.seq, base.values) if base else None)
            with anyio.CancelScope(shield=True):
                await self.saver.log.put_snapshot(self.thread, cp.head, data)
        except Exception:  # noqa: BLE001 - logged; the run's outcome stands
            _log.warning("thread %r: the snapshot at event %d was not stored (the log is "
                         "intact; a later run tries again)", self.thread, cp.head, exc_info=True)
            return
        self.base = Base(cp.head, dict(cp.values), base.depth + 1 if base else 0, cp.length)
