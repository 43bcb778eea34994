"""fanout: one node, 8 parallel nodes appending to a reducer key, and a join.

``fan`` -> ``p0..p7`` (each appends its index to ``results: Annotated[list,
operator.add]``) -> ``join`` (waits for all eight, sums them). Fresh threads, one after
the other. steps/s counts node executions (10 per invoke, in 3 supersteps), as the
chain does; the output is checked (all eight results and their sum).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, Sequential, WrongResult, config
from .graphs import (
    FANOUT_INPUT,
    FANOUT_NODES,
    FANOUT_SUPERSTEPS,
    FANOUT_TOTAL,
    FANOUT_WIDTH,
    fanout_builder,
)


def check_fanout(out: Any, thread: str) -> None:
    if sorted(out["results"]) != list(range(FANOUT_WIDTH)) or out["total"] != FANOUT_TOTAL:
        raise WrongResult(f"thread {thread}: results={out['results']}, total={out['total']}")


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Sequential]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        graph = fanout_builder(ctx.engine.api).compile(checkpointer=saver)

        async def invoke(thread: str) -> Any:
            return await graph.ainvoke(FANOUT_INPUT, config(thread), durability=ctx.mode)

        s = _Fanout(ctx, invoke, check_fanout, threads=ctx.sizes.fanout_threads,
                    units=FANOUT_NODES, unit="steps", stats=lambda: ctx.engine.stats(saver))
        await s.warm_up()
        yield s


class _Fanout(Sequential):
    async def finish(self) -> dict[str, Any]:
        m = await super().finish()
        m["supersteps_per_s"] = m["steps_per_s"] * FANOUT_SUPERSTEPS / FANOUT_NODES
        return m
