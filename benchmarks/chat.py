"""chat: one thread, many turns; latency early vs late, storage bytes per turn.

Per turn ``ainvoke`` gets one user message and the one node appends a ~300-byte reply
to ``messages: Annotated[list, operator.add]``.

1. Warm-up turns on another thread (they also prepare every pooled connection), then
   the store's size.
2. ``chat_turns`` turns on the chat thread, in rounds (the other engine's rounds run
   in between, on its own thread and store), each timed: the latency curve. Then the
   store's size again: storage per turn = the growth / ``chat_turns`` (SQLite: the file
   plus -wal after a TRUNCATE checkpoint; PostgreSQL: ``pg_total_relation_size`` of the
   engine's tables; memory: not measured).
3. Growth, measured so that a burst of other work on the machine cannot pass for it:
   ``chat_edge`` more turns on the long thread ("late", after ``chat_turns`` turns of
   history) alternate with the first ``chat_edge`` turns of a new thread ("early").
   ``growth`` = median late / median early. (The first and last turns of step 2
   compared the same way are in the JSON as ``growth_sequential``.)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, WrongResult, config, median, messages, split
from ._stores import Place
from .graphs import chat_builder, chat_input

THREAD, EARLY = "chat", "chat-early"


class Chat:
    def __init__(self, ctx: Ctx, graph: Any, place: Place) -> None:
        self.ctx, self.graph, self.place = ctx, graph, place
        self.sizes = split(ctx.sizes.chat_turns, ctx.sizes.rounds)
        self.rounds = len(self.sizes) + 1  # the last one: early vs late
        self.latencies: list[float] = []
        self.early: list[float] = []
        self.late: list[float] = []
        self.turns = {THREAD: 0, EARLY: 0}
        self.before: int | None = None
        self.bytes: int | None = None

    async def _turn(self, thread: str, into: list[float]) -> None:
        self.turns[thread] += 1
        n = self.turns[thread]
        t = time.perf_counter()
        out = await self.graph.ainvoke(chat_input(n), config(thread), durability=self.ctx.mode)
        into.append(time.perf_counter() - t)
        if messages(out) != 2 * n:
            raise WrongResult(f"thread {thread} after {n} turns: {messages(out)} messages")

    async def warm_up(self) -> None:
        for i in range(self.ctx.sizes.chat_warmup):
            await self.graph.ainvoke(chat_input(i), config("warm-up"), durability=self.ctx.mode)
        self.before = await self.ctx.stores.storage_bytes(self.place)

    async def round(self, r: int) -> None:
        if r < len(self.sizes):
            for _ in range(self.sizes[r]):
                await self._turn(THREAD, self.latencies)
            return
        after = await self.ctx.stores.storage_bytes(self.place)
        if after is not None and self.before is not None:
            self.bytes = after - self.before
        for i in range(self.ctx.sizes.chat_edge):
            pair = [(EARLY, self.early), (THREAD, self.late)]
            for thread, into in pair[:: 1 if i % 2 == 0 else -1]:
                await self._turn(thread, into)

    async def finish(self) -> dict[str, Any]:
        lat, turns = self.latencies, self.ctx.sizes.chat_turns
        edge = min(self.ctx.sizes.chat_edge, max(1, len(lat) // 2))
        m: dict[str, Any] = {
            "turns": turns,
            "edge": self.ctx.sizes.chat_edge,
            "first_ms": median(self.early) * 1e3,
            "last_ms": median(self.late) * 1e3,
            "growth": median(self.late) / median(self.early),
            "growth_sequential": median(lat[-edge:]) / median(lat[:edge]),
            "p50_ms": median(lat) * 1e3,
            "latencies_ms": [x * 1e3 for x in lat],
        }
        if self.bytes is not None:
            m["storage_bytes"] = self.bytes
            m["bytes_per_turn"] = self.bytes / turns
        return m


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Chat]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        s = Chat(ctx, chat_builder(ctx.engine.api).compile(checkpointer=saver), place)
        await s.warm_up()
        yield s
