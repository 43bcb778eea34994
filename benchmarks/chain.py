"""chain: 10 async nodes in a line; fresh threads invoked one after the other.

Reports steps/s (10 steps per invoke; the median of the rounds) and p50/p99 latency
per invoke. Each invoke's result is checked (``count == 10``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, Sequential, check_chain, config
from .graphs import CHAIN_INPUT, CHAIN_LENGTH, chain_builder


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Sequential]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        graph = chain_builder(ctx.engine.api).compile(checkpointer=saver)

        async def invoke(thread: str) -> Any:
            return await graph.ainvoke(CHAIN_INPUT, config(thread), durability=ctx.mode)

        s = Sequential(ctx, invoke, check_chain, threads=ctx.sizes.chain_threads,
                       units=CHAIN_LENGTH, unit="steps", stats=lambda: ctx.engine.stats(saver))
        await s.warm_up()
        yield s
