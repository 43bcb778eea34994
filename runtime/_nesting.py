"""Subgraphs: a compiled graph run inside a node's task, on its caller's log.

Rules:
- A graph nests in the running task when it has no store of its own (or the caller's):
  its events are sealed on the caller's branch under its own namespace
  ``"<node>:<task id>"`` (``|``-joined when deeper; ``:<i>`` for the i-th graph a task
  runs after the first), so its state is folded apart from the caller's.
- When the caller's task runs again (a resume, a crash), the subgraph folds what it
  already did from the log and continues: its finished nodes do not run again.
- Its durability points are the caller's; a pause inside it pauses the caller's task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import GraphInterrupt, TaskContext
from ._engine import Run
from ._errors import EmptyInputError
from ._journal import SubJournal
from ._types import Command, Interrupt

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


def nests_in(graph: CompiledGraph, ctx: TaskContext) -> bool:
    """Run ``graph`` as a subgraph of the task ``ctx``: no store of its own, or the caller's."""
    journal = ctx.run.journal
    root = journal.root if isinstance(journal, SubJournal) else journal
    return graph.inherits or graph.checkpointer is root.saver


async def run_nested(graph: CompiledGraph, input: Any, ctx: TaskContext, config: dict[str, Any],
                     limit: int) -> Any:
    """Run ``graph`` inside the task ``ctx``, on the caller's log, under its own namespace."""
    parent = ctx.run
    index = ctx.subgraphs
    ctx.subgraphs += 1
    part = f"{ctx.name}:{ctx.task_id}" + (f":{index}" if index else "")
    ns = f"{parent.ns}|{part}" if parent.ns else part
    journal = parent.journal
    journal = SubJournal(journal.root if isinstance(journal, SubJournal) else journal, ns)
    cp = journal.cp
    resuming = bool(cp.checkpoint)

    def emit(mode: str, chunk: Any, deeper: str = "") -> None:
        parent.emit(mode, chunk, deeper or ns)  # the top stream keeps what it asked for

    run = Run(
        graph.structure, journal, config=config, run_id=parent.run_id, ns=ns, emit=emit,
        interrupt_before=graph.interrupt_before, interrupt_after=graph.interrupt_after,
        metadata=parent.metadata, recursion_limit=limit, checkpointed=parent.checkpointed,
    )
    if not resuming:
        if input is None or isinstance(input, Command):
            raise EmptyInputError(f"subgraph {graph.name!r} was given no input")
        run.seal_checkpoint(run.machine.given(cp, own_keys(graph, input)))
    status = await run.steps(resuming=resuming)
    if status == "interrupted":
        cp = journal.cp
        raise GraphInterrupt([Interrupt(v["value"], iid) for iid, v in cp.interrupts.items()])
    return graph.io.output(graph, journal.cp)


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
