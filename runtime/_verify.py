"""Replay a thread's log against the current graph code, running no node and no task.

Rules (read-only use of the engine's pure parts, ``_step`` and ``_channels``):
- Every checkpoint of every branch is checked in seq order; the first point where the
  code now decides differently is reported, with both sides.
- A step's tasks are the ones its starting checkpoint planned; their results are the
  writes the log recorded (nodes and ``@task`` bodies are never called). A recorded
  ``__start__`` task may be absent: its writes are then recomputed from the input.
- What the code decides is recomputed: conditional-edge path functions are evaluated
  again on the state the node saw plus its own writes (they are cheap and pure), the
  reducers apply the writes, and the step boundary plans the next tasks. That is
  compared with the recorded checkpoint: its next tasks, its values, its join barriers.
- ``update_state`` checkpoints are recomputed from the recorded update the same way.
- A node the log names (planned, started, wrote, failed) that the graph no longer has is
  reported at the first event that names it.
- A subgraph (a compiled graph used as a node) is checked against its own structure,
  on the events of its ``checkpoint_ns``; a graph invoked inside a node's code is not
  known statically, and its events are skipped.
- Ids a reducer makes at a step boundary (``add_messages`` gives an id-less message one)
  are derived from the log (``_ids``), so the replay makes the same ones and they are
  compared like any value. Checkpoints written before that (body version 1, with
  ``ids_derived`` False) hold random ids no replay can repeat: there, and only there,
  the messages the step newly gave ids are compared without their ids.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import BaseMessage

from lograph.eventlog import Branches, Checkpoint, DecodeError, Event, Kind, apply, decode
from lograph.eventlog.bodies import (
    COPY,
    GOTO,
    INPUT,
    NULL_TASK,
    Body,
    CheckpointBody,
    NodeFailed,
    NodeStarted,
    NodeWrites,
    Source,
    StateUpdated,
    decode_body,
    from_map,
    upcast,
)

from ._machine import StepMachine
from ._step import Boundary, TaskPlan, handler_plan, plan
from ._structure import Structure
from ._types import END, START
from ._writes import route, stored_send

__all__ = ["Divergence", "replay", "structure_of"]


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first point where the graph's code decides differently from the log."""

    thread: str
    seq: int
    step: int
    what: str
    log: str
    code: str

    def __str__(self) -> str:
        return (f"thread {self.thread!r}, event {self.seq} (step {self.step}): {self.what}: "
                f"the log says {self.log}; the code now says {self.code}")


class _Diverged(Exception):
    """Unwinds the replay at the first divergence; ``replay`` turns it into a Divergence."""

    def __init__(self, seq: int, step: int, what: str, log: str, code: str) -> None:
        super().__init__(seq, step, what, log, code)
        self.where = (seq, step, what, log, code)


def structure_of(graph: Any) -> Structure:
    """The compiled structure of a CompiledGraph, or of a StateGraph builder (validated)."""
    structure = getattr(graph, "structure", None)
    if isinstance(structure, Structure):
        return structure
    if callable(getattr(graph, "validate", None)):
        return cast(Structure, graph.validate())
    raise TypeError(
        f"expected a compiled graph or a StateGraph builder, got {type(graph).__name__}"
    )


async def replay(graph: Any, thread: str, events: Sequence[Event]) -> Divergence | None:
    """Replay ``events`` (a thread's whole log, by seq) against ``graph``; see the rules.

    Returns None when the code decides as the log recorded, else the first Divergence.
    ``events`` must be an intact log (see ``verify_chain``): a damaged one proves nothing.
    """
    walker = _Replay(structure_of(graph), events)
    try:
        await walker.run()
    except _Diverged as d:
        return Divergence(thread, *d.where)
    return None


class _Replay:
    """The walk over every branch: the fold before each event, and the scope it belongs to."""

    def __init__(self, structure: Structure, events: Sequence[Event]) -> None:
        self.top = _Scope(structure, "", {})
        self.events = events
        self.by_seq = {e.seq: e for e in events}

    async def run(self) -> None:
        branches = Branches()
        for e, base in branches.walk(self.events):
            try:
                data = upcast(e.kind, decode(e.body))
                body = from_map(e.kind, data)
                branches.decoded[e.seq] = data  # the walk folds it, not the bytes again
            except DecodeError as err:
                raise _Diverged(e.seq, e.step, "a stored value", "it holds a value of a stored type",
                                f"it cannot be read: {err}") from None
            scope = self._scope(e)
            if scope is not None:
                try:
                    await scope.check(base, e, body, self.by_seq.get(e.parent))
                except _Diverged as d:
                    if scope.ns:
                        seq, step, what, log, code = d.where
                        d.where = (seq, step, f"in subgraph {subgraph_path(scope.ns)!r}, {what}", log, code)
                    raise

    def _scope(self, e: Event) -> _Scope | None:
        """The graph an event belongs to: the top graph, or the subgraph its ``ns`` names
        (None for a graph invoked inside a node's code, whose structure is not known)."""
        if not e.ns:
            return self.top
        structure = self.top.structure
        for part in e.ns.split("|"):
            if part.isdigit():  # the i-th graph a task ran (a kept subgraph's namespace)
                continue
            name = part.split(":", 1)[0]
            spec = structure.nodes.get(name)
            if spec is None:
                raise _Diverged(e.seq, e.step, f"node {name!r}", f"node {name!r} ran a subgraph",
                                f"the graph has no node {name!r} (nodes: {sorted(structure.nodes)})")
            if spec.subgraph is None:
                return None
            structure = spec.subgraph.structure
        return _Scope(structure, e.ns, self.top.writes_at)


def subgraph_path(ns: str) -> str:
    """``"team:<task id>|review:<task id>"`` -> ``"team/review"``: the nodes that ran subgraphs."""
    return "/".join(part.split(":", 1)[0] for part in ns.split("|"))


class _Scope:
    """The checks of one graph (the top graph or a subgraph) on the events of its ``ns``."""

    def __init__(self, structure: Structure, ns: str, writes_at: dict[str, int]) -> None:
        self.structure = structure
        self.ns = ns
        self.writes_at = writes_at  # task id -> the seq of its node.writes
        # the live run's decisions: no breakpoint or recursion limit, which stop a run
        # before it records a step, never change a recorded one
        self.machine = StepMachine(structure, ns=ns, recursion_limit=sys.maxsize)
        # the state.updated events before an update checkpoint, by the seq of the last
        # (bulk_update_state writes several for one checkpoint)
        self.updates: dict[int, list[StateUpdated]] = {}

    def own(self, full: Checkpoint) -> Checkpoint:
        """This scope's part of a fold of the whole thread."""
        return (full.children.get(self.ns) or Checkpoint()) if self.ns else full

    async def check(self, full: Checkpoint, e: Event, body: Body, parent: Event | None) -> None:
        if isinstance(body, StateUpdated):
            self.updates[e.seq] = [*self.updates.pop(e.parent, ()), body]
        elif isinstance(body, NodeStarted | NodeWrites | NodeFailed):
            if e.task_id != NULL_TASK:  # (a Command input's writes: no node wrote them)
                self._known(e, body.name, "ran")
            if isinstance(body, NodeWrites):
                self.writes_at[e.task_id] = e.seq
        elif isinstance(body, CheckpointBody):
            for t in body.next:
                self._known(e, str(t["name"]), "is planned")
            if body.source == Source.LOOP:
                await self._loop(full, e, body)
            elif body.source == Source.UPDATE and parent is not None and parent.kind == Kind.STATE_UPDATED:
                updates = self.updates.pop(e.parent, None)
                if updates is None:  # (the walk starts after the update's first events)
                    update = decode_body(parent.kind, parent.body)
                    assert isinstance(update, StateUpdated)
                    updates = [update]
                if len(updates) == 1:
                    await self._update(full, e, body, updates[0])
                else:
                    await self._update_together(full, e, body, updates)

    def _known(self, e: Event, name: str, what: str) -> None:
        if name != START and name not in self.structure.nodes:
            raise _Diverged(e.seq, e.step, f"node {name!r}", f"node {name!r} {what}",
                            f"the graph has no node {name!r} (nodes: {sorted(self.structure.nodes)})")

    # -- a step of the loop ---------------------------------------------------------------

    async def _loop(self, full: Checkpoint, e: Event, body: CheckpointBody) -> None:
        base = self.own(full)
        finished = []
        for task in plan(base, e.ns):
            recorded = base.writes.get(task.id)
            handler = handler_plan(self.structure, task) if recorded is None else None
            if handler is not None and handler.id in base.writes:  # it failed; this stood in
                task, recorded = handler, base.writes[handler.id]
            if recorded is None:
                if task.name != START:
                    raise _Diverged(e.seq, e.step, f"task {task.name!r}", "the step ended without its writes",
                                    "every planned task writes before the step ends")
                writes = await self._start_writes(base, e, task.arg)
            else:
                writes = await self._rerouted(base, e, task, [list(w) for w in recorded])
            finished.append((task, writes))
        try:
            entry, b = self.machine.boundary(base, e.step, finished)
        except Exception as err:  # noqa: BLE001 - the reducers refuse the recorded writes
            raise _Diverged(e.seq, e.step, "the step's writes", "they were applied",
                            f"applying them raises {err!r}") from None
        assert isinstance(entry[0], CheckpointBody)
        self._compare(full, e, body, entry[0], b, finished)

    async def _start_writes(self, base: Checkpoint, e: Event, value: Any) -> list[list[Any]]:
        writes = [[k, v] for k, v in self._updates(e, value, START)]
        goto = await self._route(base, e, START, writes)
        return [*writes, [GOTO, goto]] if goto else writes

    def _updates(self, e: Event, value: Any, name: str) -> list[tuple[str, Any]]:
        try:
            return self.structure.state.updates(value, name)
        except Exception as err:  # noqa: BLE001 - the schema refuses what the log holds
            raise _Diverged(e.seq, e.step, f"the update of {name!r}", f"it wrote {value!r}",
                            f"the state schema refuses it: {err}") from None

    async def _rerouted(self, base: Checkpoint, e: Event, task: TaskPlan, writes: list[list[Any]]) -> list[list[Any]]:
        """The task's recorded writes, with its conditional edges evaluated again."""
        at = self.writes_at.get(task.id, e.seq)
        plain = [w for w in writes if w[0] != GOTO]
        if task.name == START:
            expected = [[k, v] for k, v in self._updates(e, task.arg, START)]
            if plain != expected:
                raise _Diverged(at, e.step, "the input's writes", repr(plain), repr(expected))
        if not self.structure.branches.get(task.name):
            return writes
        recorded = [t for w in writes if w[0] == GOTO for t in w[1]]
        routed = await self._route(base, e, task.name, plain, at)
        if self.structure.state.untracked:  # the log keeps a Send's arg without them
            routed = [stored_send(t, self.structure.state.untracked) for t in routed]
        extra = recorded[: len(recorded) - len(routed)]
        # Targets before the routed ones came from the node's Command(goto=), unless
        # its conditional edges could have chosen them: then the edges now choose less.
        if (len(routed) > len(recorded) or routed != recorded[len(extra):]
                or any(self._may_route(task.name, t) for t in extra)):
            raise _Diverged(at, e.step, f"the conditional edge of {task.name!r}",
                            f"it went to {_names(recorded)}", f"it goes to {_names(routed)}")
        return writes

    def _may_route(self, name: str, target: Any) -> bool:
        for br in self.structure.branches.get(name, ()):
            if br.path_map is None or not isinstance(target, str) or target in br.path_map.values():
                return True
        return False

    async def _route(self, base: Checkpoint, e: Event, name: str, writes: list[list[Any]],
                     at: int | None = None) -> list[Any]:
        if name not in self.structure.branches:
            return []
        try:
            # on copies: a reducer of the user's may change what it is given, and the recorded
            # writes must stay as the log has them (add_messages itself works on copies)
            return await route(self.structure, base.values, name, copy.deepcopy(writes))
        except Exception as err:  # noqa: BLE001 - the code fails where the log went on
            raise _Diverged(at or e.seq, e.step, f"the conditional edge of {name!r}", "it routed",
                            f"it raises {err!r}") from None

    # -- update_state ------------------------------------------------------------------

    async def _update(self, full: Checkpoint, e: Event, body: CheckpointBody, update: StateUpdated) -> None:
        base = self.own(full)
        node, values = update.as_node, update.values
        if node == COPY or (node == INPUT and body.source == Source.INPUT):
            return  # a copy, or the input as given: nothing derived to compare
        name = START if node == INPUT else str(node)
        if name != END:
            self._known(e, name, "is updated")
        if name == END:
            writes = [] if values is None else [[k, v] for k, v in self._updates(e, values, END)]
        elif name == START:
            writes = await self._start_writes(base, e, values)
        else:
            writes = [[k, v] for k, v in self._updates(e, values, name)]
            goto = await self._route(base, e, name, writes)
            writes += [[GOTO, goto]] if goto else []
        context = f"after update_state(as_node={node!r}), "
        try:
            # (``__input__`` recorded as an ``update`` checkpoint: as the input's writes, as
            # lograph wrote it before it made the input checkpoint LangGraph makes)
            entries, b = self.machine.update(base, START if node == INPUT else str(node), values, writes)
        except Exception as err:  # noqa: BLE001 - the reducers refuse the recorded update
            raise _Diverged(e.seq, e.step, f"{context}the step's writes", "they were applied",
                            f"applying them raises {err!r}") from None
        produced = entries[-1][0]
        assert isinstance(produced, CheckpointBody) and b is not None
        self._compare(full, e, body, produced, b, [(TaskPlan("update", name, ("pull", name)), writes)],
                      end=name == END, context=context)

    async def _update_together(self, full: Checkpoint, e: Event, body: CheckpointBody,
                               updates: list[StateUpdated]) -> None:
        """A ``bulk_update_state`` superstep: several nodes' updates in one checkpoint."""
        base = self.own(full)
        together = []
        for update in updates:
            name = str(update.as_node)
            self._known(e, name, "is updated")
            writes = [[k, v] for k, v in self._updates(e, update.values, name)]
            goto = await self._route(base, e, name, writes)
            together.append((name, update.values, writes + ([[GOTO, goto]] if goto else [])))
        context = f"after bulk_update_state(as_node={[n for n, _, _ in together]!r}), "
        try:
            entries, b = self.machine.update_together(base, together)
        except Exception as err:  # noqa: BLE001 - the reducers refuse the recorded updates
            raise _Diverged(e.seq, e.step, f"{context}the step's writes", "they were applied",
                            f"applying them raises {err!r}") from None
        produced = entries[-1][0]
        assert isinstance(produced, CheckpointBody)
        finished = [(TaskPlan(f"update:{i}", n, ("pull", n)), w) for i, (n, _, w) in enumerate(together)]
        self._compare(full, e, body, produced, b, finished, context=context)

    # -- the step boundary -------------------------------------------------------------

    def _compare(self, full: Checkpoint, e: Event, body: CheckpointBody, produced: CheckpointBody,
                 b: Boundary, finished: list[tuple[TaskPlan, list[list[Any]]]], *, end: bool = False,
                 context: str = "") -> None:
        """The checkpoint the machine made from the recorded writes against the one the
        log holds: the next tasks, every value (as folded), the join barriers."""
        if [_task_key(t) for t in body.next] != [_task_key(t) for t in produced.next]:
            raise _Diverged(e.seq, e.step, f"{context}the next tasks", _names(body.next), _names(produced.next))
        after = full.copy()
        apply(after, e, body.to_map())  # the fold reads the delta; its format is the fold's business
        recorded = self.own(after)
        # (version 1 checkpoints only: see the rules)
        fresh = set() if body.ids_derived else _message_ids(b.values) - _ids_before(self.own(full), finished)
        for key in sorted(set(recorded.values) | set(b.values)):
            logged, code = recorded.values.get(key, _ABSENT), b.values.get(key, _ABSENT)
            if not _same(logged, code, fresh):
                raise _Diverged(e.seq, e.step, f"{context}the value of {key!r}", _show(logged), _show(code))
        if not end and recorded.barriers != produced.barriers:
            raise _Diverged(e.seq, e.step, f"{context}the join barriers", repr(recorded.barriers),
                            repr(dict(produced.barriers)))


class _Absent:
    def __repr__(self) -> str:
        return "(not set)"


_ABSENT: Any = _Absent()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _task_key(t: dict[str, Any]) -> tuple[Any, ...]:
    return (t["name"], tuple(t["path"]), repr(t.get("arg")))


def _names(items: Sequence[Any]) -> str:
    names = [t["name"] if isinstance(t, dict) else t if isinstance(t, str) else repr(t) for t in items]
    return "[" + ", ".join(map(str, names)) + "]" if names else "[] (END)"


def _ids_before(base: Checkpoint, finished: list[tuple[TaskPlan, list[list[Any]]]]) -> set[str]:
    """The message ids the state and the step's writes hold before the reducers run."""
    return _message_ids(base.values) | {i for _, w in finished for _, v in w for i in _message_ids({0: v})}


def _is_message(value: Any) -> bool:
    return isinstance(value, BaseMessage)


def _message_ids(values: dict[Any, Any]) -> set[str]:
    out = set()
    for value in values.values():
        for item in value if isinstance(value, list) else (value,):
            if _is_message(item) and item.id is not None:
                out.add(item.id)
    return out


def _same(a: Any, b: Any, fresh: set[str]) -> bool:
    if _is_message(b) and b.id in fresh:
        return type(a) is type(b) and _fields(a) == _fields(b)
    if type(a) is list and type(b) is list:
        return len(a) == len(b) and all(_same(x, y, fresh) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _fields(message: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(message).items() if k != "id"}
