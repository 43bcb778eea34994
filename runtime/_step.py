"""The superstep's pure logic: task ids, planning, and the step boundary.

Rules (as LangGraph's Pregel loop):
- A checkpoint lists the tasks of the next step: triggered nodes by name, then the
  ``Send`` packets in the order they were written.
- A task's writes are applied at the step boundary, all tasks together, in task-path
  order (never completion order); routing decisions travel with the writes under
  ``GOTO`` so a resumed step needs no router to run again.
- A task id is a hash of the checkpoint it starts from (its seq and chain hash) and
  its path, so replaying the same log recomputes the same ids.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass
from typing import Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import GOTO, INPUT, NULL_TASK
from lograph.eventlog.lowlevel import SET, WRITES, delta, quick_init, task_id

from ._channels import reduce_writes
from ._structure import Structure
from ._types import END, START, Send


@quick_init  # (several per step)
@dataclass(frozen=True, slots=True)
class TaskPlan:
    id: str
    name: str
    path: tuple[Any, ...]
    arg: Any = None
    push: bool = False
    handler: bool = False  # an error handler standing in for a failed task (``handler_plan``)
    timeout: Any = None  # a Send's own TimeoutPolicy (None: the node's)


def _uuid(digest: str) -> str:
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def recast(ns: str) -> str:
    """A namespace without its task ids (and call indexes): where a subgraph compiled
    with ``checkpointer=True`` keeps its state, the same for every call (LangGraph's
    ``recast_checkpoint_ns``)."""
    return "|".join(p.split(":", 1)[0] for p in ns.split("|") if not p.isdigit())


def call_id(parent_task: str, index: int) -> str:
    return _uuid(hashlib.sha256(f"{parent_task}|call|{index}".encode()).hexdigest())


def interrupt_id(task: str, index: int) -> str:
    return hashlib.sha256(f"{task}|interrupt|{index}".encode()).hexdigest()[:32]


def plan(cp: Checkpoint, ns: str = "", *, commands: bool = True) -> list[TaskPlan]:
    """The tasks of the step that starts at ``cp``'s checkpoint, in path order.

    A ``Command(goto=...)`` given as input adds its targets to the open step (unless
    ``commands`` is False: the checkpoint's own plan, as a record shows it).
    """
    planned = cp.next
    null = cp.writes.get(NULL_TASK) if commands else None
    if null:
        planned = planned + _goto_tasks(planned, null)
    out = []
    for t in planned:
        path = tuple(t["path"])
        push = path[0] == "push"
        out.append(TaskPlan(task_id(cp.checkpoint_hash, ns, path), t["name"], path,
                            t.get("arg"), push, False, t.get("timeout") if push else None))
    return out


def _goto_tasks(planned: list[dict[str, Any]], writes: list[list[Any]]) -> list[dict[str, Any]]:
    pulls = {t["name"] for t in planned if t["path"][0] == "pull"}
    pushes = sum(1 for t in planned if t["path"][0] == "push")
    out: list[dict[str, Any]] = []
    for channel, targets in writes:
        if channel != GOTO:
            continue
        for target in targets:
            if isinstance(target, Send):
                out.append(push_entry(pushes, target))
                pushes += 1
            elif target not in pulls and target != END:
                pulls.add(target)
                out.append({"name": target, "path": ["pull", target]})
    return out


def handler_plan(structure: Structure, task: TaskPlan) -> TaskPlan | None:
    """The error handler task of ``task`` (None when its node has no error handler): it
    runs in ``task``'s step once ``task``'s attempts have failed, on the same input, and
    its writes stand for ``task``'s. Its id derives from ``task``'s, so a resumed step
    finds what it recorded."""
    spec = structure.nodes.get(task.name)
    if spec is None or spec.handler is None:
        return None
    digest = hashlib.sha256(f"{task.id}|error_handler".encode()).hexdigest()
    return TaskPlan(_uuid(digest), spec.handler, (*task.path, "error_handler"), task.arg, task.push, True)


def null_task() -> TaskPlan:
    """The writes of a ``Command(update=...)`` input: applied first, before the step's tasks."""
    return TaskPlan(NULL_TASK, INPUT, ())


def step_values(structure: Structure, cp: Checkpoint) -> dict[str, Any]:
    """The state a step's tasks see: the checkpoint, plus a Command input's updates."""
    null = cp.writes.get(NULL_TASK)
    if not null:
        return cp.values
    writes = [(k, v) for k, v in null if k != GOTO]
    return {**cp.values, **reduce_writes(structure.state.channels, cp.values, writes)}


def start_next(input_value: Any) -> list[dict[str, Any]]:
    return [{"name": START, "path": ["pull", START], "arg": input_value}]


def successors(structure: Structure, name: str) -> list[str]:
    return [d for d in structure.edges.get(name, ()) if d != END]


@dataclass(slots=True)
class Boundary:
    delta: dict[str, list[Any]]
    next: list[dict[str, Any]]
    barriers: dict[str, list[str]]
    values: dict[str, Any]


def boundary(
    structure: Structure, cp: Checkpoint, finished: list[tuple[TaskPlan, list[list[Any]]]],
    recorded: bool = False,
) -> Boundary:
    """Apply a step's writes (``finished`` in any order) and plan the next step.

    ``recorded``: every task's writes are in the log's open step, so a channel that an
    ``operator.add`` reducer extended by exactly those writes is stored as a reference
    to them (``["w"]``) instead of a second copy of the values.
    """
    if structure.triggers is not None:  # a Pregel graph: its channels decide what runs next
        return structure.state.boundary(cp, finished)  # type: ignore[attr-defined, no-any-return]
    if len(finished) > 1:
        finished = sorted(finished, key=lambda tw: path_key(tw[0].path))
    first: list[tuple[str, Any]] = []  # a Command input's: applied before the tasks' writes
    writes: list[tuple[str, Any]] = []
    pulls: set[str] = set()
    sends: list[Send] = []
    barriers = {k: list(v) for k, v in cp.barriers.items()}
    for task, task_writes in finished:
        if task.id == NULL_TASK:  # a Command input: its goto targets ran in this step
            first += [(channel, value) for channel, value in task_writes if channel != GOTO]
            continue
        for channel, value in task_writes:
            if channel == GOTO:
                _route(value, pulls, sends)
            else:
                writes.append((channel, value))
        pulls.update(successors(structure, task.name))
        if structure.joins:
            _join(structure, task.name, barriers)
    for join in structure.joins:
        if join.key in barriers and set(barriers[join.key]) >= set(join.sources):
            del barriers[join.key]
            if join.target != END:
                pulls.add(join.target)
    if structure.deferred:
        _defer(structure.deferred, pulls, barriers, real=any(t.id != NULL_TASK for t, _ in finished))
    new_values = _reduce_step(structure.state.channels, cp.values, first, writes)
    if structure.state.untracked:  # kept by the run, never stored (an update's too)
        new_values = {k: v for k, v in new_values.items() if k not in structure.state.untracked}
    changes: dict[str, list[Any]] = {}
    for key, value in new_values.items():
        old = cp.values.get(key, _ABSENT)
        if recorded and _extends(structure, key, old, value, writes):
            changes[key] = [WRITES]
            continue
        changes[key] = delta(old, value) or [SET, value]  # the same object: changed in place?
    values = {**cp.values, **new_values}
    nxt: list[dict[str, Any]] = [{"name": n, "path": ["pull", n]} for n in sorted(pulls)]
    nxt += [push_entry(i, s) for i, s in enumerate(sends)]
    return Boundary(changes, nxt, barriers, values)


def push_entry(index: int, send: Send) -> dict[str, Any]:
    """The next step's task a ``Send`` makes, as the checkpoint lists it (its timeout
    only when it has one: the task's limit instead of its node's)."""
    entry = {"name": send.node, "path": ["push", index], "arg": send.arg}
    if send.timeout is not None:
        entry["timeout"] = send.timeout
    return entry


def _route(targets: list[Any], pulls: set[str], sends: list[Send]) -> None:
    """A task's routing decisions (its ``GOTO`` write) into the next step's plan."""
    for target in targets:
        if isinstance(target, Send):
            sends.append(target)
        elif target != END:
            pulls.add(target)


DEFERRED = "__defer__"
"""The barrier key under which the deferred nodes that were triggered wait (sorted names)."""


def _defer(deferred: frozenset[str], pulls: set[str], barriers: dict[str, list[str]], *, real: bool) -> None:
    """Hold back the deferred nodes ``pulls`` names until no other node is planned.

    As LangGraph's ``LastValueAfterFinish`` channels: a triggered deferred node waits
    (durably, in the checkpoint's barriers) while other nodes are still triggered; once
    a step of tasks (``real``) plans no other node, the waiting ones run in the next
    step (beside any ``Send`` packets, which do not keep them waiting)."""
    waiting = set(barriers.pop(DEFERRED, ()))
    waiting |= pulls & deferred
    pulls -= deferred
    if waiting and real and not pulls:
        pulls |= waiting
    elif waiting:
        barriers[DEFERRED] = sorted(waiting)


def _join(structure: Structure, name: str, barriers: dict[str, list[str]]) -> None:
    """Record ``name`` in the join barriers it is a source of."""
    for join in structure.joins:
        if name in join.sources:
            seen = barriers.setdefault(join.key, [])
            if name not in seen:
                seen.append(name)


def _extends(structure: Structure, key: str, old: Any, new: Any, writes: list[tuple[str, Any]]) -> bool:
    """True if ``new`` is ``old`` + the step's writes to ``key`` (list ``operator.add``)."""
    channel = structure.state.channels[key]
    if channel.reducer is not operator.add or type(new) is not list:
        return False
    if type(old) is not list and not (old is _ABSENT and channel.initial is list):
        return False
    return all(type(v) is list for k, v in writes if k == key)


def path_key(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in path)


_ABSENT: Any = object()


def live_values(structure: Structure, cp: Checkpoint, ns: str = "") -> dict[str, Any]:
    """The state with the open step's recorded writes applied (a paused step's finished
    tasks, a Command input's update first), as ``invoke`` returns it mid-step."""
    values = structure.state.visible(cp.values)
    if not cp.writes:
        return values
    first = [(k, v) for k, v in cp.writes.get(NULL_TASK, ()) if k != GOTO]
    order = {t.id: i for i, t in enumerate(plan(cp, ns))}
    writes = [
        (k, v)
        for tid in sorted(cp.writes, key=lambda t: order.get(t, len(order)))
        if tid != NULL_TASK
        for k, v in cp.writes[tid] if k != GOTO
    ]
    values.update(_reduce_step(structure.state.channels, values, first, writes))
    return values


def _reduce_step(
    channels: dict[str, Any], values: dict[str, Any], first: list[tuple[str, Any]],
    writes: list[tuple[str, Any]],
) -> dict[str, Any]:
    """The channels a step changes: a Command input's writes (``first``) are applied
    before the tasks' ``writes``, so an Overwrite among them never drops a task's write."""
    if not first:
        return reduce_writes(channels, values, writes)
    changed = reduce_writes(channels, values, first)
    changed.update(reduce_writes(channels, {**values, **changed}, writes))
    return changed
