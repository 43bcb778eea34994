"""Subgraphs: when a compiled graph called inside a running node nests in it.

A graph nests in the running task when it has no store of its own (or shares the
caller's): it then runs on the caller's log under its own namespace (the engine's
``Run.run_subgraph``), and its state is the caller's input narrowed to its own keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import TaskContext
from ._types import Command

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


def nests_in(graph: CompiledGraph, ctx: TaskContext) -> bool:
    """Run ``graph`` as a subgraph of the task ``ctx``: no store of its own, or the caller's."""
    return graph.inherits or ctx.run.shares_store(graph.checkpointer)


async def run_nested(graph: CompiledGraph, input: Any, ctx: TaskContext, config: dict[str, Any],
                     limit: int) -> Any:
    """Run ``graph`` inside the task ``ctx``; what its ``invoke`` returns."""
    given = input if input is None or isinstance(input, Command) else own_keys(graph, input)
    cp = await ctx.run.run_subgraph(
        graph.structure, ctx, given, name=graph.name,
        interrupt_before=graph.interrupt_before, interrupt_after=graph.interrupt_after,
        config=config, limit=limit,
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
