"""``InMemoryStore``: the Store in this process's memory (development and tests).

Items live in one dict per namespace, each kept in write order (a write moves its item
to the end), so a search of one namespace walks it newest first and stops at its
page; a search over several merges them by write sequence. Each item keeps its own
copy of the value (filters read it; reads hand out copies) and its timestamps as the
datetimes items carry. A lock makes every batch atomic for threads (sync nodes run on
worker threads); nothing awaits while holding it.

``get``, ``put`` (without an index) and ``search`` (without a query) skip the batch's
planning: they check their one operation with the same rules and run it directly.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from . import _store_rules as rules
from ._store import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    NotProvided,
    Op,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    _refresh,
    timestamp,
    validate_namespace,
)
from ._store_embed import Indexer
from ._store_rules import (
    Plan,
    copy_json,
    list_namespaces,
    matches,
    ranked,
    refreshed,
    searchable,
)
from ._store_ttl import Sweeper

__all__ = ["InMemoryStore"]


class _Entry:
    __slots__ = ("created", "created_at", "expires", "flat", "key", "namespace", "seq", "ttl",
                 "updated_at", "value", "vectors")

    def __init__(self, namespace: tuple[str, ...], key: str, value: dict[str, Any], ttl: float | None,
                 vectors: list[tuple[Sequence[float], float]], old: _Entry | None, at: float,
                 seq: int, flat: bool | None = None) -> None:
        self.namespace = namespace
        self.key = key
        self.value = value  # the store's own copy
        # no list or dict inside: a shallow copy copies it
        self.flat = flat if flat is not None else not any(type(v) in (dict, list) for v in value.values())
        if old is None:
            self.created = at
            self.created_at = self.updated_at = timestamp(at)
        else:
            self.created = old.created
            self.created_at = old.created_at
            self.updated_at = timestamp(at)
        self.ttl = ttl
        self.expires = refreshed(ttl, at)
        self.seq = seq
        self.vectors = vectors

    def copy(self) -> dict[str, Any]:
        return dict(self.value) if self.flat else copy_json(self.value)

    def item(self) -> Item:
        item = Item.__new__(Item)  # the fields are checked already: skip __init__'s coercions
        item.value = self.copy()
        item.key = self.key
        item.namespace = self.namespace
        item.created_at = self.created_at
        item.updated_at = self.updated_at
        return item

    def found(self, score: float | None) -> SearchItem:
        return SearchItem(self.namespace, self.key, self.copy(), self.created_at, self.updated_at, score)


def _newest(entry: _Entry) -> int:
    return -entry.seq


class InMemoryStore(Sweeper, BaseStore):
    """A Store in memory, with optional semantic search (``index``) and TTLs (``ttl``)."""

    supports_ttl = True

    def __init__(self, *, index: IndexConfig | None = None, ttl: TTLConfig | None = None) -> None:
        self.index_config = index
        self._indexer = Indexer(index) if index is not None else None
        self.embeddings = self._indexer.embeddings if self._indexer else None
        self.ttl_config = ttl
        self._spaces: dict[tuple[str, ...], dict[str, _Entry]] = {}
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._valid: set[tuple[str, ...]] = set()  # namespaces checked already (by put)

    # -- batches ---------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ready = rules.plan(ops, self._indexer, docs=False).embed(self._indexer)
        with self._lock:
            return self._run(ready)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ready = await rules.plan(ops, self._indexer, docs=False).aembed(self._indexer)
        with self._lock:
            return self._run(ready)

    def _run(self, p: Plan) -> list[Result]:
        results: list[Result] = [None] * p.size
        for i, op in p.reads:
            if isinstance(op, GetOp):
                results[i] = self._get(op.namespace, op.key, op.refresh_ttl, p.at)
            elif isinstance(op, SearchOp):
                results[i] = self._search(op, p.at, p.query_vector(op))
            else:
                results[i] = self._list(op, p.at)
        for w in p.writes:
            self._apply(w.namespace, w.key, w.value, w.ttl, [(v, n) for _, v, n in w.vectors], p.at)
        return results

    # -- one operation, under the lock -----------------------------------------------------

    def _get(self, namespace: tuple[str, ...], key: str, refresh: bool, at: float) -> Item | None:
        space = self._spaces.get(namespace)
        entry = space.get(key) if space is not None else None
        if entry is None or (entry.expires is not None and entry.expires <= at):
            return None
        if refresh and entry.ttl is not None:
            entry.expires = refreshed(entry.ttl, at)
        return entry.item()

    def _apply(self, namespace: tuple[str, ...], key: str, value: dict[str, Any] | None,
               ttl: float | None, vectors: list[tuple[Sequence[float], float]], at: float,
               flat: bool | None = None) -> None:
        space = self._spaces.get(namespace)
        old = space.pop(key, None) if space is not None else None
        if old is not None and old.expires is not None and old.expires <= at:
            old = None  # an expired item: the put makes a new one
        if value is None:
            if space is not None and not space:
                del self._spaces[namespace]
            return
        if space is None:
            space = self._spaces[namespace] = {}
        space[key] = _Entry(namespace, key, value, ttl, vectors, old, at, next(self._seq), flat)

    def _walk(self, prefix: tuple[str, ...]) -> Iterator[_Entry]:
        """The entries under ``prefix``, newest first."""
        n = len(prefix)
        spaces = [s for ns, s in self._spaces.items() if ns[:n] == prefix]
        if len(spaces) == 1:
            return reversed(spaces[0].values())
        return heapq.merge(*(reversed(s.values()) for s in spaces), key=_newest)

    def _search(self, op: SearchOp, at: float, query: tuple[list[float], float] | None) -> list[SearchItem]:
        if not searchable(op):
            return []
        wanted = None if query is not None else op.offset + op.limit
        kept: list[_Entry] = []
        conditions = op.filter
        for entry in self._walk(op.namespace_prefix):
            if entry.expires is not None and entry.expires <= at:
                continue
            if conditions and not matches(entry.value, conditions):
                continue
            kept.append(entry)
            if wanted is not None and len(kept) >= wanted:
                break
        page = ranked(kept, op, query)
        if op.refresh_ttl:
            for entry, _ in page:
                if entry.ttl is not None:
                    entry.expires = refreshed(entry.ttl, at)
        return [entry.found(score) for entry, score in page]

    def _list(self, op: ListNamespacesOp, at: float) -> list[tuple[str, ...]]:
        live = [ns for ns, space in self._spaces.items()
                if any(e.expires is None or e.expires > at for e in space.values())]
        return list_namespaces(live, op)

    # -- one operation without a batch -----------------------------------------------------

    def _quick_get(self, namespace: tuple[str, ...], key: str, refresh_ttl: bool | None) -> Item | None:
        if type(namespace) is not tuple:
            rules.check_read(GetOp(namespace, str(key)))  # raises, saying why
        with self._lock:
            space = self._spaces.get(namespace)
            entry = space.get(key if type(key) is str else str(key)) if space is not None else None
            if entry is None:
                return None
            if entry.expires is not None:  # (only an item with a TTL has an expiry)
                at = rules.now()
                if entry.expires <= at:
                    return None
                if _refresh(self.ttl_config, refresh_ttl):
                    entry.expires = refreshed(entry.ttl, at)
            return entry.item()

    def get(self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None) -> Item | None:
        return self._quick_get(namespace, key, refresh_ttl)

    async def aget(self, namespace: tuple[str, ...], key: str, *,
                   refresh_ttl: bool | None = None) -> Item | None:
        return self._quick_get(namespace, key, refresh_ttl)

    def _quick_put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
                   index: Literal[False] | list[str] | None, ttl: float | NotProvided | None) -> None:
        if type(namespace) is not tuple or namespace not in self._valid:
            validate_namespace(namespace)
            if len(self._valid) > 4096:
                self._valid.clear()
            self._valid.add(namespace)
        if type(key) is not str or index is not None or not isinstance(ttl, NotProvided) or self.ttl_config:
            w = rules.write_of(self._put_op(namespace, key, value, index, ttl), None, docs=False)
            key, copied, ttl_minutes = w.key, w.value, w.ttl
        else:
            copied, ttl_minutes = rules.flat_copy(value), None
            if copied is not None:
                at = rules.now()
                with self._lock:
                    self._apply(namespace, key, copied, None, [], at, True)
                return
            copied = rules.checked_copy(value, "operation 0 (PutOp): value")
        at = rules.now()
        with self._lock:
            self._apply(namespace, key, copied, ttl_minutes, [], at)

    def put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
            index: Literal[False] | list[str] | None = None, *,
            ttl: float | NotProvided | None = NOT_PROVIDED) -> None:
        if self._indexer is not None:
            return super().put(namespace, key, value, index, ttl=ttl)
        return self._quick_put(namespace, key, value, index, ttl)

    async def aput(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
                   index: Literal[False] | list[str] | None = None, *,
                   ttl: float | NotProvided | None = NOT_PROVIDED) -> None:
        if self._indexer is not None:
            return await super().aput(namespace, key, value, index, ttl=ttl)
        return self._quick_put(namespace, key, value, index, ttl)

    def _quick_search(self, op: SearchOp) -> list[SearchItem]:
        rules.check_read(op)
        at = rules.now()
        with self._lock:
            return self._search(op, at, None)

    def search(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
               filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
               refresh_ttl: bool | None = None) -> list[SearchItem]:
        if query and self._indexer is not None:
            return super().search(namespace_prefix, query=query, filter=filter, limit=limit,
                                  offset=offset, refresh_ttl=refresh_ttl)
        return self._quick_search(self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl))

    async def asearch(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
                      filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
                      refresh_ttl: bool | None = None) -> list[SearchItem]:
        if query and self._indexer is not None:
            return await super().asearch(namespace_prefix, query=query, filter=filter, limit=limit,
                                         offset=offset, refresh_ttl=refresh_ttl)
        return self._quick_search(self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl))

    # -- TTL -------------------------------------------------------------------------------

    def _sweep_now(self) -> int:
        at = rules.now()
        swept = 0
        with self._lock:
            for ns, space in list(self._spaces.items()):
                for key, entry in list(space.items()):
                    if entry.expires is not None and entry.expires <= at:
                        del space[key]
                        swept += 1
                if not space:
                    del self._spaces[ns]
        return swept

    async def asweep_ttl(self) -> int:
        return self._sweep_now()
