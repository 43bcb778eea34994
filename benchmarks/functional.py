"""functional: an ``@entrypoint`` awaiting 10 ``@task`` calls, one after another.

The same code on both engines (``graphs.functional_builder`` takes the engine's
``task`` and ``entrypoint``). Fresh threads, one after the other; tasks/s counts task
calls (10 per invoke). Each invoke's return value is checked (``10``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, Sequential, WrongResult, config
from .graphs import FUNCTIONAL_TASKS, functional_builder


def check_functional(out: Any, thread: str) -> None:
    if out != FUNCTIONAL_TASKS:
        raise WrongResult(f"thread {thread}: returned {out!r}, expected {FUNCTIONAL_TASKS}")


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Sequential]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        workflow = functional_builder(ctx.engine.api, saver)

        async def invoke(thread: str) -> Any:
            return await workflow.ainvoke(0, config(thread), durability=ctx.mode)

        s = Sequential(ctx, invoke, check_functional, threads=ctx.sizes.functional_threads,
                       units=FUNCTIONAL_TASKS, unit="tasks", stats=lambda: ctx.engine.stats(saver))
        await s.warm_up()
        yield s
