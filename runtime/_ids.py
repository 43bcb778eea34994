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
from typing import Any, TypeVar

T = TypeVar("T")


# The active source: [checkpoint hash, namespace, what, ids made so far], or None. A plain
# list set per step boundary: the seed is built only when an id is asked for.
_source: ContextVar[list[Any] | None] = ContextVar("lograph_ids", default=None)


def uuid4() -> str:
    """A new id as a string: derived inside a replayed code path (see the rules), random
    elsewhere. Use it where code run at a step boundary (a reducer) needs an id."""
    source = _source.get()
    if source is None:
        return str(uuid.uuid4())
    checkpoint_hash, ns, what, count = source
    source[3] = count + 1
    seed = b"|".join((checkpoint_hash, ns.encode(), what.encode(), count.to_bytes(8, "big")))
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))


_MAKERS: set[Callable[..., Any]] = set()


def makes_ids(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register a reducer that calls ``uuid4()``: only a graph with one sets up derived ids
    at its step boundaries (the others pay nothing for them)."""
    _MAKERS.add(fn)
    return fn


def needs_ids(reducer: Any) -> bool:
    """True if ``reducer`` (or the function a ``functools.partial`` wraps) makes ids."""
    return reducer in _MAKERS or getattr(reducer, "func", None) in _MAKERS


def derived(checkpoint_hash: bytes, ns: str, what: str, fn: Callable[[], T]) -> T:
    """``fn()`` with ids derived from the checkpoint ``checkpoint_hash`` of graph ``ns``."""
    token = _source.set([checkpoint_hash, ns, what, 0])
    try:
        return fn()
    finally:
        _source.reset(token)
