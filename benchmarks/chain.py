"""chain: 10 async nodes in a line; fresh threads invoked one after the other.

Reports steps/s (10 steps per invoke) and p50/p99 latency per invoke. Each invoke's
result is checked (``count == 10``) so a fast wrong answer cannot pass as a figure.
"""

from __future__ import annotations

import time
from typing import Any

from ._common import Ctx, WrongResult, config, mean, percentile
from .graphs import CHAIN_INPUT, CHAIN_LENGTH, chain_builder


async def run(ctx: Ctx) -> dict[str, Any]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    n = ctx.sizes.chain_threads
    async with ctx.engine.saver(place) as saver:
        graph = chain_builder(ctx.engine.api).compile(checkpointer=saver)
        for i in range(ctx.sizes.warmup):
            await graph.ainvoke(CHAIN_INPUT, config(f"warm-{i}"), durability=ctx.mode)
        latencies: list[float] = []
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            out = await graph.ainvoke(CHAIN_INPUT, config(f"chain-{i}"), durability=ctx.mode)
            latencies.append(time.perf_counter() - t)
            if out["count"] != CHAIN_LENGTH:
                raise WrongResult(f"thread chain-{i}: count={out['count']}, expected {CHAIN_LENGTH}")
        seconds = time.perf_counter() - start
        stats = ctx.engine.stats(saver)
    return {
        "invokes": n,
        "steps": n * CHAIN_LENGTH,
        "seconds": seconds,
        "steps_per_s": n * CHAIN_LENGTH / seconds,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "mean_ms": mean(latencies) * 1e3,
        **stats,
    }
