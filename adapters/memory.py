"""The in-memory store: development and tests; everything is gone with the process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lograph.eventlog import MemoryLog
from lograph.runtime import InMemoryCache
from lograph.runtime.lowlevel import Checkpointer

if TYPE_CHECKING:
    from lograph.runtime.store import InMemoryStore

__all__ = ["InMemoryCache", "InMemorySaver", "InMemoryStore", "MemorySaver"]


class MemorySaver(Checkpointer):
    """An in-memory checkpointer (alias ``InMemorySaver``).

    Snapshots cost no disk here, so they are taken more often than on the stores on
    disk (every 100 events of a branch; SQLite 200, PostgreSQL 400): reading or forking
    an old checkpoint folds at most 100 events.
    """

    def __init__(self, *, snapshot_every: int = 100, chain_key: bytes | str | None = None,
                 store_id: str | None = None) -> None:
        super().__init__(MemoryLog(), snapshot_every=snapshot_every, chain_key=chain_key,
                         store_id=store_id)


InMemorySaver = MemorySaver


def __getattr__(name: str) -> Any:
    """The Store loads on first use: a saver alone does not import it."""
    if name != "InMemoryStore":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from lograph.runtime.store import InMemoryStore

    globals()[name] = InMemoryStore
    return InMemoryStore
