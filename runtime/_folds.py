"""Folds that outlive their saver: a process-wide cache of threads' heads, per store.

Services often open a saver per request (open, compile, read or run, close). Each new
saver starts with cold thread actors, and a cold actor folds the thread from its
snapshots and events: for a long thread that is most of a request's time. When a
saver closes, the folds its actors hold are kept here (copies: later folding changes
the actor's own, never these), keyed by the store and the thread; a cold actor of a
later saver on the same store asks the store for the thread's head (one cheap read,
as a warm actor does at every turn) and starts from the kept fold when the head's seq
*and hash* are the ones it was folded at. Anything else (another process moved the
thread, it was deleted and written again) is a miss, and the actor folds as before.

Only stores that name themselves (``Checkpointer.store_key``: a SQLite file's device
and inode, a PostgreSQL DSN and schema) take part. The cache keeps the
``FoldCache.size`` most recently kept threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from lograph.eventlog import Checkpoint

if TYPE_CHECKING:
    from ._actor import Base


class FoldCache:
    """Recent heads' folds by (store, thread); thread-safe (savers live on several loops)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Hashable, str], tuple[Checkpoint, Base | None]] = OrderedDict()

    def keep(self, store: Hashable, folds: Iterable[tuple[str, Checkpoint, Base | None]]) -> None:
        """Keep copies of ``(thread, fold, base)`` for ``store`` (the newest last)."""
        copies = [((store, thread), (cp.copy(), base)) for thread, cp, base in folds]
        with self._lock:
            for key, value in copies:
                self._items[key] = value
                self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def knows(self, store: Hashable, thread: str) -> bool:
        return (store, thread) in self._items

    def find(self, store: Hashable, thread: str, head: int,
             digest: bytes) -> tuple[Checkpoint, Base | None] | None:
        """A copy of the kept fold of ``thread`` if it was folded at this head, else None."""
        with self._lock:
            found = self._items.get((store, thread))
        if found is None or found[0].head != head or found[0].head_hash != digest:
            return None
        return found[0].copy(), found[1]

    def drop(self, store: Hashable, thread: str) -> None:
        with self._lock:
            self._items.pop((store, thread), None)


FOLDS = FoldCache()
