"""The in-memory store: development and tests; everything is gone with the process."""

from __future__ import annotations

from lograph.eventlog import MemoryLog
from lograph.runtime import InMemoryCache
from lograph.runtime.lowlevel import Checkpointer
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
