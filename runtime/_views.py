"""Snapshot views: a fold (``Checkpoint``) as the ``StateSnapshot`` users see.

Pure functions of a fold and a graph's structure; no I/O. ``graph`` None shows a
subgraph's values as stored (a graph invoked inside a node's code is not known here).
"""

from __future__ import annotations

import copy
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import GOTO, START
from lograph.eventlog.lowlevel import utc_time

from ._channels import ROOT
from ._introspect import subgraph_of_node
from ._resume import interrupt_of
from ._step import TaskPlan, live_values, plan, recast, step_values
from ._tracing import langgraph_path
from ._types import OVERWRITE, Interrupt, Overwrite, PregelTask, StateSnapshot, is_overwrite

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


def _iso(ts: float) -> str:
    try:  # (the common case inline: one per snapshot of a history)
        return datetime.fromtimestamp(ts, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return utc_time(ts)


def snapshot_of(
    graph: CompiledGraph | None, thread: str, ns: str, cp: Checkpoint, *, live: bool,
    subgraphs: bool = False, root: Checkpoint | None = None,
) -> StateSnapshot:
    """``cp`` as a StateSnapshot; ``graph`` None shows a subgraph's values as stored."""
    base = {"thread_id": thread, "checkpoint_ns": ns}
    if not cp.checkpoint:
        return StateSnapshot({}, (), {"configurable": base}, None, None, None, (), ())
    tasks = _shown_order(graph, plan(cp, ns, commands=live))
    by_task: dict[str, list[Interrupt]] = {}
    for iid, item in cp.interrupts.items():
        by_task.setdefault(item["task_id"], []).append(interrupt_of(iid, item))
    children = root.children if root is not None else {}

    def state_of(t: TaskPlan) -> Any:
        sub = subgraph_of(graph, t.name) if graph is not None else None
        if sub is None:
            return None
        task_ns = f"{ns}|{t.name}:{t.id}" if ns else f"{t.name}:{t.id}"
        if not subgraphs:  # as LangGraph: where to read it
            return {"configurable": {"thread_id": thread, "checkpoint_ns": task_ns}}
        child_ns = recast(task_ns) if sub.keeps else task_ns
        child = children.get(child_ns) or Checkpoint()
        return snapshot_of(sub, thread, child_ns, child, live=True, subgraphs=True, root=root)

    key = graph.structure.state.output_key if graph is not None else None

    def result_of(t: TaskPlan) -> Any:
        """What the task wrote (the input, for ``__start__``); of a state of one value
        (or an entrypoint's), that value, as LangGraph shows it."""
        if t.id in cp.writes:
            out = _result(cp.writes[t.id])
        elif t.name == START and key == ROOT:
            return copy.copy(t.arg)  # the input is the value
        elif t.name == START and isinstance(t.arg, dict):
            out = dict(t.arg)
        else:
            return None
        if key is None or (t.name == START and key not in out):  # (an entrypoint's input step)
            return out
        return out.get(key)

    pregel = tuple(
        PregelTask(
            t.id, t.name, langgraph_path(tuple(t.path)),
            error=cp.errors.get(t.id), interrupts=tuple(by_task.get(t.id, ())),
            state=state_of(t), result=result_of(t),
        )
        for t in tasks
    )
    if live:
        values = graph.structure.state.output(live_values(graph.structure, cp, ns)) if graph is not None else cp.values
        nxt = tuple(t.name for t in tasks if t.id not in cp.writes)
    else:
        # (as LangGraph: a Command input's update applied, the tasks' writes not)
        values = graph.structure.state.output(step_values(graph.structure, cp)) if graph is not None else cp.values
        nxt = tuple(t.name for t in tasks)
    parent = cp.parent_id
    parents = cp.metadata.get("parents") if ns else None

    def config(checkpoint: str | None) -> dict[str, Any]:
        """As LangGraph's: a subgraph's names the checkpoint of each graph around it."""
        if not parents:
            return {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": checkpoint}}
        return {"configurable": {**base, "checkpoint_id": checkpoint,
                                 "checkpoint_map": {**parents, ns: checkpoint}}}

    return StateSnapshot(
        detached(values) if isinstance(values, dict)
        else values.copy() if isinstance(values, _PLAIN_CONTAINERS) else values,
        nxt, config(cp.id), dict(cp.metadata), _iso(cp.created_at),
        config(parent) if parent else None,
        pregel, tuple(i for p in pregel for i in p.interrupts),
    )


def _shown_order(graph: CompiledGraph | None, tasks: list[TaskPlan]) -> list[TaskPlan]:
    """A snapshot's tasks (and ``next``) as LangGraph lists them: the ``Send`` tasks in
    the order sent, then the triggered nodes in the order the graph declares them.
    (The engine applies writes in task-path order; this is only how they are shown.)"""
    if graph is None or len(tasks) < 2:
        return tasks
    declared = {name: i for i, name in enumerate(graph.structure.nodes)}
    return sorted(tasks, key=lambda t: (0, t.path[1]) if t.push else (1, declared.get(t.name, -1)))


def detached(values: dict[str, Any]) -> dict[str, Any]:
    """Values handed to callers: containers copied, so appending to a returned list (or
    setting a key of a returned dict) cannot change the thread's cached state."""
    return {k: _copied(v) if isinstance(v, _PLAIN_CONTAINERS) else v for k, v in values.items()}


def _copied(value: Any) -> Any:
    """A shallow copy of the same type: ``dict.copy`` of a subclass would be a plain dict."""
    return value.copy() if type(value) in _PLAIN_CONTAINERS else copy.copy(value)


_PLAIN_CONTAINERS = (list, dict, set, deque)


def _result(writes: list[list[Any]]) -> dict[str, Any]:
    """A task's writes as it returned them (an Overwrite is stored in its plain spelling);
    a key it wrote more than once as ``{"$writes": [...]}``, as LangGraph shows it."""
    out: dict[str, Any] = {}
    for k, v in writes:
        if k == GOTO:
            continue
        v = Overwrite(v[OVERWRITE]) if is_overwrite(v) else v
        if k in out:
            seen = out[k]
            out[k] = {"$writes": [*(seen["$writes"] if _many(seen) else [seen]), v]}
        else:
            out[k] = v
    return out


def _many(value: Any) -> bool:
    return type(value) is dict and len(value) == 1 and "$writes" in value




def read_as(graph: CompiledGraph, cp: Checkpoint) -> Checkpoint:
    """A subgraph's fold read with ``graph``'s channels, as LangGraph reads a namespace
    whose graph it does not know (one a tool invokes) with the caller's: keys ``graph``
    lacks are left out, of the values and of the open step's writes."""
    channels = graph.structure.state.channels
    out = cp.copy()
    out.values = {k: v for k, v in cp.values.items() if k in channels}
    out.writes = {t: [w for w in ws if w[0] in channels or w[0] == GOTO] for t, ws in cp.writes.items()}
    return out


def graph_output(graph: CompiledGraph, cp: Checkpoint) -> Any:
    """What ``invoke`` returns at ``cp``: the live values (an open step's recorded writes
    applied), the output schema's keys, and the pending interrupts (a state without
    keys: its value, or with interrupts, the value's keys if it is a dict)."""
    values = detached(live_values(graph.structure, cp))
    if graph.structure.state.kind == "root":
        root = values.get(ROOT)
        if not cp.interrupts:
            return root
        values = dict(root) if isinstance(root, dict) else {}  # LangGraph: a non-dict value is left out
    returns = graph.structure.state.returns
    if returns is not None:
        values = {k: values[k] for k in returns if k in values}
    if cp.interrupts:
        values["__interrupt__"] = [interrupt_of(iid, v) for iid, v in cp.interrupts.items()]
    return values


def subgraph_of(graph: CompiledGraph, node: str) -> CompiledGraph | None:
    """The compiled graph node ``node`` is or calls (found in its function's names, as
    LangGraph's ``get_subgraphs`` finds it), if any; None for ``checkpointer=False``."""
    known = graph.node_subgraphs
    if node not in known:
        spec = graph.structure.nodes.get(node)
        known[node] = subgraph_of_node(spec) if spec is not None else None
    return known[node]

