"""Ids made inside replayed code paths: derived from the log, so a replay makes the same.

Rules:
- A step boundary (and ``update_state``'s) is code the replay verifier runs again:
  the reducers there may need new ids (``add_messages`` gives an id-less message one).
  Inside such a path, ``uuid4()`` derives its ids from the checkpoint the step starts
  at (its chain hash), the graph's namespace and a counter, so the live run and any
  replay of the same log make the same ids in the same order.
- Outside such a path (a node's own code, a state computed only to be shown), ids are
  random: nothing replays them, and what a node returns is recorded as it returned it.
- No clock is read inside replayed code paths: an event's time is in its header,
  sealed by the journal, never in a body the verifier recomputes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class _Derived:
    __slots__ = ("count", "seed")

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.count = 0

    def next(self) -> str:
        digest = hashlib.sha256(self.seed + self.count.to_bytes(8, "big")).digest()
        self.count += 1
        return str(uuid.UUID(bytes=digest[:16], version=4))


_source: ContextVar[_Derived | None] = ContextVar("lograph_ids", default=None)


def uuid4() -> str:
    """A new id as a string: derived inside a replayed code path (see the rules), random
    elsewhere. Use it where code run at a step boundary (a reducer) needs an id."""
    source = _source.get()
    return str(uuid.uuid4()) if source is None else source.next()


def derived(checkpoint_hash: bytes, ns: str, what: str, fn: Callable[[], T]) -> T:
    """``fn()`` with ids derived from the checkpoint ``checkpoint_hash`` of graph ``ns``."""
    token = _source.set(_Derived(b"|".join((checkpoint_hash, ns.encode(), what.encode(), b""))))
    try:
        return fn()
    finally:
        _source.reset(token)
