"""Event bodies: one frozen class per kind, its storage form, and its versions.

This module is the one definition of what each event kind says. Writers build a
body from these classes (never a dict literal); ``encode_body`` turns it into the
storage form (a CBOR map) and ``decode_body`` turns stored bytes back into the class.

Rules:
- The storage form's keys are part of the format: never rename or reinterpret one.
  Optional fields are left out of the map while they hold their default (a thread's
  log pays for what it records, not for absent fields).
- A kind's ``VERSION`` starts at 1, which is stored as no version key at all: every
  body written so far is version 1. A later version stores ``"v": n`` and registers an
  upcaster from the version before it in ``_UPCASTS``; decoding upcasts an older map to
  the current version on read, and the log is never rewritten. A map from a *newer*
  lograph is refused with DecodeError rather than misread.
- The fold (``_fold.apply``) reads the storage form (maps) directly, for speed; it goes
  through ``upcast`` for a map decoded from bytes, so it sees current maps only.
- Enum members are stored as their plain strings (``_value_``: an enum member itself
  would be stored as an enum by the codec, and ``str()`` of one runs Python code).
- Reserved node and channel names that live in the log (``__start__``, ``__input__``,
  ``__goto__``, ...) and the checkpoint sources and run statuses are defined here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeAlias

from ._codec import decode, encode
from ._errors import DecodeError
from ._event import Kind
from ._frozen import quick_init

__all__ = [
    "COPY",
    "END",
    "GOTO",
    "INPUT",
    "NULL_TASK",
    "START",
    "Body",
    "CheckpointBody",
    "InterruptItem",
    "Interrupts",
    "NodeFailed",
    "NodeStarted",
    "NodeWrites",
    "Resume",
    "RunFinished",
    "RunStarted",
    "RunStatus",
    "Source",
    "StateUpdated",
    "TaskResult",
    "body_class",
    "decode_body",
    "encode_body",
    "from_map",
    "upcast",
]

# -- reserved names -------------------------------------------------------------------

START = "__start__"
"""The input step's task and the graph's entry: its writes are the input's items."""
END = "__end__"
"""Where a graph stops; ``update_state(as_node=END)`` plans no next step."""
INPUT = "__input__"
"""The writer of a ``Command(update=, goto=)`` given as input (and of
``update_state(as_node="__input__")``, which updates as the input would)."""
GOTO = "__goto__"
"""The channel a task's routing decisions travel under in its writes (``Send``s and
node names), so a resumed step needs no router to run again."""
COPY = "__copy__"
"""``update_state(as_node="__copy__")``: a fork that copies a checkpoint unchanged."""
NULL_TASK = "00000000-0000-0000-0000-000000000000"
"""The task id of a ``Command(update=, goto=)`` input's writes: the open step's first."""


class Source(StrEnum):
    """Why a checkpoint was taken (its ``metadata["source"]``, as LangGraph names it)."""

    INPUT = "input"  # a run's input, planned as the step's __start__ task
    LOOP = "loop"  # the end of a step of the graph
    UPDATE = "update"  # update_state
    FORK = "fork"  # a run or update that starts a new branch from an older checkpoint


class RunStatus(StrEnum):
    """How a run ended (``run.finished``); RUNNING is the fold's status between the two."""

    RUNNING = "running"
    DONE = "done"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    CANCELLED = "cancelled"


Writes: TypeAlias = list[list[Any]]  # [[channel, value], ...] in the order written


# -- bodies -----------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run begins: with an input (``resume`` False) or continuing the thread."""

    KIND: ClassVar[Kind] = Kind.RUN_STARTED
    VERSION: ClassVar[int] = 1
    resume: bool
    durability: str
    fork: bool = False  # the run starts a new branch from an older checkpoint
    metadata: Mapping[str, Any] = field(default_factory=dict)  # the caller's metadata

    def to_map(self) -> dict[str, Any]:
        m: dict[str, Any] = {"resume": self.resume, "durability": self.durability}
        if self.fork:
            m["fork"] = True
        if self.metadata:
            m["metadata"] = self.metadata
        return m

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> RunStarted:
        return cls(bool(m["resume"]), str(m["durability"]), bool(m.get("fork", False)),
                   m.get("metadata") or {})


@quick_init
@dataclass(frozen=True, slots=True)
class NodeStarted:
    """A task of the step starts: node ``name`` at ``path`` (``["pull", name]`` unless a
    ``Send`` made it: ``["push", i]``)."""

    KIND: ClassVar[Kind] = Kind.NODE_STARTED
    VERSION: ClassVar[int] = 1
    name: str
    path: Sequence[Any] = ()

    def to_map(self) -> dict[str, Any]:
        path = self.path
        if not path or (len(path) == 2 and path[0] == "pull" and path[1] == self.name):
            return {"name": self.name}
        return {"name": self.name, "path": list(path)}

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> NodeStarted:
        name = str(m["name"])
        return cls(name, tuple(m.get("path") or ("pull", name)))


@quick_init
@dataclass(frozen=True, slots=True)
class NodeWrites:
    """A task finished with these writes (a Command input's: under ``NULL_TASK``, with
    the caller's metadata)."""

    KIND: ClassVar[Kind] = Kind.NODE_WRITES
    VERSION: ClassVar[int] = 1
    name: str
    writes: Writes
    metadata: Mapping[str, Any] | None = None  # a Command input's only
    cached: bool = False  # the writes came from the node cache: the node did not run

    def to_map(self) -> dict[str, Any]:
        m: dict[str, Any] = {"name": self.name, "writes": self.writes}
        if self.metadata is not None:
            m["metadata"] = self.metadata
        if self.cached:
            m["cached"] = True
        return m

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> NodeWrites:
        return cls(str(m["name"]), m["writes"], m.get("metadata"), bool(m.get("cached", False)))


@quick_init
@dataclass(frozen=True, slots=True)
class NodeFailed:
    """An attempt of a task raised; ``final`` when no retry follows."""

    KIND: ClassVar[Kind] = Kind.NODE_FAILED
    VERSION: ClassVar[int] = 1
    name: str
    error: str  # repr of the exception
    type: str  # its class name
    attempt: int = 1
    final: bool = True

    def to_map(self) -> dict[str, Any]:
        return {"name": self.name, "error": self.error, "type": self.type,
                "attempt": self.attempt, "final": self.final}

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> NodeFailed:
        return cls(str(m["name"]), str(m["error"]), str(m.get("type", "")),
                   int(m.get("attempt", 1)), bool(m.get("final", True)))


@quick_init
@dataclass(frozen=True, slots=True)
class TaskResult:
    """A ``@task`` call's outcome: its value, or (``ok`` False) the repr of its error."""

    KIND: ClassVar[Kind] = Kind.TASK_RESULT
    VERSION: ClassVar[int] = 1
    name: str
    ok: bool
    value: Any
    attempt: int | None = None
    cached: bool = False  # the value came from the task cache: the task did not run

    def to_map(self) -> dict[str, Any]:
        m: dict[str, Any] = {"name": self.name, "ok": self.ok, "value": self.value}
        if self.attempt is not None:
            m["attempt"] = self.attempt
        if self.cached:
            m["cached"] = True
        return m

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> TaskResult:
        attempt = m.get("attempt")
        return cls(str(m["name"]), bool(m["ok"]), m.get("value"),
                   None if attempt is None else int(attempt), bool(m.get("cached", False)))


@quick_init
@dataclass(frozen=True, slots=True)
class InterruptItem:
    """One interrupt: its id, the value shown, and the JSON Schema of the answer it asks
    for (stored only when the node gave one)."""

    id: str
    value: Any
    schema: Any = None

    def to_map(self) -> dict[str, Any]:
        if self.schema is None:
            return {"id": self.id, "value": self.value}
        return {"id": self.id, "value": self.value, "schema": self.schema}


@quick_init
@dataclass(frozen=True, slots=True)
class Interrupts:
    """A task paused on ``interrupt()`` (or a subgraph did): what waits for an answer."""

    KIND: ClassVar[Kind] = Kind.INTERRUPT
    VERSION: ClassVar[int] = 1
    interrupts: tuple[InterruptItem, ...]

    def to_map(self) -> dict[str, Any]:
        return {"interrupts": [i.to_map() for i in self.interrupts]}

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> Interrupts:
        return cls(tuple(InterruptItem(str(i["id"]), i["value"], i.get("schema")) for i in m["interrupts"]))


@quick_init
@dataclass(frozen=True, slots=True)
class Resume:
    """Answers to pending interrupts, by interrupt id."""

    KIND: ClassVar[Kind] = Kind.RESUME
    VERSION: ClassVar[int] = 1
    values: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_map(self) -> dict[str, Any]:
        return {"values": self.values, "metadata": self.metadata}

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> Resume:
        return cls(m["values"], m.get("metadata") or {})


@quick_init
@dataclass(frozen=True, slots=True)
class StateUpdated:
    """``update_state(values, as_node=...)`` as the caller gave it (the checkpoint after
    it holds the effect)."""

    KIND: ClassVar[Kind] = Kind.STATE_UPDATED
    VERSION: ClassVar[int] = 1
    as_node: str | None
    values: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_map(self) -> dict[str, Any]:
        return {"as_node": self.as_node, "values": self.values, "metadata": self.metadata}

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> StateUpdated:
        node = m.get("as_node")
        return cls(None if node is None else str(node), m.get("values"), m.get("metadata") or {})


@quick_init
@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """A step boundary: the step's effect on the state as data, and the next step's plan.

    ``delta`` maps a channel to ``["set", value]``, ``["ext", items]`` (items appended),
    ``["del"]`` (it holds nothing any more) or ``["w"]`` (extended by the open step's writes to it, in task order: stored once);
    ``next`` lists the next step's tasks (``{"name", "path", "arg"?}``); ``barriers``
    the join barriers still waiting, by join key.

    Version 2: ids the step's reducers made (``add_messages``) are derived from the
    checkpoint the step started at, so a replay makes the same ones (``ids_derived``).
    Version 1 bodies were written with random ids: they upcast with ``ids_derived``
    False, and the replay verifier cannot compare those ids.

    ``id_hash`` (stored as ``id``): set only on a checkpoint that ``copy_thread`` copied
    into another thread (re-sealed there): the hash the checkpoint's id, and the ids
    derived from it, come from, so the copy keeps the source's checkpoint and task ids.

    ``copy`` (stored only when true): the ``fork`` checkpoint ``update_state(as_node=
    "__copy__")`` makes beside the one it copies. As LangGraph's, its parent is that
    checkpoint's parent, not the checkpoint itself (a copy written before this key
    existed folds as the copied checkpoint's child).
    """

    KIND: ClassVar[Kind] = Kind.CHECKPOINT
    VERSION: ClassVar[int] = 2
    source: Source
    delta: Mapping[str, list[Any]]
    next: list[dict[str, Any]]
    barriers: Mapping[str, list[str]] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # the caller's only
    ids_derived: bool = True
    id_hash: bytes | None = None
    copy: bool = False

    def to_map(self) -> dict[str, Any]:
        m: dict[str, Any] = {"source": self.source._value_, "delta": self.delta, "next": self.next}
        if self.barriers:
            m["barriers"] = self.barriers
        if self.metadata:
            m["metadata"] = self.metadata
        if not self.ids_derived:
            m["ids"] = "random"
        if self.id_hash is not None:
            m["id"] = self.id_hash
        if self.copy:
            m["copy"] = True
        m["v"] = 2  # (a body newer than version 1 carries its version: see the rules)
        return m

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> CheckpointBody:
        return cls(Source(m["source"]), m["delta"], m["next"], m.get("barriers") or {},
                   m.get("metadata") or {}, m.get("ids") != "random", m.get("id"),
                   bool(m.get("copy", False)))


def _checkpoint_v1_to_v2(m: dict[str, Any]) -> dict[str, Any]:
    m["ids"] = "random"  # written before ids were derived: a replay cannot repeat them
    return m


@quick_init
@dataclass(frozen=True, slots=True)
class RunFinished:
    """A run ended: how, and the repr of its error when it failed."""

    KIND: ClassVar[Kind] = Kind.RUN_FINISHED
    VERSION: ClassVar[int] = 1
    status: RunStatus
    error: str | None = None

    def to_map(self) -> dict[str, Any]:
        m: dict[str, Any] = {"status": self.status._value_}
        if self.error is not None:
            m["error"] = self.error
        return m

    @classmethod
    def from_map(cls, m: Mapping[str, Any]) -> RunFinished:
        error = m.get("error")
        return cls(RunStatus(m["status"]), None if error is None else str(error))


Body: TypeAlias = (
    RunStarted | NodeStarted | NodeWrites | NodeFailed | TaskResult | Interrupts | Resume
    | StateUpdated | CheckpointBody | RunFinished
)

_CLASSES: dict[str, type[Body]] = {
    str(cls.KIND): cls
    for cls in (RunStarted, NodeStarted, NodeWrites, NodeFailed, TaskResult, Interrupts,
                Resume, StateUpdated, CheckpointBody, RunFinished)
}

# (kind, version) -> the function that turns that version's map into the next version's.
_UPCASTS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    (Kind.CHECKPOINT.value, 1): _checkpoint_v1_to_v2,
}


def body_class(kind: str) -> type[Body]:
    """The body class of ``kind``; ValueError for a kind that does not exist."""
    try:
        return _CLASSES[kind]
    except KeyError:
        raise ValueError(f"unknown event kind {kind!r}; the kinds are {sorted(_CLASSES)}") from None


def encode_body(body: Body) -> tuple[dict[str, Any], bytes]:
    """``body``'s storage form: the map (what the fold reads) and its bytes.

    Raises EncodeError (naming the kind and the value's path) for a value the codec
    cannot store; nothing is returned then.
    """
    m = body.to_map()  # (a version above 1 is stored by the class's to_map as "v")
    return m, encode(m, path=body.KIND)


def upcast(kind: str, m: Any) -> Any:
    """A stored map of ``kind`` in the current version's form (the same object when it
    already is). DecodeError for a map written by a newer lograph."""
    if type(m) is not dict:
        return m  # not a body map (the fold reports what it cannot read)
    version = m.get("v", 1)
    current = _CLASSES[kind].VERSION if kind in _CLASSES else 1
    if version == current:
        return m
    if not isinstance(version, int) or version > current:
        raise DecodeError(
            f"a {kind} event body of version {version!r} was written by a newer lograph "
            f"(this one reads up to version {current}): upgrade lograph to read this log"
        )
    while version < current:
        m = _UPCASTS[(kind, version)](m)
        version += 1
    m["v"] = current
    return m


def from_map(kind: str, m: Any) -> Body:
    """The body of ``kind`` from its (upcast) storage map; DecodeError if it is not one."""
    cls = body_class(kind)
    try:
        return cls.from_map(upcast(kind, m))
    except DecodeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DecodeError(f"a {kind} event body does not have its kind's fields: {e!r}") from e


def decode_body(kind: str, data: bytes) -> Body:
    """The body of an event of ``kind`` from its stored bytes. Never runs code (the
    codec builds only registered types); DecodeError for bytes that are not a body."""
    return from_map(kind, decode(data))
