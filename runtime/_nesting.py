"""Subgraphs: when a compiled graph called inside a running node nests in it.

As in LangGraph, a graph called inside a running task (a node, an entrypoint, a
``@task``) nests in it unless the call's config names a thread of its own: it then runs
on the caller's log under its own namespace (the engine's ``Run.run_subgraph``), on the
caller's store whatever store it was compiled with, and its state is the caller's input
narrowed to its own keys. A config whose ``thread_id`` differs from the caller's runs
the graph as a run of its own on that thread (its own store, or none).

What a nested graph keeps is its ``compile(checkpointer=...)``: ``None`` or a store,
its state for the caller's step (a resume continues it); ``True``, its state per thread
across the caller's steps and runs; ``False``, nothing.

A subgraph's own checkpoint (``checkpoint_ns`` and ``checkpoint_id`` of a subgraph, as
``get_state(subgraphs=True)`` gives them) is a point of the top graph's log like any
other, so the top graph runs from it (``at_subgraph_checkpoint``):

- ``invoke(None, config)`` replays from it: a new branch from that event, whose ``fork``
  checkpoint of the top graph (the step the subgraph ran in, planned again) is followed
  by a ``fork`` checkpoint of each graph down to the addressed one, copying its state
  there; the caller's task runs again and each subgraph continues from its copy (its
  nodes before that checkpoint do not run again; its step's questions are asked again).
  The checkpoint at the thread's head (nothing after it) runs in place.
- ``invoke(Command(resume=...), config)`` answers the thread's head when the addressed
  checkpoint is where the subgraph is there (or a replay's copy of it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import CheckpointBody, Source
from lograph.eventlog.lowlevel import SET

from ._context import TaskContext
from ._errors import ResumeError
from ._step import plan
from ._tracing import task_ns
from ._types import Command

if TYPE_CHECKING:
    from ._actor import ThreadActor
    from ._compiled import CompiledGraph
    from ._engine import Run


_COORDINATES = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def nests_in(ctx: TaskContext, config: dict[str, Any] | None) -> bool:
    """Run a graph called with ``config`` as a subgraph of the task ``ctx``: unless the
    config names a checkpoint coordinate other than the caller's own thread (passing
    the caller's config on, as LangGraph's documentation does, still nests; so does the
    config the task itself was given, which names the task's namespace, as a Runnable
    node passes it to a graph inside it)."""
    given = (config or {}).get("configurable") or {}
    own = ctx.run.config.get("configurable") or {}
    return all(given.get(k) in (None, "") or str(given[k]) == str(own.get(k))
               or (k == "checkpoint_ns" and given[k] == task_ns(ctx.run, ctx)) for k in _COORDINATES)


async def run_nested(graph: CompiledGraph, input: Any, ctx: TaskContext, config: dict[str, Any],
                     limit: int) -> Any:
    """Run ``graph`` inside the task ``ctx``; what its ``invoke`` returns."""
    given = input if input is None or isinstance(input, Command) else own_keys(graph, input)
    cp = await ctx.run.run_subgraph(
        graph.structure, ctx, given, name=graph.name,
        interrupt_before=graph.interrupt_before, interrupt_after=graph.interrupt_after,
        config=config, limit=limit, keep=graph.keeps, stateless=graph.stateless,
    )
    return graph.io.output(graph, cp)


def own_keys(graph: CompiledGraph, value: Any) -> Any:
    """A caller's state as ``graph``'s input: the keys ``graph`` has."""
    if not isinstance(value, dict):
        if hasattr(value, "model_dump"):
            value = {k: getattr(value, k) for k in type(value).model_fields}
        elif hasattr(value, "__dataclass_fields__"):
            value = {k: getattr(value, k) for k in value.__dataclass_fields__}
        else:
            return value
    channels = graph.structure.state.channels
    return {k: v for k, v in value.items() if k in channels}


Reopen = Callable[["Run"], None]
"""Seals, after a replay's ``fork`` checkpoint, the forks of the subgraphs it reopens."""


async def at_subgraph_checkpoint(
    actor: ThreadActor, head: Checkpoint, ns: str, seq: int, input: Any,
) -> tuple[Checkpoint, Any, Reopen] | None:
    """Where a run addressed at the checkpoint ``seq`` of the subgraph at ``ns`` starts:
    None for the thread's head (an answer to what waits there, or the head itself), or
    the fold at ``seq``, the snapshot it came from and what reopens the subgraphs after
    the fork. ValueError or ResumeError for an input that does not fit (nothing written)."""
    child = head.children.get(ns)
    current = child is not None and (child.checkpoint == seq or (
        child.metadata.get("source") == Source.FORK and child.parent_checkpoint == seq))
    if isinstance(input, Command):
        if input.resume is None or input.update is not None or input.goto:
            raise ValueError("a subgraph's checkpoint is replayed with invoke(None, config) or "
                             "answered with Command(resume=...); update it with update_state")
        if not current:
            raise ResumeError(
                f"the subgraph at {ns!r} has moved on from checkpoint {seq}: nothing there waits "
                "for an answer; replay it first with invoke(None, config)")
        return None
    if input is not None:
        raise ValueError("a subgraph's checkpoint is replayed with invoke(None, config): a new "
                         "input starts at the top graph's checkpoint (checkpoint_ns '')")
    if seq == head.head:
        return None  # nothing after it: run on from the head
    at, base = await actor.load_branch(seq)
    kept = at.copy()  # (the run's journal folds on ``at`` itself)
    return at, base, lambda run: _reopen(run, kept, ns)


def _reopen(run: Run, at: Checkpoint, ns: str) -> None:
    """After the top graph's ``fork`` checkpoint: a ``fork`` checkpoint for each graph
    down to ``ns``, copying its state at ``at``. A namespace with a task id gets the id of
    the same task in the new step (its caller's fork planned it again)."""
    journal, metadata = run.journal, run.machine.metadata
    parts = ns.split("|")
    new_parts = list(parts)
    for i, part in enumerate(parts):
        if ":" in part:
            renamed = _same_task(at, "|".join(parts[:i]), journal.cp, "|".join(new_parts[:i]), part)
            if renamed is None:
                return  # its caller does not run it again here: it starts afresh
            new_parts[i] = renamed
        child = at.children.get("|".join(parts[: i + 1]))
        if child is None or not child.checkpoint:
            continue
        body = CheckpointBody(Source.FORK, {k: [SET, v] for k, v in child.values.items()},
                              list(child.next), dict(child.barriers), metadata)
        journal.add(body, child.step + 1, "", run.run_id, "|".join(new_parts[: i + 1]))


def _same_task(at: Checkpoint, old_ns: str, now: Checkpoint, new_ns: str, part: str) -> str | None:
    """``part`` (``"<node>:<task id>"``) with the id of the task that has the same
    path in the step its caller's fork planned again (None: no such task)."""
    name, old_id, *rest = part.split(":")
    before = at.children.get(old_ns) if old_ns else at
    after = now.children.get(new_ns) if new_ns else now
    if before is None or after is None:
        return None
    path = next((t.path for t in plan(before, old_ns) if t.id == old_id), None)
    new_id = next((t.id for t in plan(after, new_ns) if t.path == path), None)
    return None if new_id is None else ":".join([name, new_id, *rest])
