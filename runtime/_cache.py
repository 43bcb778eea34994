"""Node and task caching (``CachePolicy``, ``compile(cache=...)``), as LangGraph 1.2.24 has it.

Rules:
- A node or task with a cache policy, in a graph compiled with a cache, looks its input
  up first: the key is the policy's ``key_func`` of the input (a node's state, a task's
  arguments), in a namespace of the node's or task's function and name, so the cache is
  shared across threads and runs, as LangGraph's.
- On a hit the node does not run: its cached writes (state updates and routing) are the
  task's writes. They are recorded in the log like any node's (``node.writes``, or a
  ``task.result``) marked ``cached``, so a resumed or replayed thread reads them from the
  log (never from the cache, which may have changed) and the audit shows the hit; the
  ``updates`` stream marks the chunk ``{"__metadata__": {"cached": True}}``.
- On a miss the node runs and its writes are cached for ``ttl`` seconds (None: no
  expiry). A failure is not cached. Values are stored through lograph's codec (no
  pickle): what a cache returns is a copy of what was written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio

from lograph.eventlog import EncodeError, decode, encode

__all__ = ["BaseCache", "CachePolicy", "InMemoryCache", "default_cache_key"]

Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]
ValueT = TypeVar("ValueT")

WRITES_NS = "__pregel_ns_writes"  # (LangGraph's namespace of cached node writes)


def _freeze(obj: Any, depth: int = 10) -> Any:
    if isinstance(obj, Hashable) or depth <= 0:
        return obj
    if isinstance(obj, Mapping):  # key order does not matter
        return tuple(sorted((k, _freeze(v, depth - 1)) for k, v in obj.items()))
    if isinstance(obj, Sequence):
        return tuple(_freeze(x, depth - 1) for x in obj)
    if hasattr(obj, "tobytes"):
        return (type(obj).__name__, obj.tobytes(), getattr(obj, "shape", None))
    return obj


def default_cache_key(*args: Any, **kwargs: Any) -> str | bytes:
    """The input, frozen (a dict's key order left out) and encoded with lograph's codec
    (LangGraph pickles it; lograph does not use pickle). A value the codec does not know
    is keyed by its repr."""
    frozen = (_freeze(args), _freeze(kwargs))
    try:
        return encode(frozen, path="the cache key")
    except EncodeError:
        return repr(frozen)


KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., str | bytes])


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePolicy(Generic[KeyFuncT]):
    """How a node or task is cached (LangGraph's fields)."""

    key_func: KeyFuncT = default_cache_key  # type: ignore[assignment]
    """The cache key of the input (a node's state; a task's arguments)."""
    ttl: int | None = None
    """Seconds an entry lives; None: until the cache is cleared."""


class BaseCache(Generic[ValueT]):
    """A cache of values by ``(namespace, key)``, with per-entry TTLs (LangGraph's API).

    A subclass implements ``_get``, ``_set`` and ``_clear`` on encoded bytes; the async
    forms run them in a worker thread.
    """

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The live values among ``keys``."""
        return {k: decode(v) for k, v in self._get(keys).items()}

    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Store each value with its TTL in seconds (None: no expiry)."""
        now = time.time()
        self._set({k: (encode(v, path=f"cache {k[0]}"), None if ttl is None else now + ttl)
                   for k, (v, ttl) in pairs.items()})

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Delete the entries of ``namespaces`` (None: every entry)."""
        self._clear(namespaces)

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        return await anyio.to_thread.run_sync(self.get, keys)

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        await anyio.to_thread.run_sync(self.set, pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        await anyio.to_thread.run_sync(self.clear, namespaces)

    def _get(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        raise NotImplementedError

    def _set(self, pairs: Mapping[FullKey, tuple[bytes, float | None]]) -> None:
        raise NotImplementedError

    def _clear(self, namespaces: Sequence[Namespace] | None) -> None:
        raise NotImplementedError


@dataclass
class InMemoryCache(BaseCache[Any]):
    """A cache in this process's memory (LangGraph's ``InMemoryCache``)."""

    _entries: dict[Namespace, dict[str, tuple[bytes, float | None]]] = field(default_factory=dict)

    def _get(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        now = time.time()
        out = {}
        for ns, key in keys:
            entry = self._entries.get(ns, {}).get(key)
            if entry is None:
                continue
            if entry[1] is not None and entry[1] <= now:
                del self._entries[ns][key]
                continue
            out[(ns, key)] = entry[0]
        return out

    def _set(self, pairs: Mapping[FullKey, tuple[bytes, float | None]]) -> None:
        for (ns, key), entry in pairs.items():
            self._entries.setdefault(ns, {})[key] = entry

    def _clear(self, namespaces: Sequence[Namespace] | None) -> None:
        if namespaces is None:
            self._entries.clear()
        for ns in namespaces or ():
            self._entries.pop(ns, None)

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        return self.get(keys)  # (no I/O: no thread)

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        self.set(pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.clear(namespaces)


def namespace(fn: Callable[..., Any], name: str) -> Namespace:
    """Where a node's or task's entries live: its function and its name."""
    target = getattr(fn, "__wrapped__", fn)
    ident = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', type(target).__qualname__)}"
    return (WRITES_NS, ident, name)


def cache_key(policy: CachePolicy[Any], fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> FullKey:
    raw = policy.key_func(*args, **kwargs)
    return namespace(fn, name), hashlib.sha256(raw.encode() if isinstance(raw, str) else raw).hexdigest()


async def lookup(cache: BaseCache[Any], key: FullKey) -> tuple[bool, Any]:
    """``(True, value)`` for a live entry."""
    found = await cache.aget([key])
    return (True, found[key]) if key in found else (False, None)


async def store(cache: BaseCache[Any], key: FullKey, value: Any, ttl: int | None) -> None:
    """Cache ``value``; a value the codec cannot store is not cached (the log reports it)."""
    try:
        await cache.aset({key: (value, ttl)})
    except EncodeError:
        return
