"""The in-memory store: development and tests; everything is gone with the process."""

from __future__ import annotations

from lograph.eventlog import MemoryLog
from lograph.runtime._checkpointer import Checkpointer

__all__ = ["InMemorySaver", "MemorySaver"]


class MemorySaver(Checkpointer):
    """An in-memory checkpointer (alias ``InMemorySaver``)."""

    def __init__(self, *, snapshot_every: int = 400) -> None:
        super().__init__(MemoryLog(), snapshot_every=snapshot_every)


InMemorySaver = MemorySaver
