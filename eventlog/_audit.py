"""Reading a thread's log for an audit: typed events, branches, checkpoints, the hash chain.

Pure functions of the events ``EventLog.read(thread)`` returns (every branch, by seq);
no I/O. What they rely on is the log's own structure, so they work on any store:

- seqs are dense from 1; ``parent`` links an event to the previous one of its branch;
- ``hash`` seals each event after its parent's hash (GENESIS for parent 0).

Chain verification finds, in seq order, the first event that breaks one of these: a
missing seq (a deleted row), a parent that is not an earlier event, a hash that does not
match (an edited row: or a re-sealed one, which then breaks its children). One limit
no chain can lift: deleting a thread's newest events leaves a shorter, valid chain;
compare a recorded head hash (``ThreadSummary.head_hash``) to detect that.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from . import bodies as b
from ._blob import UNINFLATED, uninflated
from ._branches import state_at, walk
from ._errors import DecodeError, LogError
from ._event import (
    GENESIS,
    KEYED_VERSIONS,
    KINDS,
    Event,
    Kind,
    Seal,
    checkpoint_id,
    parse_checkpoint_id,
    verify_link,
)
from ._fold import Checkpoint, apply, id_hash
from ._jsonform import decode_lenient, decode_readable
from ._port import ThreadInfo, ancestry

__all__ = [
    "AuditEvent",
    "ChainProblem",
    "ChainReport",
    "CheckpointReached",
    "CheckpointRecord",
    "InterruptRaised",
    "NodeFailed",
    "NodeStarted",
    "NodeWrites",
    "NotFoundError",
    "Resumed",
    "RunFinished",
    "RunStarted",
    "StateUpdated",
    "TaskResult",
    "ThreadSummary",
    "body_of",
    "branch_of",
    "checkpoint_records",
    "decode_body",
    "find_checkpoint",
    "summarize",
    "typed",
    "verify_chain",
]


class NotFoundError(LogError, LookupError):
    """A thread or checkpoint the caller named does not exist in the store."""


# --- typed events ------------------------------------------------------------------------


def decode_body(event: Event) -> tuple[Any, bool]:
    """``(body, exact)``: the decoded body, or its lenient form (``exact`` False) when it
    names a class this process has not imported. Raises DecodeError for corrupt bytes."""
    return decode_readable(event.body)


def body_of(kind: str, body: Any) -> b.Body | None:
    """A decoded body (exact or lenient) as its kind's class in ``bodies``, or None when it
    is not one this lograph reads: an unknown kind, a map without its kind's fields (not
    written by lograph), or a version from a newer lograph."""
    try:  # (on a copy: upcasting an older version changes the map it is given)
        return b.from_map(kind, dict(body) if type(body) is dict else body)
    except (DecodeError, ValueError):
        return None


_B = TypeVar("_B", bound=b.Body)

# What each property gives when the body is not one this lograph reads (``data`` None):
# the body classes' own defaults. (A source or a status has none: those say "".)
_BLANK: dict[type[Any], Any] = {
    cls: cls(*args) for cls, args in (
        (b.RunStarted, (False, "")), (b.NodeStarted, ("",)), (b.NodeWrites, ("", [])),
        (b.NodeFailed, ("", "", "")), (b.TaskResult, ("", False, None)), (b.Interrupts, ((),)),
        (b.Resume, ({},)), (b.StateUpdated, (None, None)),
        (b.CheckpointBody, (b.Source.LOOP, {}, [])), (b.RunFinished, (b.RunStatus.DONE,)),
    )
}

# node.started bodies written before the body classes carried the attempt (always 1);
# the class dropped it, the audit still shows a stored one
_LEGACY_ATTEMPT = "attempt"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event with its body decoded. Subclasses, one per kind, name the body's fields.

    ``body`` is the whole decoded body (fields a newer lograph adds stay reachable);
    ``exact`` is False when a value's class is not importable here (see ``Opaque``);
    ``data`` is the body as its kind's class in ``lograph.eventlog.bodies`` (values may be
    ``Opaque`` when not ``exact``), or None when it is not a body this lograph reads: the
    properties then give their kind's defaults.
    """

    KIND: ClassVar[str] = ""
    event: Event
    body: Any
    exact: bool = True
    data: b.Body | None = None

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def parent(self) -> int:
        return self.event.parent

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def step(self) -> int:
        return self.event.step

    @property
    def run_id(self) -> str:
        return self.event.run_id

    @property
    def task_id(self) -> str:
        return self.event.task_id

    @property
    def ts(self) -> float:
        return self.event.ts

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default

    def _of(self, cls: type[_B]) -> _B:
        """``data`` as ``cls``, or that class's blank when the body is not one."""
        data = self.data
        return data if isinstance(data, cls) else cast(_B, _BLANK[cls])


@dataclass(frozen=True, slots=True)
class RunStarted(AuditEvent):
    KIND: ClassVar[str] = Kind.RUN_STARTED

    @property
    def resume(self) -> bool:
        return self._of(b.RunStarted).resume

    @property
    def fork(self) -> bool:
        return self._of(b.RunStarted).fork

    @property
    def durability(self) -> str:
        return self._of(b.RunStarted).durability

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._of(b.RunStarted).metadata)


@dataclass(frozen=True, slots=True)
class NodeStarted(AuditEvent):
    KIND: ClassVar[str] = Kind.NODE_STARTED

    @property
    def name(self) -> str:
        return self._of(b.NodeStarted).name

    @property
    def attempt(self) -> int:
        return started_attempt(self.body)


def started_attempt(body: Any) -> int:
    """The attempt a ``node.started`` body names: 1 unless an old body stored another."""
    return int(body.get(_LEGACY_ATTEMPT, 1)) if isinstance(body, dict) else 1


@dataclass(frozen=True, slots=True)
class NodeWrites(AuditEvent):
    KIND: ClassVar[str] = Kind.NODE_WRITES

    @property
    def name(self) -> str:
        return self._of(b.NodeWrites).name

    @property
    def writes(self) -> list[tuple[str, Any]]:
        """``(channel, value)`` pairs; routing decisions are under channel ``__goto__``."""
        return [(str(c), v) for c, v in self._of(b.NodeWrites).writes]


@dataclass(frozen=True, slots=True)
class NodeFailed(AuditEvent):
    KIND: ClassVar[str] = Kind.NODE_FAILED

    @property
    def name(self) -> str:
        return self._of(b.NodeFailed).name

    @property
    def error(self) -> str:
        return self._of(b.NodeFailed).error

    @property
    def attempt(self) -> int:
        return self._of(b.NodeFailed).attempt

    @property
    def final(self) -> bool:
        return self._of(b.NodeFailed).final


@dataclass(frozen=True, slots=True)
class TaskResult(AuditEvent):
    KIND: ClassVar[str] = Kind.TASK_RESULT

    @property
    def name(self) -> str:
        return self._of(b.TaskResult).name

    @property
    def ok(self) -> bool:
        return self._of(b.TaskResult).ok

    @property
    def value(self) -> Any:
        return self._of(b.TaskResult).value


@dataclass(frozen=True, slots=True)
class InterruptRaised(AuditEvent):
    KIND: ClassVar[str] = Kind.INTERRUPT

    @property
    def interrupts(self) -> list[tuple[str, Any]]:
        """``(interrupt id, value)`` pairs."""
        return [(i.id, i.value) for i in self._of(b.Interrupts).interrupts]


@dataclass(frozen=True, slots=True)
class Resumed(AuditEvent):
    KIND: ClassVar[str] = Kind.RESUME

    @property
    def values(self) -> dict[str, Any]:
        """Resume values by interrupt id."""
        return dict(self._of(b.Resume).values)

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._of(b.Resume).metadata)


@dataclass(frozen=True, slots=True)
class StateUpdated(AuditEvent):
    KIND: ClassVar[str] = Kind.STATE_UPDATED

    @property
    def as_node(self) -> str | None:
        return self._of(b.StateUpdated).as_node

    @property
    def values(self) -> Any:
        return self._of(b.StateUpdated).values

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._of(b.StateUpdated).metadata)


@dataclass(frozen=True, slots=True)
class CheckpointReached(AuditEvent):
    """A ``checkpoint`` event: a step boundary, the id users see."""

    KIND: ClassVar[str] = Kind.CHECKPOINT

    @property
    def id(self) -> str:
        return checkpoint_id(self.event.seq, id_hash(self.event))

    @property
    def source(self) -> str:
        """How the checkpoint was made (a ``Source``'s value; "" when not read)."""
        data = self.data
        return data.source.value if isinstance(data, b.CheckpointBody) else ""

    @property
    def delta(self) -> dict[str, list[Any]]:
        return dict(self._of(b.CheckpointBody).delta)

    @property
    def next(self) -> list[dict[str, Any]]:
        return list(self._of(b.CheckpointBody).next)

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._of(b.CheckpointBody).metadata)


@dataclass(frozen=True, slots=True)
class RunFinished(AuditEvent):
    KIND: ClassVar[str] = Kind.RUN_FINISHED

    @property
    def status(self) -> str:
        """How the run ended (a ``RunStatus``'s value; "" when not read)."""
        data = self.data
        return data.status.value if isinstance(data, b.RunFinished) else ""

    @property
    def error(self) -> str | None:
        return self._of(b.RunFinished).error


_TYPES: dict[str, type[AuditEvent]] = {
    cls.KIND: cls
    for cls in (RunStarted, NodeStarted, NodeWrites, NodeFailed, TaskResult, InterruptRaised,
                Resumed, StateUpdated, CheckpointReached, RunFinished)
}


def typed(event: Event) -> AuditEvent:
    """The typed form of ``event`` (its kind's subclass of :class:`AuditEvent`).

    Raises DecodeError when the body is not a value lograph wrote (a corrupt row).
    """
    body, exact = decode_body(event)
    return _TYPES.get(event.kind, AuditEvent)(event, body, exact, body_of(event.kind, body))


# --- branches and checkpoints ---------------------------------------------------------------


def find_checkpoint(events: Sequence[Event], thread: str, checkpoint: str) -> Event:
    """The checkpoint event whose id is ``checkpoint``; NotFoundError otherwise."""
    try:
        seq, prefix = parse_checkpoint_id(checkpoint)
    except ValueError:
        raise NotFoundError(f"{checkpoint!r} is not a lograph checkpoint id") from None
    found = events[seq - 1] if 0 < seq <= len(events) else None
    if found is None or found.seq != seq:
        found = next((e for e in events if e.seq == seq), None)
    if found is None or found.kind != Kind.CHECKPOINT or id_hash(found)[:8].hex() != prefix:
        raise NotFoundError(f"checkpoint {checkpoint!r} does not exist in thread {thread!r}")
    return found


def branch_of(events: Sequence[Event], tip: int) -> list[Event]:
    """The branch ending at event ``tip``, oldest first (its ancestry through parent links).

    Raises LogError when a link points at a missing event (the log is damaged).
    """
    chain = ancestry(events, tip)
    if chain is None:
        raise LogError(f"the parent links from event {tip} are broken: run `lograph verify`")
    return chain


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """One checkpoint of a thread, for history listings (any branch)."""

    id: str
    seq: int
    step: int
    ts: float
    source: str
    next: tuple[str, ...]
    changed: tuple[str, ...]
    parent_id: str | None
    metadata: dict[str, Any]


def checkpoint_records(events: Sequence[Event], ns: str = "") -> list[CheckpointRecord]:
    """Every checkpoint of every branch, oldest first, with the checkpoint before it.

    Only the checkpoints of the graph at ``ns`` ("" is the top graph; a subgraph's are
    under its checkpoint namespace), as ``get_state_history`` lists them. Values of
    classes this process has not imported are read leniently (see ``Opaque``).
    """
    out: list[CheckpointRecord] = []
    for e, before in walk(events, exact=False):
        if e.kind != Kind.CHECKPOINT or e.ns != ns:
            continue
        data = body_of(e.kind, decode_body(e)[0])
        if not isinstance(data, b.CheckpointBody):
            continue  # not a checkpoint this lograph reads: the walk's fold reports it next
        own = before.children.get(ns) if ns else before  # the fold of the graph at ns
        alone = Checkpoint()  # the metadata the fold gives it (source, step, the caller's)
        apply(alone, e, data.to_map())
        out.append(CheckpointRecord(
            checkpoint_id(e.seq, id_hash(e)), e.seq, e.step, e.ts, data.source.value,
            tuple(str(t["name"]) for t in data.next), tuple(data.delta),
            None if own is None else own.id, alone.metadata,
        ))
    return out


# --- the hash chain ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where a thread's log stops being intact: ``seq`` is the first bad position."""

    thread: str
    seq: int
    kind: str  # the stored event's kind, "" for a missing row
    reason: str

    def __str__(self) -> str:
        what = f" ({self.kind})" if self.kind else ""
        return f"thread {self.thread!r}, event {self.seq}{what}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    thread: str
    events: int
    head: int
    head_hash: bytes
    problems: list[ChainProblem] = field(default_factory=list)
    #: the chain version its first event opens (1 to 4, see ``Seal``); 0 if none
    version: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


_UNKEYED = Seal()
_FOREIGN_START = ("it opens no chain this process knows for this thread: edited, moved from "
                  "another thread or store, or sealed with a chain key this process lacks "
                  "(LOGRAPH_CHAIN_KEY)")


def broken_link(e: Event, *, first: bool = False) -> str:
    """What a reader says of an event whose link does not verify (``first``: a thread's
    first event, which verifies under no chain this process knows)."""
    if uninflated(e.body):
        return f"hash chain broken: {UNINFLATED}"
    if first:
        return f"hash chain broken: {_FOREIGN_START}"
    return ("hash chain broken: the event was edited or its parent removed; run `lograph "
            "verify` for details")


def verify_chain(
    thread: str, events: Iterable[Event], *, limit: int = 20, bodies: bool = True,
    seal: Seal | None = None, require_key: bool = False,
) -> ChainReport:
    """Check the thread's whole log (every branch); report up to ``limit`` problems.

    ``bodies`` False checks the links only, not that each body decodes: for a caller that
    folds the events next, where an undecodable body is reported anyway. ``seal``: the
    key and store id keyed chains are checked with (none: unkeyed chains only);
    ``require_key``: an unkeyed chain is a problem too (with a key, one that was
    re-sealed without it, or written before the key).
    """
    seal = seal or _UNKEYED
    problems: list[ChainProblem] = []
    hashes: dict[int, bytes] = {0: GENESIS}
    key: bytes | None = None  # the thread's chain's key, once its first event says it is keyed
    opened = 0  # the chain version the thread's first event opens
    expected = 1
    count = 0
    last: Event | None = None
    for e in events:
        count += 1
        last = e
        seq, parent = e.seq, e.parent
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            problems.append(ChainProblem(thread, expected, "", (
                f"event {missing} is missing (seqs jump from {expected - 1} to {seq}): "
                "a row was deleted")))
        expected = seq + 1
        if not parent and e.kind in KINDS and seq > 0:
            version = seal.version(e, thread)
            problem = _check_start(thread, e, version, require_key, bodies)
            if version in KEYED_VERSIONS:
                key = seal.key
            if seq == 1:
                opened = version or 0
        else:
            parent_hash = hashes.get(parent)
            # the usual case at once; _check_event says what is wrong otherwise
            problem = None
            if (bodies or parent_hash is None or parent >= seq or e.kind not in KINDS
                    or not verify_link(e, parent_hash, key)):
                problem = _check_event(thread, e, hashes, bodies, key)
        if problem is not None:
            problems.append(problem)
        hashes[seq] = e.hash
        if problems and len(problems) >= limit:
            break
    head = last.seq if last is not None else 0
    return ChainReport(thread, count, head, last.hash if last is not None else GENESIS, problems,
                       opened)


def _check_start(thread: str, e: Event, version: int | None, require_key: bool,
                 bodies: bool) -> ChainProblem | None:
    """A thread's first event: it must open a chain of a ``version`` the seal knows (and a
    keyed one when ``require_key``)."""
    if version is None:
        reason = UNINFLATED if uninflated(e.body) else (
            f"{_FOREIGN_START}; or this row was edited")
        return ChainProblem(thread, e.seq, e.kind, reason)
    if require_key and version not in KEYED_VERSIONS:
        return ChainProblem(thread, e.seq, e.kind, (
            "the thread's chain is not sealed with the chain key: it was written before the "
            "key was configured, or re-sealed by someone without it"))
    return _body_problem(thread, e) if bodies else None


def _check_event(
    thread: str, e: Event, hashes: dict[int, bytes], bodies: bool, key: bytes | None = None,
) -> ChainProblem | None:
    if e.kind not in KINDS:
        return ChainProblem(thread, e.seq, e.kind, f"unknown event kind {e.kind!r}")
    if not 0 <= e.parent < e.seq:
        return ChainProblem(thread, e.seq, e.kind, f"its parent {e.parent} is not an earlier event")
    parent_hash = hashes.get(e.parent)
    if parent_hash is None:
        return ChainProblem(thread, e.seq, e.kind,
                            f"its parent event {e.parent} is missing: a row was deleted")
    if not verify_link(e, parent_hash, key) and uninflated(e.body):
        return ChainProblem(thread, e.seq, e.kind, UNINFLATED)
    if not verify_link(e, parent_hash, key):
        return ChainProblem(thread, e.seq, e.kind, (
            f"its hash does not match its content sealed after event {e.parent}: this row "
            f"was edited, or event {e.parent} was edited and re-sealed"))
    return _body_problem(thread, e) if bodies else None


def _body_problem(thread: str, e: Event) -> ChainProblem | None:
    try:
        body = decode_lenient(e.body)
    except DecodeError as err:
        return ChainProblem(thread, e.seq, e.kind, f"its body cannot be decoded: {err}")
    try:  # the shape its kind's reader takes (on a copy: upcasting changes the map)
        data = b.from_map(e.kind, dict(body) if type(body) is dict else body)
        if isinstance(data, b.NodeWrites) and not (type(data.writes) is list and all(
                type(w) is list and len(w) == 2 and isinstance(w[0], str) for w in data.writes)):
            raise ValueError("its writes are not a list of [channel, value] pairs")
    except Exception as err:  # noqa: BLE001 - any failure to read it is the finding
        return ChainProblem(thread, e.seq, e.kind, (
            f"its body does not have the shape of a {e.kind} body ({type(err).__name__}: {err})"))
    return None


# --- thread summaries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A thread at a glance: where its newest branch stands.

    ``status``: ``done``, ``interrupted`` (waiting for an answer or at a breakpoint),
    ``failed``, ``cancelled``, ``running`` (a run started and recorded no end: it is
    still running in some process, or its process died; the log cannot tell which), or
    ``updated`` (the last change was ``update_state`` or a fork), or ``unreadable`` (a
    damaged log; ``lograph verify`` names the row).

    Do not resume a ``running`` thread (``invoke(None, config)``) unless you know its
    process is gone: if it is alive, the node it is running runs again in yours, and
    one of the two runs then fails with ``ConflictError``. Optimistic concurrency keeps
    the log whole, not the side effects of a node run twice (see the README).
    """

    thread: str
    status: str
    step: int
    events: int
    bytes: int
    last_ts: float
    head: int
    head_hash: builtins.bytes
    checkpoint_id: str | None
    next: tuple[str, ...]
    interrupts: int
    branches: int


def summarize(info: ThreadInfo, events: Sequence[Event]) -> ThreadSummary:
    """Summarise one thread from its ThreadInfo and all its events."""
    head = events[-1].seq if events else 0
    tip = branch_of(events, head) if head else []
    try:  # lenient: a value of a class this process has not imported does not stop it
        cp = state_at(events, head, exact=False, thread=info.thread) if head else Checkpoint()
        status = _status(tip, bool(cp.interrupts))
    except LogError:
        cp, status = Checkpoint(), _UNREADABLE
    parents = {e.parent for e in events}
    branches = sum(1 for e in events if e.seq not in parents)
    return ThreadSummary(
        info.thread, status, cp.step, info.events, info.bytes, info.last_ts, head,
        events[-1].hash if events else GENESIS, cp.id, tuple(str(t["name"]) for t in cp.next),
        len(cp.interrupts), branches,
    )


_UPDATED = "updated"  # a thread whose last change was update_state or a fork
_UNREADABLE = "unreadable"  # a damaged log: `lograph verify` names the row


def _status(branch: Sequence[Event], waiting: bool) -> str:
    if waiting:
        return b.RunStatus.INTERRUPTED.value
    for e in reversed(branch):
        if e.ns:
            continue  # a subgraph's events: the thread's status is its top graph's
        if e.kind == Kind.RUN_FINISHED:
            data = body_of(e.kind, decode_body(e)[0])
            return data.status.value if isinstance(data, b.RunFinished) else b.RunStatus.DONE.value
        if e.kind == Kind.RUN_STARTED:
            return b.RunStatus.RUNNING.value
        if e.kind == Kind.STATE_UPDATED:
            return _UPDATED
    return _UPDATED
