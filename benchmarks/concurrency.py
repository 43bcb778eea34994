"""concurrent: the chain from many tasks at once (one anyio task group), fresh threads.

``concurrent_tasks`` tasks each invoke ``concurrent_rounds`` fresh threads in turn;
steps/s is over the whole group. With lograph, group commit should let the tasks
share transactions: ``transactions`` vs ``appends`` says how much.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from ._common import Ctx, WrongResult, config, percentile
from .graphs import CHAIN_INPUT, CHAIN_LENGTH, chain_builder


async def run(ctx: Ctx) -> dict[str, Any]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    tasks, rounds = ctx.sizes.concurrent_tasks, ctx.sizes.concurrent_rounds
    latencies: list[float] = []
    async with ctx.engine.saver(place) as saver:
        graph = chain_builder(ctx.engine.api).compile(checkpointer=saver)
        for i in range(ctx.sizes.warmup):
            await graph.ainvoke(CHAIN_INPUT, config(f"warm-{i}"), durability=ctx.mode)
        before = ctx.engine.stats(saver)

        async def worker(w: int) -> None:
            for r in range(rounds):
                thread = f"task-{w}-{r}"
                t = time.perf_counter()
                out = await graph.ainvoke(CHAIN_INPUT, config(thread), durability=ctx.mode)
                latencies.append(time.perf_counter() - t)
                if out["count"] != CHAIN_LENGTH:
                    raise WrongResult(f"thread {thread}: count={out['count']}, expected {CHAIN_LENGTH}")

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for w in range(tasks):
                tg.start_soon(worker, w)
        seconds = time.perf_counter() - start
        after = ctx.engine.stats(saver)
    steps = tasks * rounds * CHAIN_LENGTH
    extra = {k: after[k] - before.get(k, 0) for k in after}
    return {
        "tasks": tasks,
        "invokes": tasks * rounds,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        **extra,
    }
