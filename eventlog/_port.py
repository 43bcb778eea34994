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

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ._errors import ConflictError
from ._event import Event
from ._frozen import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Append:
    """One thread's part of a group commit."""

    thread: str
    events: tuple[Event, ...]
    expect_head: int
    parent_hash: bytes | None = None  # of the stored event ``events[0].parent`` (None: unchecked)
    #: a worker's lease (``lograph.eventlog.Lease``): the store writes the item only while
    #: it holds (checked in the append's transaction; see ``_runs``). None: unfenced.
    lease: Any = None
    #: the item is the last append of the in-process run ``lease`` holds: once it is
    #: written, the run's record is dropped (as ``drop_run(lease)``) in the same
    #: transaction; an item that is not written drops nothing
    drops_run: bool = False
    #: the item is the last append of the worker's run ``lease`` holds: once it is
    #: written, the run's end (a ``lograph.eventlog.RunEnd``) is recorded in the same
    #: transaction, as ``finish_run`` records it (never with ``drops_run``)
    ends_run: Any = None

    def checks_parent(self) -> bool:
        """Whether the store must compare ``parent_hash`` with the stored parent's hash."""
        return self.parent_hash is not None and self.events[0].parent > 0


class CheckedAppend(Append):
    """An :class:`Append` that :func:`check_append` passed when it was made (it raises
    that ValueError otherwise), so a store need not check it again: it is frozen and
    its events are a tuple of frozen events, so it stays as it was checked. The log
    writer makes these (it checks each append before it joins a batch); a store checks
    every other item itself."""

    __slots__ = ()

    def __init__(
        self, thread: str, events: Sequence[Event], expect_head: int,
        parent_hash: bytes | None = None, lease: Any = None, drops_run: bool = False,
        ends_run: Any = None,
    ) -> None:
        events = tuple(events)
        check_append(thread, events, expect_head)
        Append.__init__(self, thread, events, expect_head, parent_hash, lease, drops_run, ends_run)



@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread: str
    head: int
    events: int
    bytes: int
    last_ts: float


@runtime_checkable
class EventLog(Protocol):
    """The event log port. All methods are async; ``aclose`` is safe to call twice.

    A store may also declare optional tiers in a class attribute ``capabilities`` (a
    frozenset of :class:`Capability`; none when absent). It is not a member of this
    Protocol, so ``isinstance(log, EventLog)`` stays a check of the methods alone.
    """

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


class Capability(StrEnum):
    """An optional tier of the port, declared by a store in its ``capabilities``."""

    #: :class:`HeadLoader`: ``load_head``, what folding a thread from cold needs, at once
    LOAD_HEAD = "load_head"
    #: :class:`InlineAppender`: ``append_batch(..., inline=True)`` may run on the caller's thread
    INLINE_APPENDS = "inline_appends"
    #: :class:`~lograph.eventlog.RunQueue`: run records, claims, leases and fenced appends
    RUNS = "runs"
    #: :class:`TurnKeeper`: a plain run's turn on its thread across processes, no write
    TURNS = "turns"


@runtime_checkable
class HeadLoader(EventLog, Protocol):
    """The :attr:`Capability.LOAD_HEAD` tier: a cold thread's head in one round trip."""

    async def load_head(
        self, thread: str, limit: int
    ) -> tuple[int, list[tuple[int, bytes]], list[Event]]:
        """The thread's head (0: no events), its newest ``limit`` snapshots at or below the
        head (newest first), and the events after the newest of those up to the head (all
        of them when there is none), by seq: what ``head_event``, ``recent_snapshots``
        and ``read`` would answer, read together."""
        ...


@runtime_checkable
class InlineAppender(EventLog, Protocol):
    """The :attr:`Capability.INLINE_APPENDS` tier: ``append_batch`` takes ``inline``.

    ``inline=True`` says the caller waits for this commit and nothing could join it (no
    other thread is being worked on in the process), so the store may run it on the
    caller's own thread when that is cheap right now. The outcome is the same either
    way: the contract of :meth:`EventLog.append_batch`.
    """

    async def append_batch(
        self, batch: Sequence[Append], *, inline: bool = False
    ) -> list[BaseException | None]: ...


@runtime_checkable
class TurnKeeper(EventLog, Protocol):
    """The :attr:`Capability.TURNS` tier: a thread's turn for a run that keeps no record
    in the runs tier (a plain ``invoke``), across processes and without a write.

    The turn is a lock that dies with the process holding it, so a dead caller frees
    its thread at once. The store's writes that start a recorded run (``enter_run`` on
    an idle thread, ``take_run`` promoting a waiting run, ``claim_run``) leave a thread
    whose turn is held alone, inside their transaction; so a turn's holder that found no
    active run on its thread runs alone until it gives the turn back.
    """

    async def try_turn(self, thread: str) -> tuple[str, tuple[int, bytes] | None]:
        """``("taken", (seq, hash))``: the caller holds ``thread``'s turn, the runs tier
        has no active run on it, and its head is that (``(0, b"")``: no event), read
        after the turn was taken (the run's first read; None: the caller reads it);
        ``("busy", None)``: another
        caller holds the turn (nothing taken); ``("queued", None)``: the runs tier has an
        active run on the thread (nothing held: queue behind it)."""
        ...

    def end_turn(self, thread: str) -> None:
        """Give a taken turn back; never waits (it may complete a moment later)."""
        ...


TURN_RESULTS = ("taken", "busy", "queued")

#: each tier's Protocol, the method that makes it, and the keyword that method must take
TIERS: dict[Capability, tuple[type, str, str | None]] = {
    Capability.LOAD_HEAD: (HeadLoader, "load_head", None),
    Capability.INLINE_APPENDS: (InlineAppender, "append_batch", "inline"),
    Capability.TURNS: (TurnKeeper, "try_turn", None),
}
# (Capability.RUNS's entry is added by ``_runs``, whose Protocol builds on this port.)


def capabilities(log: object) -> frozenset[Capability]:
    """The optional tiers ``log`` declares (its class attribute ``capabilities``).

    Read from the class, not the object: a wrapper that passes unknown attributes on to
    the store it wraps (``__getattr__``) declares nothing of its own, so it is never
    called with a method or a keyword it does not have. Call it once, when taking a
    store (it inspects signatures). Raises TypeError for an unknown capability, or for
    a declared tier whose method the class lacks or whose method lacks the keyword.
    """
    cls = type(log)
    declared: Any = getattr(cls, "capabilities", frozenset())
    try:
        found = frozenset(Capability(c) for c in declared)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{cls.__qualname__}.capabilities must be a set of lograph.eventlog.Capability "
            f"({', '.join(c.value for c in Capability)}); got {declared!r}"
        ) from e
    for capability in found:
        tier, name, keyword = TIERS[capability]
        method = getattr(cls, name, None)
        if not callable(method) or (keyword is not None and not _takes(method, keyword)):
            wanted = f"{name}(..., {keyword}=)" if keyword else f"{name}()"
            raise TypeError(
                f"{cls.__qualname__} declares {capability.value!r} but has no {wanted} "
                f"method: implement {tier.__name__}, or drop it from capabilities"
            )
    return found


def _takes(fn: object, keyword: str) -> bool:
    """Whether ``fn`` can be called with ``keyword=``."""
    try:
        params = inspect.signature(fn).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):  # not introspectable: take the declaration at its word
        return True
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return True
    found = params.get(keyword)
    return found is not None and found.kind in (found.KEYWORD_ONLY, found.POSITIONAL_OR_KEYWORD)


#: the longest thread id, in UTF-8 bytes: every store keys rows by it (PostgreSQL's
#: btree keeps index entries of at most about 2.7 KB)
MAX_THREAD_BYTES = 1024
#: the longest checkpoint namespace (a path of subgraph names), in UTF-8 bytes
MAX_NS_BYTES = 4096
#: seqs are signed 64-bit integers in every store
MAX_SEQ = 2**63 - 1


def check_text(value: object, what: str, limit: int) -> None:
    """Refuse (ValueError) a key a store could not keep exactly: not a string, a NUL
    character (PostgreSQL's text cannot hold one), a lone surrogate (not UTF-8), or more
    than ``limit`` bytes. Every store applies the same rule, so a thread that one store
    accepts can move to any other."""
    if type(value) is str and value.isascii() and len(value) <= limit and "\x00" not in value:
        return  # the usual key, at once (isascii is a flag of the string: no scan)
    if not isinstance(value, str):
        raise ValueError(f"the {what} must be a string, got {type(value).__name__}: {value!r}")
    if "\x00" in value:
        raise ValueError(f"the {what} {value[:80]!r} holds a NUL character, which no store "
                         "keeps: choose one without it")
    try:
        size = len(value.encode())
    except UnicodeEncodeError as e:
        raise ValueError(f"the {what} {value[:80]!r} is not valid Unicode text ({e.reason} "
                         f"at position {e.start}): choose one that encodes as UTF-8") from None
    if size > limit:
        raise ValueError(f"the {what} is {size} bytes long (in UTF-8), more than the {limit} "
                         f"a store keeps: {value[:40]!r}...; choose a shorter one")


def check_thread_id(thread: object) -> None:
    """Refuse a thread id no store could key rows by (see :func:`check_text`)."""
    check_text(thread, "thread id", MAX_THREAD_BYTES)


def check_ns(ns: object) -> None:
    """Refuse a checkpoint namespace no store could keep (see :func:`check_text`)."""
    check_text(ns, "checkpoint_ns", MAX_NS_BYTES)


def check_append(thread: str, events: Sequence[Event], expect_head: int) -> None:
    """Validate an append before any I/O: a thread id and namespaces every store can keep
    (:func:`check_text`), dense seqs right after ``expect_head``, within 64 bits. (Run
    and task ids are the engine's own: base64 and hex.)"""
    if not events:
        raise ValueError("append needs at least one event")
    if not (type(thread) is str and thread.isascii() and len(thread) <= MAX_THREAD_BYTES
            and "\x00" not in thread):  # (the usual id passes at once: see check_text)
        check_thread_id(thread)
    if events[-1].seq > MAX_SEQ:
        raise ValueError(f"thread {thread!r}: seq {events[-1].seq} is more than a store keeps")
    checked = ""
    seq = expect_head
    for event in events:  # (every append passes here, twice when the engine commits: kept lean)
        seq += 1
        if event.seq != seq or not 0 <= event.parent < seq:
            _refuse_links(thread, events, expect_head)
        if event.ns != checked:  # most events of an append share it: check each once
            check_ns(event.ns)
            checked = event.ns


def _refuse_links(thread: str, events: Sequence[Event], expect_head: int) -> None:
    """The ValueError for the first event of an append whose seq or parent is wrong."""
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
