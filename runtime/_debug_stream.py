"""The ``checkpoints`` and ``tasks`` stream modes (and ``debug``, the two wrapped).

LangGraph's payloads, built from a run's fold only when one of these modes is streamed:

- ``checkpoints``: per checkpoint the run seals, ``{"config", "parent_config", "values",
  "metadata", "next", "tasks"}`` (each planned task: ``id``, ``name``, ``interrupts``,
  ``state``: the config of its subgraph's namespace when the node is or calls a graph);
- ``tasks``: a task's start ``{"id", "name", "input", "triggers"}`` and its result
  ``{"id", "name", "error", "result", "interrupts"}`` (``result``: its writes by channel,
  ``{"$writes": [...]}`` for a channel written more than once);
- ``debug``: each of those as ``{"step", "timestamp", "type", "payload"}`` (``type``:
  ``checkpoint``, ``task`` or ``task_result``).

No I/O; nothing here is written to the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lograph.eventlog.bodies import GOTO, START

from ._introspect import subgraph_of_node

if TYPE_CHECKING:
    from lograph.eventlog import Checkpoint

    from ._engine import Emit
    from ._step import TaskPlan
    from ._structure import Structure
    from ._types import Interrupt



def trace(emit: Emit, mode: str, payload: dict[str, Any], step: int) -> None:
    """Send ``payload`` to the ``checkpoints`` or ``tasks`` stream and, wrapped, to ``debug``."""
    emit(mode, payload)
    kind = "checkpoint" if mode == "checkpoints" else "task_result" if "result" in payload else "task"
    emit("debug", {"step": step, "timestamp": datetime.now(UTC).isoformat(), "type": kind,
                   "payload": payload})


def checkpoint_payload(structure: Structure, thread: str, ns: str, cp: Checkpoint) -> dict[str, Any]:
    """The ``checkpoints`` payload of the fold ``cp`` just after its checkpoint."""
    base = {"thread_id": thread, "checkpoint_ns": ns}
    parents = cp.metadata.get("parents") or {}
    parent = cp.parent_id

    def config(checkpoint: str | None) -> dict[str, Any]:
        mapped = {"checkpoint_map": {**parents, ns: checkpoint}} if parents else {}
        return {"configurable": {**base, "checkpoint_id": checkpoint, **mapped}}

    tasks = []
    for t in cp.next:
        name = str(t["name"])
        spec = structure.nodes.get(name)
        state = None
        if spec is not None and subgraph_of_node(spec) is not None:
            child = f"{name}:{_task_id(cp, ns, t)}"
            state = {"configurable": {"thread_id": thread,
                                      "checkpoint_ns": f"{ns}|{child}" if ns else child}}
        tasks.append({"id": _task_id(cp, ns, t), "name": name, "interrupts": (), "state": state})
    return {
        "config": config(cp.id),
        "parent_config": config(parent) if parent else None,
        "values": structure.state.output(cp.values),
        "metadata": dict(cp.metadata),
        "next": [str(t["name"]) for t in cp.next],
        "tasks": tasks,
    }


def _task_id(cp: Checkpoint, ns: str, planned: dict[str, Any]) -> str:
    from lograph.eventlog.lowlevel import task_id

    return task_id(cp.checkpoint_hash, ns, tuple(planned["path"]))


def task_payload(structure: Structure, task: TaskPlan, state: Any) -> dict[str, Any]:
    """A task's start: what it is given, and the channels that triggered it (as
    LangGraph names them: ``branch:to:<node>``, a join's key, ``__pregel_push``)."""
    if task.push:
        triggers: tuple[str, ...] = ("__pregel_push",)
    elif structure.direct_input:  # an entrypoint's function: the input triggers it
        triggers = (START,)
        state = state.get("__input__") if isinstance(state, dict) else state
    else:
        joins = [j.key for j in structure.joins if j.target == task.name]
        edged = any(task.name in targets for targets in structure.edges.values()) or bool(structure.branches)
        triggers = tuple(sorted({*([f"branch:to:{task.name}"] if edged or not joins else []), *joins}))
    return {"id": task.id, "name": task.name, "input": state, "triggers": triggers}


def result_payload(task: TaskPlan, writes: list[list[Any]] | None = None, *,
                   error: BaseException | None = None,
                   interrupts: list[Interrupt] | None = None) -> dict[str, Any]:
    """A task's result: its writes by channel, or its error, or its interrupts."""
    result: dict[str, Any] = {}
    for channel, value in writes or ():
        if channel == GOTO:
            continue
        if channel in result:
            before = result[channel]
            seen = before["$writes"] if isinstance(before, dict) and "$writes" in before else [before]
            result[channel] = {"$writes": [*seen, value]}
        else:
            result[channel] = value
    return {"id": task.id, "name": task.name, "error": error, "result": result,
            "interrupts": [{"value": i.value, "id": i.id, "response_schema": i.response_schema}
                           for i in interrupts or ()]}
