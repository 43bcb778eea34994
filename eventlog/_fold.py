"""Fold: events -> checkpoint. Pure and deterministic; snapshots are a cache of it.

The fold knows nothing of graphs' code. A ``checkpoint`` event carries the step's
effect on the state as data (per channel: ``["set", value]`` or ``["ext", items]`` for
an append), the tasks planned for the next step and the join barriers, so replaying a
log needs no reducer. Events between two checkpoints describe the *open* step: the
writes of finished tasks, failures, ``@task`` results, interrupts and resume values.

Event bodies (CBOR maps; keys are part of the storage format; ``bodies`` defines each
kind's class and versions, and the fold reads the maps of the current version):
- run.started    {"resume": bool, "durability": str, "fork"?: true, "metadata"?: map}
- node.started   {"name": str, "path"?: list}     (path when not ["pull", name])
- node.writes    {"name": str, "writes": [[channel, value], ...]}
- node.failed    {"name": str, "error": str, "type": str, "attempt": int, "final": bool}
- task.result    {"name": str, "ok": bool, "value": any}      (error repr when not ok)
- interrupt      {"interrupts": [{"id": str, "value": any, "schema"?: map}]}
                 (an id answered in the open step is pending again: its answer was refused)
- resume         {"values": {interrupt_id: value}, "metadata": map}
- state.updated  {"as_node": str|None, "values": any, "metadata": map}
- checkpoint     {"source": str, "delta": {channel: [op, value?]}, "next": [task, ...],
                  "barriers"?: {name: [source, ...]}, "metadata"?: map, "copy"?: true}
  ``op`` is "set" (the new value), "ext" (items appended), "del" (the channel holds
  nothing any more: a ``Pregel`` graph's ephemeral channel) or "w" (no value: the
  channel's list was extended by the open step's writes to it, taken in task order;
  the task order is the ``next`` of the previous checkpoint, so a write is stored
  once; the input task's writes are the items of its input, a dict). "metadata" holds the caller's metadata only; source and step are the event's.
- run.finished   {"status": "done"|"interrupted"|"failed"|"cancelled", "error"?: str}
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._codec import decode, encode
from ._errors import DecodeError
from ._event import GENESIS, Event, Kind, checkpoint_id
from .bodies import NULL_TASK, START, RunStatus, upcast

SET = "set"
_RUNNING: str = RunStatus.RUNNING.value  # (a plain str: read per run.started event)
EXTEND = "ext"
WRITES = "w"
DELETE = "del"


ID_KEY = b"\x62id\x58\x20"  # CBOR: the text "id", then a 32-byte byte string follows


def id_hash(event: Event) -> bytes:
    """The hash a checkpoint event's id comes from: its own, or for a checkpoint that
    ``copy_thread`` copied, the source's (its body's ``id``, see ``_copy``)."""
    if ID_KEY not in event.body:  # (most events: no decode)
        return event.hash
    try:
        alias = decode(event.body).get("id")
    except Exception:  # noqa: BLE001 - an undecodable body: the chain check names it
        return event.hash
    return alias if type(alias) is bytes and len(alias) == len(event.hash) else event.hash


def task_id(checkpoint_hash: bytes, ns: str, path: tuple[Any, ...]) -> str:
    """The id of the task at ``path`` in the step after a checkpoint: stable on replay."""
    d = hashlib.sha256(checkpoint_hash + f"|{ns}|{path!r}".encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}"


@dataclass(slots=True)
class Checkpoint:
    """The state of one branch of a thread after its last folded event."""

    head: int = 0
    head_hash: bytes = GENESIS
    checkpoint: int = 0
    checkpoint_hash: bytes = GENESIS
    parent_checkpoint: int = 0
    parent_checkpoint_hash: bytes = GENESIS
    step: int = -2
    created_at: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    updated: list[str] = field(default_factory=list)
    next: list[dict[str, Any]] = field(default_factory=list)
    barriers: dict[str, list[str]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    # the open step: what happened since the last checkpoint event
    writes: dict[str, list[list[Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupts: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumes: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    run_status: str = ""
    length: int = 0  # events on this branch (top graph and subgraphs), from the first
    # the branch's chain is keyed (version 2 or 4, see ``Seal``): known from its first event
    keyed: bool = field(default=False, compare=False)
    # the hash of the checkpoint event when its ids come from another (``checkpoint_hash``
    # is then the id hash of the source it was copied from, see ``copy_events``); else b""
    checkpoint_seal: bytes = field(default=b"", compare=False)
    # subgraphs running in the open step: their own fold, by checkpoint namespace
    children: dict[str, Checkpoint] = field(default_factory=dict)

    @property
    def id(self) -> str | None:
        return checkpoint_id(self.checkpoint, self.checkpoint_hash) if self.checkpoint else None

    @property
    def parent_id(self) -> str | None:
        if not self.parent_checkpoint:
            return None
        return checkpoint_id(self.parent_checkpoint, self.parent_checkpoint_hash)

    def before_finish(self) -> Checkpoint | None:
        """The fold at this branch's last checkpoint, when the one event after it is the
        ``run.finished`` now at the head (None when the head is anything else): that
        event only closed the run, so the fold there differs in the head and the run's
        status alone (``run.started`` left it "running")."""
        if self.head != self.checkpoint + 1 or self.children or self.run_status == RunStatus.RUNNING:
            return None
        at = self.copy()
        at.head, at.length = self.checkpoint, self.length - 1
        at.head_hash = self.checkpoint_seal or self.checkpoint_hash
        at.run_status = _RUNNING
        return at

    def copy(self) -> Checkpoint:
        """A copy that later folding cannot change (values are replaced, never mutated)."""
        return Checkpoint(
            self.head, self.head_hash, self.checkpoint, self.checkpoint_hash,
            self.parent_checkpoint, self.parent_checkpoint_hash, self.step, self.created_at,
            dict(self.values), dict(self.versions), list(self.updated), list(self.next),
            dict(self.barriers), dict(self.metadata), dict(self.writes), dict(self.errors),
            dict(self.results), dict(self.interrupts), dict(self.resumes), self.run_id,
            self.run_status, self.length, self.keyed, self.checkpoint_seal,
            {ns: child.copy() for ns, child in self.children.items()},
        )


def apply(cp: Checkpoint, event: Event, body: Any = None) -> None:
    """Fold one event into ``cp`` in place. ``body`` saves a decode when the caller has it.

    An event of a subgraph (``ns`` not empty) folds into ``cp.children[ns]``; the
    branch's head moves either way. A checkpoint of the top graph ends its open step,
    and with it the subgraphs that ran in that step.

    DecodeError for a body that does not decode, or does not have the shape lograph
    writes for its kind (a hand-edited row re-sealed): never a raw TypeError or KeyError.
    """
    try:
        if body is not None:
            data = body
        elif event.kind in _HEADER_ONLY:
            data = None  # the fold needs nothing of these bodies: skip decoding them
        else:
            data = upcast(event.kind, decode(event.body))
        if event.ns:
            child = cp.children.get(event.ns)
            if child is None:
                child = cp.children[event.ns] = Checkpoint()
            _apply(child, event, data)
            child.head, child.head_hash = event.seq, event.hash
            if event.kind == Kind.CHECKPOINT:
                child.metadata["parents"] = _parents(cp, event.ns)
        else:
            _apply(cp, event, data)
            if event.kind == Kind.CHECKPOINT and cp.children:
                cp.children = {ns: c for ns, c in cp.children.items() if persistent_ns(ns)}
            elif event.kind == Kind.RESUME:
                for child in cp.children.values():  # the interrupt was raised inside a subgraph
                    for iid in data["values"]:
                        child.interrupts.pop(iid, None)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as e:
        raise DecodeError(
            f"event {event.seq}: its {event.kind} body does not have the shape lograph writes "
            f"({type(e).__name__}: {e})") from e
    cp.head, cp.head_hash = event.seq, event.hash
    cp.length += 1


def persistent_ns(ns: str) -> bool:
    """A subgraph namespace whose fold outlives its caller's step: one without a task id
    (``"node"``, ``"a|b"``, ``"node|1"``): a subgraph compiled with ``checkpointer=True``
    keeps its state per thread across its caller's steps and runs. A namespace with a
    task id (``"node:<task id>"``) lives for the caller's step only."""
    return ":" not in ns


def _parents(cp: Checkpoint, ns: str) -> dict[str, str]:
    """A subgraph checkpoint's ``metadata["parents"]``, as LangGraph's: the checkpoint id
    each enclosing graph was at, by namespace (``""``: the top graph)."""
    out: dict[str, str] = {}
    if cp.id is not None:
        out[""] = cp.id
    parts = ns.split("|")
    for i in range(1, len(parts)):
        outer = cp.children.get("|".join(parts[:i]))
        if outer is not None and outer.id is not None:
            out["|".join(parts[:i])] = outer.id
    return out


_HEADER_ONLY = frozenset({Kind.NODE_STARTED, Kind.RUN_STARTED, Kind.STATE_UPDATED})


def _apply(cp: Checkpoint, event: Event, data: Any) -> None:
    kind = event.kind
    if kind == Kind.NODE_WRITES:
        writes = data["writes"]
        if type(writes) is not list:  # (its pairs are checked by the verifier: off the hot path)
            raise ValueError("its writes are not a list of [channel, value] pairs")
        if event.task_id == NULL_TASK and NULL_TASK in cp.writes:  # another Command input
            cp.writes[NULL_TASK] = [*cp.writes[NULL_TASK], *writes]
        else:
            cp.writes[event.task_id] = writes
        cp.errors.pop(event.task_id, None)
    elif kind == Kind.CHECKPOINT:
        _apply_checkpoint(cp, event, data)
    elif kind == Kind.TASK_RESULT:
        cp.results[event.task_id] = data
    elif kind == Kind.NODE_FAILED:
        if data.get("final", True):
            cp.errors[event.task_id] = data["error"]
    elif kind == Kind.INTERRUPT:
        for item in data["interrupts"]:
            iid = item["id"]
            cp.interrupts[iid] = {"value": item["value"], "task_id": event.task_id}
            if "schema" in item:
                cp.interrupts[iid]["schema"] = item["schema"]
            cp.resumes.pop(iid, None)
    elif kind == Kind.RESUME:
        for iid, value in data["values"].items():
            cp.resumes[iid] = value
            cp.interrupts.pop(iid, None)
    elif kind == Kind.RUN_STARTED:
        cp.run_id, cp.run_status = event.run_id, _RUNNING
    elif kind == Kind.RUN_FINISHED:
        cp.run_id, cp.run_status = event.run_id, data["status"]
    elif kind == Kind.NODE_STARTED and cp.interrupts:
        # a task that starts again asks again whatever it still waits for: what it asked
        # before is no longer pending (a subgraph updated under it may not ask it at all)
        for iid in [i for i, item in cp.interrupts.items() if item["task_id"] == event.task_id]:
            del cp.interrupts[iid]


def _apply_checkpoint(cp: Checkpoint, event: Event, data: dict[str, Any]) -> None:
    values = cp.values
    step_writes: list[Any] | None = None
    for channel, change in data["delta"].items():
        op = change[0]
        if op == WRITES:
            if step_writes is None:  # once per checkpoint, however many channels refer to it
                step_writes = _step_writes(cp, event.ns)
            items = [v for key, value in step_writes if key == channel for v in value]
            values[channel] = [*values.get(channel, ()), *items]
        elif op == EXTEND:
            values[channel] = [*values.get(channel, ()), *change[1]]
        elif op == DELETE:
            values.pop(channel, None)
        else:
            values[channel] = change[1]
        cp.versions[channel] = event.seq
    cp.updated = list(data["delta"])
    if "copy" not in data:  # (a copy is the sibling of the checkpoint it copies: same parent)
        cp.parent_checkpoint, cp.parent_checkpoint_hash = cp.checkpoint, cp.checkpoint_hash
    alias = data.get("id")
    if alias is None:
        cp.checkpoint, cp.checkpoint_hash, cp.checkpoint_seal = event.seq, event.hash, b""
    elif type(alias) is bytes and len(alias) == len(event.hash):  # a copied checkpoint
        cp.checkpoint, cp.checkpoint_hash, cp.checkpoint_seal = event.seq, alias, event.hash
    else:
        raise ValueError(f"its id hash is {type(alias).__name__}, not {len(event.hash)} bytes")
    cp.step = event.step
    cp.created_at = event.ts
    cp.next = data["next"]
    cp.barriers = data.get("barriers") or {}
    cp.metadata = {"source": data["source"], "step": event.step, "parents": {}, **data.get("metadata", {})}
    cp.writes, cp.errors, cp.results = {}, {}, {}
    cp.interrupts, cp.resumes = {}, {}


def _step_writes(cp: Checkpoint, ns: str) -> list[Any]:
    """The open step's writes ``[channel, value]``, in task order."""
    out: list[Any] = []
    for t in cp.next:
        if t["name"] == START:  # the input step: its writes are the input's items
            out += t["arg"].items()
        else:
            out += cp.writes.get(task_id(cp.checkpoint_hash, ns, tuple(t["path"])), ())
    return out



def fold(snapshot: Checkpoint | None, events: Iterable[Event]) -> Checkpoint:
    """The checkpoint after ``events`` (one branch, oldest first) on top of ``snapshot``."""
    cp = Checkpoint() if snapshot is None else snapshot.copy()
    for event in events:
        apply(cp, event)
    return cp


def delta(old: Any, new: Any) -> list[Any] | None:
    """How a channel changed, as data: None (same object), ["ext", items] or ["set", new]."""
    if new is old:
        return None
    if type(new) is list and type(old) is list and len(new) >= len(old):
        if all(map(operator.is_, old, new)):
            return [EXTEND, new[len(old):]]
    return [SET, new]


_SNAPSHOT_FIELDS = (
    "head", "head_hash", "checkpoint", "checkpoint_hash", "parent_checkpoint",
    "parent_checkpoint_hash", "step", "created_at", "values", "versions", "updated", "next",
    "barriers", "metadata", "writes", "errors", "results", "interrupts", "resumes", "run_id",
    "run_status", "length", "keyed", "checkpoint_seal",
)
SNAPSHOT_FORMAT = 3  # 2: subgraphs' folds ride along; 3: values as a delta of a base snapshot


def _fields(cp: Checkpoint) -> list[Any]:
    return [getattr(cp, f) for f in _SNAPSHOT_FIELDS]


def _checkpoint(fields: list[Any]) -> Checkpoint:
    # (snapshots written before ``length``, ``keyed`` or ``checkpoint_seal`` existed have
    # fewer fields: those
    # stay at their defaults, which is what those snapshots' threads are)
    return Checkpoint(**dict(zip(_SNAPSHOT_FIELDS, fields, strict=False)))


_VALUES = _SNAPSHOT_FIELDS.index("values")


def dump_snapshot(cp: Checkpoint, base: tuple[int, dict[str, Any]] | None = None) -> bytes:
    """``cp`` as a snapshot. With ``base`` (the seq and values of an earlier snapshot on
    the same branch) the values are stored as their change since it: a thread's snapshots
    together cost about one copy of its state, not one per snapshot."""
    children = {ns: _fields(child) for ns, child in cp.children.items()}
    fields = _fields(cp)
    if base is None:
        return encode([2, fields, children], path="snapshot")
    seq, old = base
    changes = {}
    for key, value in cp.values.items():
        change = delta(old.get(key, _ABSENT), value)
        if change is None and cp.versions.get(key, 0) > seq:
            change = [SET, value]  # written since the base, as the same (changed) object
        if change is not None:
            changes[key] = change
    for key in old:
        if key not in cp.values:
            changes[key] = [DELETE]
    fields[_VALUES] = changes
    return encode([SNAPSHOT_FORMAT, fields, children, seq], path="snapshot")


def snapshot_base(data: bytes) -> tuple[int, Any]:
    """The seq of the snapshot ``data`` is a delta of (0: none), and its decoded form."""
    decoded = decode(data)
    version = decoded[0]
    if version > SNAPSHOT_FORMAT:
        raise ValueError(f"snapshot format {version} is newer than this lograph")
    return (decoded[3] if version == 3 else 0), decoded


def load_snapshot(data: bytes | Any, base: Checkpoint | None = None) -> Checkpoint:
    """The checkpoint a snapshot holds; a delta snapshot needs its base's checkpoint."""
    decoded = snapshot_base(data)[1] if isinstance(data, bytes) else data
    version, fields, *rest = decoded
    cp = _checkpoint(fields)
    if version == 3:
        if base is None:
            raise ValueError(f"this snapshot is a delta of the snapshot at seq {rest[1]}: load that first")
        values = dict(base.values)
        for key, change in cp.values.items():
            if change[0] == DELETE:
                values.pop(key, None)
            else:
                values[key] = [*values.get(key, ()), *change[1]] if change[0] == EXTEND else change[1]
        cp.values = values
    for ns, child in (rest[0] if rest else {}).items():
        cp.children[ns] = _checkpoint(child)
    for ns, child in cp.children.items():
        if child.checkpoint and not child.metadata.get("parents"):
            # written before subgraph checkpoints named their parents: those subgraphs
            # all lived for the snapshot's open step, under the checkpoints folded here
            child.metadata = {**child.metadata, "parents": _parents(cp, ns)}
    return cp


_ABSENT: Any = object()
