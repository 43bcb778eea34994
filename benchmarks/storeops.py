"""store: the long-term memory Store's operations over ``store_items`` items.

No graph and no durability mode: each engine's Store on the cell's store kind (lograph's
``InMemoryStore``/``AsyncSqliteStore``/``AsyncPostgresStore``; LangGraph's, see
``lg_engine.py``), driven through the async API one call at a time. Rounds: the first
``store_rounds`` put the items (``aput``, one item per call, ``store_items /
store_rounds`` per round) in 100 namespaces ``("users", "u<k>")``; then as many read
rounds, each timing ``store_gets`` ``aget`` calls of random items and searches:

- ``search_ns`` (``store_searches`` of them): one user's namespace (100 items) with
  ``filter={"kind": "b"}``, limit 10;
- ``search_all`` (``store_wide_searches``): the prefix ``("users",)`` (every item) with
  the same filter, limit 10.

Figures: calls per second, the median of the rounds. Every answer is checked (the
right item, ten items of the right kind and namespace).
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._common import Ctx, WrongResult, median, split

USERS = 100
KINDS = ("a", "b", "c", "d")


def _value(i: int) -> dict[str, Any]:
    return {"text": f"memory {i}: the user mentioned item {i * 7919 % 10007}",
            "kind": KINDS[i // USERS % 4], "n": i}


def _where(i: int) -> tuple[tuple[str, str], str]:
    return ("users", f"u{i % USERS}"), f"m{i}"


class StoreOps:
    def __init__(self, ctx: Ctx, store: Any) -> None:
        self.ctx, self.store = ctx, store
        sizes = ctx.sizes
        self.parts = split(sizes.store_items, sizes.store_rounds)
        self.items = sum(self.parts)
        self.rounds = 2 * len(self.parts)
        self.rates: dict[str, list[float]] = {}
        self.put = 0

    def _rate(self, metric: str, calls: int, seconds: float) -> None:
        self.rates.setdefault(metric, []).append(calls / seconds)

    async def _puts(self, n: int) -> None:
        start = time.perf_counter()
        for i in range(self.put, self.put + n):
            ns, key = _where(i)
            await self.store.aput(ns, key, _value(i))
        self._rate("put_per_s", n, time.perf_counter() - start)
        self.put += n

    async def _gets(self, r: int) -> None:
        picks = random.Random(r).choices(range(self.items), k=self.ctx.sizes.store_gets)
        start = time.perf_counter()
        got = [await self.store.aget(*_where(i)) for i in picks]
        self._rate("get_per_s", len(picks), time.perf_counter() - start)
        for i, item in zip(picks, got, strict=True):
            if item is None or item.value != _value(i):
                raise WrongResult(f"aget of item {i}: {item!r}")

    async def _searches(self, r: int, metric: str, wide: bool) -> None:
        sizes = self.ctx.sizes
        users = random.Random(r).choices(range(USERS), k=sizes.store_wide_searches if wide else sizes.store_searches)
        start = time.perf_counter()
        found = [await self.store.asearch(("users",) if wide else ("users", f"u{u}"),
                                          filter={"kind": "b"}, limit=10) for u in users]
        self._rate(metric, len(users), time.perf_counter() - start)
        kinds_b = [i for i in range(self.items) if _value(i)["kind"] == "b"]
        for u, items in zip(users, found, strict=True):
            matching = len(kinds_b) if wide else sum(1 for i in kinds_b if i % USERS == u)
            if len(items) != min(10, matching) or any(it.value["kind"] != "b" for it in items) or (
                    not wide and any(it.namespace != ("users", f"u{u}") for it in items)):
                raise WrongResult(f"search of user {u} (wide={wide}): {items!r}")

    async def round(self, r: int) -> None:
        if r < len(self.parts):
            await self._puts(self.parts[r])
            return
        await self._gets(r)
        await self._searches(r, "search_ns_per_s", wide=False)
        await self._searches(r, "search_all_per_s", wide=True)

    async def finish(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"items": self.items}
        for metric, rates in self.rates.items():
            metrics[metric] = median(rates)
            metrics[f"{metric}_rounds"] = rates
        return metrics


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[StoreOps]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.store(place) as store:
        yield StoreOps(ctx, store)
