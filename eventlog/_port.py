"""The port every store implements, and the pure helpers stores share.

A store keeps, per thread, the events keyed ``(thread, seq)`` and an optional set of
snapshots (a cache of the fold, never a source of truth).

Concurrency contract (optimistic): ``append(thread, events, expect_head)`` writes the
events only if the thread's newest seq is still ``expect_head``; otherwise it writes
nothing and raises :class:`ConflictError`. Stores get this from the primary key
``(thread, seq)``: two writers that read the same head both try to insert
``expect_head + 1`` and only one can.

A seq alone does not name an event for ever: a deleted thread written again reuses
seqs 1, 2, ... So a group commit's item may also carry ``parent_hash``, the hash of
the event its first event follows as the writer read it; the store then refuses the
item (ConflictError) unless that stored event still has that hash. Otherwise a writer
that cached the old thread would extend the new one with events chained to the old.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._errors import ConflictError
from ._event import Event


@dataclass(frozen=True, slots=True)
class Append:
    """One thread's part of a group commit."""

    thread: str
    events: tuple[Event, ...]
    expect_head: int
    parent_hash: bytes | None = None  # of the stored event ``events[0].parent`` (None: unchecked)

    def checks_parent(self) -> bool:
        """Whether the store must compare ``parent_hash`` with the stored parent's hash."""
        return self.parent_hash is not None and self.events[0].parent > 0


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread: str
    head: int
    events: int
    bytes: int
    last_ts: float


@runtime_checkable
class EventLog(Protocol):
    """The event log port. All methods are async; ``aclose`` is safe to call twice."""

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        """Append atomically if the thread's head is ``expect_head``; else ConflictError."""
        ...

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        """Append several threads' events in one transaction (group commit).

        Each item succeeds or fails alone: a conflict on one thread never blocks another.
        Returns one entry per item: None, or the error for that item. An error that
        hits the whole transaction (disk full, connection lost) is raised.
        """
        ...

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        """Every event of the thread with ``after < seq <= upto`` (all branches), by seq."""
        ...

    async def head(self, thread: str) -> int:
        """The thread's newest seq, 0 for a thread with no events."""
        ...

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        """The thread's newest seq and that event's hash; ``(0, b"")`` for no events.
        (A cache of the thread is current only if both match: see ``parent_hash``.)"""
        ...

    async def threads(self) -> list[ThreadInfo]:
        """Every thread with at least one event, by name."""
        ...

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        """Cache the fold at event ``seq`` (idempotent)."""
        ...

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        """The snapshot with the greatest seq <= ``upto``, or None."""
        ...

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` snapshots with seq <= ``upto``, newest first (one round trip for
        a chain of delta snapshots)."""
        ...

    async def snapshots(self, thread: str) -> list[int]:
        """The seqs at which the thread has snapshots."""
        ...

    async def delete_snapshots(self, thread: str) -> None:
        """Drop the thread's snapshots (they are a cache: no answer may change)."""
        ...

    async def delete_thread(self, thread: str) -> None:
        """Remove every event and snapshot of the thread."""
        ...

    async def aclose(self) -> None: ...


def check_append(thread: str, events: Sequence[Event], expect_head: int) -> None:
    """Validate an append's shape before any I/O: dense seqs right after ``expect_head``."""
    if not events:
        raise ValueError("append needs at least one event")
    for offset, event in enumerate(events, start=1):
        if event.seq != expect_head + offset:
            raise ValueError(
                f"thread {thread!r}: event seqs must follow the head {expect_head} densely; "
                f"got seq {event.seq} at position {offset}"
            )
        if not 0 <= event.parent < event.seq:
            raise ValueError(f"thread {thread!r}: event {event.seq} has parent {event.parent}")


def ancestry(events: Iterable[Event], tip: int, base: int = 0) -> list[Event] | None:
    """The branch ending at ``tip``, oldest first, from the events after ``base``.

    ``events`` holds (at least) every event with ``base < seq <= tip``. Returns the chain
    of parent links from ``tip`` down to ``base`` (exclusive), or None when the chain
    does not pass through ``base`` (a snapshot at ``base`` is then not an ancestor).
    """
    by_seq = {e.seq: e for e in events if base < e.seq <= tip}
    chain: list[Event] = []
    cursor = tip
    while cursor > base:
        event = by_seq.get(cursor)
        if event is None:
            return None
        chain.append(event)
        cursor = event.parent
    if cursor != base:
        return None
    chain.reverse()
    return chain


def conflict(thread: str, expect_head: int, actual: int | None = None) -> ConflictError:
    return ConflictError(thread, expect_head, actual)
