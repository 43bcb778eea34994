"""iochain: the chain with sync nodes that each block 2 ms (run on a worker thread).

What durability costs when nodes do real work: every invoke in the cell's mode is
paired with one in ``exit`` on the same saver (fresh threads; which of the pair runs
first alternates), so the ratio to ``exit`` compares invokes that saw the machine in
the same state. In the ``exit`` cell both sides are ``exit``: its ratio is the noise.

Metrics: p50/p99 per invoke in the mode; ``vs_exit``: the median over the pairs of
(latency in the mode / latency of its exit pair); ``added_ms_per_step``: the median
over the pairs of (latency in the mode - its exit pair's) / 10 steps. Paired medians:
a burst of other work on the machine hits both sides of a pair, and few pairs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, check_chain, config, mean, median, percentile, split
from .graphs import CHAIN_INPUT, CHAIN_LENGTH, io_chain_builder


class IoChain:
    def __init__(self, ctx: Ctx, graph: Any) -> None:
        self.ctx, self.graph = ctx, graph
        self.sizes = split(ctx.sizes.io_pairs, ctx.sizes.rounds)
        self.rounds = len(self.sizes)
        self.mode: list[float] = []  # latencies in the cell's mode
        self.exit: list[float] = []  # the paired latencies in exit

    async def _timed(self, thread: str, durability: str, into: list[float]) -> None:
        t = time.perf_counter()
        out = await self.graph.ainvoke(CHAIN_INPUT, config(thread), durability=durability)
        into.append(time.perf_counter() - t)
        check_chain(out, thread)

    async def warm_up(self) -> None:
        for i in range(self.ctx.sizes.warmup):
            await self._timed(f"warm-{i}", self.ctx.mode, [])
            await self._timed(f"warm-exit-{i}", "exit", [])

    async def round(self, r: int) -> None:
        for i in range(self.sizes[r]):
            pair = [(f"r{r}-{i}", self.ctx.mode, self.mode), (f"r{r}-{i}-exit", "exit", self.exit)]
            for thread, durability, into in pair[:: 1 if i % 2 == 0 else -1]:
                await self._timed(thread, durability, into)

    async def finish(self) -> dict[str, Any]:
        pairs = list(zip(self.mode, self.exit, strict=True))
        p50, base = percentile(self.mode, 50) * 1e3, percentile(self.exit, 50) * 1e3
        return {
            "invokes": len(self.mode),
            "p50_ms": p50,
            "p99_ms": percentile(self.mode, 99) * 1e3,
            "mean_ms": mean(self.mode) * 1e3,
            "exit_p50_ms": base,
            "vs_exit": median([a / b for a, b in pairs]),
            "vs_exit_of_p50s": p50 / base,
            "added_ms_per_step": median([a - b for a, b in pairs]) * 1e3 / CHAIN_LENGTH,
            "steps_per_s": CHAIN_LENGTH / mean(self.mode),
        }


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[IoChain]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        s = IoChain(ctx, io_chain_builder(ctx.engine.api).compile(checkpointer=saver))
        await s.warm_up()
        yield s
