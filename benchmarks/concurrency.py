"""concurrent: the chain from 64 tasks at once (one anyio task group), fresh threads.

Each round, ``concurrent_tasks`` tasks each invoke one fresh thread, all at once;
steps/s is the median over the rounds of steps / the group's wall time. With lograph,
group commit should let the tasks share transactions: ``transactions`` vs ``appends``
says how much.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ._common import Ctx, check_chain, config, median, percentile
from .graphs import CHAIN_INPUT, CHAIN_LENGTH, chain_builder


class Concurrent:
    def __init__(self, ctx: Ctx, graph: Any, stats: Any) -> None:
        self.ctx, self.graph, self.stats = ctx, graph, stats
        self.rounds = ctx.sizes.concurrent_rounds
        self.tasks = ctx.sizes.concurrent_tasks
        self.latencies: list[float] = []
        self.rates: list[float] = []
        self.before: dict[str, Any] = {}

    async def _invoke(self, thread: str) -> None:
        t = time.perf_counter()
        out = await self.graph.ainvoke(CHAIN_INPUT, config(thread), durability=self.ctx.mode)
        self.latencies.append(time.perf_counter() - t)
        check_chain(out, thread)

    async def warm_up(self) -> None:
        for i in range(self.ctx.sizes.warmup):
            await self._invoke(f"warm-{i}")
        self.latencies.clear()
        self.before = self.stats()

    async def round(self, r: int) -> None:
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for w in range(self.tasks):
                tg.start_soon(self._invoke, f"r{r}-task-{w}")
        self.rates.append(self.tasks * CHAIN_LENGTH / (time.perf_counter() - start))

    async def finish(self) -> dict[str, Any]:
        after = self.stats()
        return {
            "tasks": self.tasks,
            "invokes": self.tasks * self.rounds,
            "steps": self.tasks * self.rounds * CHAIN_LENGTH,
            "steps_per_s": median(self.rates),
            "steps_per_s_rounds": self.rates,
            "p50_ms": percentile(self.latencies, 50) * 1e3,
            "p99_ms": percentile(self.latencies, 99) * 1e3,
            **{k: v - self.before.get(k, 0) for k, v in after.items()},
        }


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Concurrent]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        graph = chain_builder(ctx.engine.api).compile(checkpointer=saver)
        s = Concurrent(ctx, graph, lambda: ctx.engine.stats(saver))
        await s.warm_up()
        yield s
