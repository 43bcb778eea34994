"""What every workload gets: the cell's context, the session protocol, statistics, checks.

A workload module exposes ``session(ctx)``: an async context manager that opens the
engine's saver at a fresh place, compiles the graph and warms up (none of it timed),
then yields a :class:`Session`. The runner calls ``round(r)`` for ``r`` in
``range(session.rounds)``, alternating engines round by round, and ``finish()`` once,
still inside the context, for the cell's metrics.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ._options import Sizes
from ._stores import Stores
from .graphs import CHAIN_LENGTH


@dataclass(frozen=True)
class Ctx:
    engine: Any  # LographEngine or LangGraphEngine
    stores: Stores
    store: str
    mode: str
    sizes: Sizes
    key: str  # unique per cell: names its file, schema or database


class Session(Protocol):
    rounds: int

    async def round(self, r: int) -> None: ...

    async def finish(self) -> dict[str, Any]: ...


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linearly interpolated."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def split(total: int, rounds: int) -> list[int]:
    """``total`` items in ``rounds`` nearly equal, non-empty parts."""
    rounds = max(1, min(rounds, total))
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]


class WrongResult(AssertionError):
    """An engine returned something other than what the graph computes."""


def check_chain(out: Any, thread: str) -> None:
    """The chain's output (``chain``, ``iochain``, ``concurrent``): every node counted."""
    if out["count"] != CHAIN_LENGTH:
        raise WrongResult(f"thread {thread}: count={out['count']}, expected {CHAIN_LENGTH}")


def messages(values: Any) -> int:
    """How many chat messages a state's values hold (``chat``, ``history``)."""
    return len((values or {}).get("messages", ()))


class Sequential:
    """Fresh threads invoked one after another, in rounds: throughput and latency.

    ``invoke(thread)`` runs one invoke and returns its output; ``check(output, thread)``
    raises WrongResult if it is not what the graph computes (a fast wrong answer must
    not pass as a figure). Throughput is the median of the rounds' rates; p50/p99 are
    over every invoke of every round.
    """

    def __init__(
        self, ctx: Ctx, invoke: Callable[[str], Awaitable[Any]], check: Callable[[Any, str], None],
        *, threads: int, units: int, unit: str, stats: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.ctx, self.invoke, self.check = ctx, invoke, check
        self.units, self.unit, self.stats = units, unit, stats
        self.sizes = split(threads, ctx.sizes.rounds)
        self.rounds = len(self.sizes)
        self.latencies: list[float] = []
        self.rates: list[float] = []
        self.seconds = 0.0
        self.before: dict[str, Any] = {}

    async def warm_up(self) -> None:
        for i in range(self.ctx.sizes.warmup):
            self.check(await self.invoke(f"warm-{i}"), f"warm-{i}")
        self.before = self.stats()

    async def round(self, r: int) -> None:
        n = self.sizes[r]
        start = time.perf_counter()
        for i in range(n):
            thread = f"r{r}-{i}"
            t = time.perf_counter()
            out = await self.invoke(thread)
            self.latencies.append(time.perf_counter() - t)
            self.check(out, thread)
        seconds = time.perf_counter() - start
        self.seconds += seconds
        self.rates.append(n * self.units / seconds)

    async def finish(self) -> dict[str, Any]:
        invokes = sum(self.sizes)
        after = self.stats()
        return {
            "invokes": invokes,
            self.unit: invokes * self.units,
            "seconds": self.seconds,
            f"{self.unit}_per_s": median(self.rates),
            f"{self.unit}_per_s_rounds": self.rates,
            "p50_ms": percentile(self.latencies, 50) * 1e3,
            "p99_ms": percentile(self.latencies, 99) * 1e3,
            "mean_ms": mean(self.latencies) * 1e3,
            **{k: v - self.before.get(k, 0) for k, v in after.items()},
        }
