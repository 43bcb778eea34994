"""Walking every branch of a thread's log with the fold of its branch before each event. Pure.

A thread's log (``EventLog.read(thread)``) holds all its branches, by seq: ``parent``
is the previous event of the same branch, and a fork's first event points at an older
event (the fork point). History, the replay verifier, checkpoint listings and the CLI
all walk it this one way.

Rules:
- Events come in seq order, so an event's parent is seen before it.
- The fold is carried from an event to its first child without a copy. Any later child
  of the same event (a fork) starts from that event's fold folded again from the start
  of its branch: forks are rare, and a copy per event would cost every walk.
- ``walk`` yields an event with the fold just before it, then folds the event in when the
  caller asks for the next one: a caller that keeps a fold keeps a ``copy()``, and never
  changes the one it is given.
- A body the fold cannot read is a CorruptLogError naming the thread and the event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ._errors import CorruptLogError, LogError
from ._event import Event
from ._fold import _HEADER_ONLY, Checkpoint, apply
from ._jsonform import decode_readable
from ._port import ancestry
from .bodies import upcast

__all__ = ["Branches", "state_at", "walk"]


class Branches:
    """The folds of a thread's branches, carried over its events as they come (by seq).

    ``root`` and ``state``: walk only the events that descend from event ``root``, whose
    fold is ``state`` (loaded from a snapshot, say; the walk folds on it in place). The
    events of other branches are skipped, and so is an event whose parent was never
    walked (a damaged log: see ``verify_chain``). ``forks`` False follows each event's
    first child only: one branch, a fork's events skipped. ``exact`` False reads a body
    naming a class this process has not imported leniently (its values as ``Opaque``)
    instead of failing, for tools that show a log without the program that wrote it.
    ``thread`` names the thread in errors.
    """

    def __init__(self, *, root: int = 0, state: Checkpoint | None = None, forks: bool = True,
                 exact: bool = True, thread: str = "") -> None:
        self._root = root
        self._forks = forks
        self._exact = exact
        self._thread = thread
        start = Checkpoint() if state is None else state
        # what a fork of an event is folded again from: the fold at ``root``, kept apart
        self._root_state = start.copy() if forks and state is not None else None
        # the fold after each event no event has followed yet: the tips of the branches
        self._tips: dict[int, Checkpoint] = {root: start}
        self._seen: dict[int, Event] = {}  # every event walked, by seq: to fold a fork again
        self._outside: set[int] = set()  # events skipped: not descendants of ``root``
        self.decoded: dict[int, Any] = {}
        """Bodies a caller has decoded already (the upcast map, as ``bodies.upcast`` gives
        it), by seq: left here before the walk moves on, the event is folded from it
        instead of from its bytes again."""

    @property
    def tips(self) -> dict[int, Checkpoint]:
        """The fold at each branch's last event so far (at ``root`` while nothing follows
        it), by seq. The walk's own folds: copy one to keep it."""
        return self._tips

    def walk(self, events: Iterable[Event]) -> Iterator[tuple[Event, Checkpoint]]:
        """Each event (of ``root``'s descendants) with the fold of its branch just before it."""
        tips, seen, outside = self._tips, self._seen, self._outside
        for e in events:
            seen[e.seq] = e
            before = tips.pop(e.parent, None)
            if before is None:  # a fork (the parent's fold went on with its first child), or not ours
                if not self._forks or e.parent in outside or (e.parent not in seen and e.parent != self._root):
                    outside.add(e.seq)
                    continue
                before = self.state_at(e.parent)
            yield e, before
            _fold(before, e, self._exact, self._thread, self.decoded.pop(e.seq, None))
            tips[e.seq] = before

    def state_at(self, seq: int) -> Checkpoint:
        """The fold of the branch ending at event ``seq`` (a walked event, or ``root``): a
        new one. LogError when its parent links do not lead back to ``root``."""
        chain: list[Event] = []
        cursor = seq
        while cursor != self._root:
            e = self._seen.get(cursor)
            if e is None:
                raise LogError(f"the parent links from event {seq} are broken: run `lograph verify`")
            chain.append(e)
            cursor = e.parent
        if self._root_state is not None:
            cp = self._root_state.copy()
        elif self._root == 0:
            cp = Checkpoint()
        else:
            raise LogError(f"the fold at event {self._root} was not kept: walk with forks=True")
        for e in reversed(chain):
            _fold(cp, e, self._exact, self._thread)
        return cp


def _fold(cp: Checkpoint, e: Event, exact: bool, thread: str, data: Any = None) -> None:
    try:
        if data is not None or exact or e.kind in _HEADER_ONLY:
            apply(cp, e, data)
        else:
            apply(cp, e, upcast(e.kind, decode_readable(e.body)[0]))
    except Exception as err:  # an undecodable or malformed body: name the row
        raise CorruptLogError(thread, e.seq, f"cannot decode: {err}") from err


def walk(events: Iterable[Event], *, exact: bool = True, thread: str = "") -> Iterator[tuple[Event, Checkpoint]]:
    """Every event of a thread's log (all branches, by seq) with the fold of its branch
    just before it; see the module rules (the fold is the walk's: copy it to keep it)."""
    return Branches(exact=exact, thread=thread).walk(events)


def state_at(events: Sequence[Event], seq: int, *, exact: bool = True, thread: str = "") -> Checkpoint:
    """The fold of the branch ending at event ``seq`` (0: the empty fold), from a thread's
    events (at least that branch's). LogError when its parent links are broken."""
    chain = ancestry(events, seq)
    if chain is None:
        raise LogError(f"the parent links from event {seq} are broken: run `lograph verify`")
    cp = Checkpoint()
    for e in chain:
        _fold(cp, e, exact, thread)
    return cp
