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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import TaskContext
from ._types import Command

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


_COORDINATES = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def nests_in(ctx: TaskContext, config: dict[str, Any] | None) -> bool:
    """Run a graph called with ``config`` as a subgraph of the task ``ctx``: unless the
    config names a checkpoint coordinate other than the caller's own thread (passing
    the caller's config on, as LangGraph's documentation does, still nests)."""
    given = (config or {}).get("configurable") or {}
    own = ctx.run.config.get("configurable") or {}
    return all(given.get(k) in (None, "") or str(given[k]) == str(own.get(k)) for k in _COORDINATES)


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
