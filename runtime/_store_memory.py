"""``InMemoryStore``: the Store in this process's memory (development and tests).

Items live in one dict per namespace, each kept in write order (a write moves its item
to the end), so a search of one namespace walks it newest first and stops at its
page; a search over several merges them by write sequence. Values are kept as the
JSON text written (each read returns a fresh copy) and as one parsed copy that
filters read. A lock makes every batch atomic for threads (sync nodes run on worker
threads); nothing in a batch awaits while holding it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from . import _store_rules as rules
from ._store import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    Result,
    SearchOp,
    TTLConfig,
    timestamp,
)
from ._store_embed import Indexer
from ._store_rules import (
    Found,
    Plan,
    decode,
    list_namespaces,
    matches,
    plan,
    rank,
    refreshed,
    searchable,
)
from ._store_ttl import Sweeper

__all__ = ["InMemoryStore"]


class _Entry:
    __slots__ = ("created", "doc", "expires", "key", "namespace", "seq", "ttl", "updated", "value", "vectors")

    def __init__(self, namespace: tuple[str, ...], key: str, doc: str, created: float, updated: float,
                 ttl: float | None, seq: int) -> None:
        self.namespace = namespace
        self.key = key
        self.doc = doc
        self.value: dict[str, Any] = decode(doc)
        self.created = created
        self.updated = updated
        self.ttl = ttl
        self.expires = refreshed(ttl, updated)
        self.seq = seq
        self.vectors: list[tuple[Sequence[float], float]] = []

    def found(self, with_vectors: bool) -> Found:
        return Found(self.namespace, self.key, self.doc, self.created, self.updated,
                     self.ttl, self.vectors if with_vectors else [])


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

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ready = plan(ops, self._indexer).embed(self._indexer)
        with self._lock:
            return self._run(ready)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ready = await plan(ops, self._indexer).aembed(self._indexer)
        with self._lock:
            return self._run(ready)

    # -- one batch, under the lock -------------------------------------------------------------

    def _live(self, entry: _Entry | None, at: float) -> _Entry | None:
        if entry is None or (entry.expires is not None and entry.expires <= at):
            return None
        return entry

    def _run(self, p: Plan) -> list[Result]:
        results: list[Result] = [None] * p.size
        touched: list[_Entry] = []
        for i, op in p.reads:
            if isinstance(op, GetOp):
                space = self._spaces.get(op.namespace)
                entry = self._live(space.get(op.key) if space else None, p.at)
                if entry is not None:
                    results[i] = Item(value=decode(entry.doc), key=entry.key, namespace=entry.namespace,
                                      created_at=timestamp(entry.created), updated_at=timestamp(entry.updated))
                    if op.refresh_ttl and entry.ttl is not None:
                        touched.append(entry)
            elif isinstance(op, SearchOp):
                results[i] = self._search(op, p, touched)
            else:
                results[i] = self._list(op, p.at)
        for entry in touched:
            entry.expires = refreshed(entry.ttl, p.at)
        for w in p.writes:
            space = self._spaces.get(w.namespace)
            old = self._live(space.pop(w.key, None) if space is not None else None, p.at)
            if w.doc is None:
                if space is not None and not space:
                    del self._spaces[w.namespace]
                continue
            if space is None:
                space = self._spaces[w.namespace] = {}
            entry = _Entry(w.namespace, w.key, w.doc, old.created if old else p.at, p.at, w.ttl, next(self._seq))
            entry.vectors = [(v, n) for _, v, n in w.vectors]
            space[w.key] = entry
        return results

    def _walk(self, prefix: tuple[str, ...]) -> Iterator[_Entry]:
        """The entries under ``prefix``, newest first."""
        spaces = [s for ns, s in self._spaces.items() if ns[: len(prefix)] == prefix]
        if len(spaces) == 1:
            return reversed(spaces[0].values())
        return heapq.merge(*(reversed(s.values()) for s in spaces), key=_newest)

    def _search(self, op: SearchOp, p: Plan, touched: list[_Entry]) -> list[Any]:
        if not searchable(op):
            return []
        query = p.query_vector(op)
        wanted = None if query is not None else op.offset + op.limit
        kept: list[_Entry] = []
        for entry in self._walk(op.namespace_prefix):
            if entry.expires is not None and entry.expires <= p.at:
                continue
            if op.filter and not matches(entry.value, op.filter):
                continue
            kept.append(entry)
            if wanted is not None and len(kept) >= wanted:
                break
        page = rank([e.found(query is not None) for e in kept], op, query)
        if op.refresh_ttl:
            shown = {(item.namespace, item.key) for item in page}
            touched.extend(e for e in kept if e.ttl is not None and (e.namespace, e.key) in shown)
        return page

    def _list(self, op: ListNamespacesOp, at: float) -> list[tuple[str, ...]]:
        live = [ns for ns, space in self._spaces.items()
                if any(e.expires is None or e.expires > at for e in space.values())]
        return list_namespaces(live, op)

    # -- TTL -----------------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
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
        return self.sweep_ttl()
