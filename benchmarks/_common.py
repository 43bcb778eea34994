"""What every workload gets: the cell's context, and small statistics helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._cli import Sizes
from ._stores import Stores


@dataclass(frozen=True)
class Ctx:
    engine: Any  # LographEngine or LangGraphEngine
    stores: Stores
    store: str
    mode: str
    sizes: Sizes
    key: str  # unique per cell: names its file, schema or database


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


class WrongResult(AssertionError):
    """An engine returned something other than what the graph computes."""
