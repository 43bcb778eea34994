"""Sizes and figures of the reliability tests (sweep, properties, bad inputs, load).

``LOGRAPH_RELIABILITY=full`` (or ``LOGRAPH_LARGE=1``) selects the larger size: every
crash point on both backends, more hypothesis examples, 200 threads for two minutes per
store and backend. The default size fits ``make test``. ``LOGRAPH_FIGURES=path`` makes the tests write what they did (crash
points swept, crashes survived, bad inputs tried, load held) to ``path`` as JSON, rewritten
after every test, for the README's figures.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

FULL = (
    os.environ.get("LOGRAPH_RELIABILITY", "").strip().lower() == "full"
    or os.environ.get("LOGRAPH_LARGE", "").strip() == "1"  # the "slow" marker's switch
)
SIZE = "full" if FULL else "default"

_lock = threading.Lock()
_figures: dict[str, Any] = {"size": SIZE}


def scale(default: T, full: T) -> T:
    """``full`` under LOGRAPH_RELIABILITY=full, else ``default``."""
    return full if FULL else default


#: the per-test timeout: pytest's default (120 s) in the default size
TIMEOUT = 120 if not FULL else 3600


def spread(items: list[T], keep: int) -> list[T]:
    """At most ``keep`` of ``items``, evenly spread, first and last included; deterministic."""
    if keep >= len(items):
        return list(items)
    if keep <= 1:
        return items[:1]
    step = (len(items) - 1) / (keep - 1)
    return [items[round(i * step)] for i in range(keep)]


def tally(section: str, /, **counts: int) -> None:
    """Add ``counts`` into ``section`` of the figures and write them out."""
    _update(section, counts, add=True)


def record(section: str, /, **values: Any) -> None:
    """Set ``values`` in ``section`` of the figures and write them out."""
    _update(section, values, add=False)


def _update(section: str, values: dict[str, Any], *, add: bool) -> None:
    with _lock:
        part = _figures.setdefault(section, {})
        for key, value in values.items():
            part[key] = part.get(key, 0) + value if add else value
        path = os.environ.get("LOGRAPH_FIGURES")
        if path:
            Path(path).write_text(json.dumps(_figures, indent=2, sort_keys=True) + "\n")


def rss_kib() -> int:
    """This process's resident set size in KiB (from /proc; no psutil)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")
