"""The in-memory event log: development and tests; gone with the process."""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import ConflictError, StoreUnavailableError
from ._event import Event
from ._port import Append, Capability, ThreadInfo, check_append


class MemoryLog:
    """An :class:`EventLog` in a dict. Appends are atomic because they never await.

    The base port only: in memory, a cold load or an append costs no round trip to save.
    """

    capabilities: frozenset[Capability] = frozenset()

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._snapshots: dict[str, dict[int, bytes]] = {}
        self._closed = False

    def _open(self) -> None:
        if self._closed:  # as the stores on disk: a closed log is never used by mistake
            raise StoreUnavailableError("the in-memory log is closed")

    def _append_now(self, thread: str, events: Sequence[Event], expect_head: int,
                    parent_hash: bytes | None = None) -> None:
        check_append(thread, events, expect_head)
        log = self._events.setdefault(thread, [])
        parent = events[0].parent
        if len(log) != expect_head or (
            parent_hash is not None and parent and log[parent - 1].hash != parent_hash
        ):
            raise ConflictError(thread, expect_head, len(log))
        log.extend(events)

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        self._open()
        self._append_now(thread, events, expect_head)

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self._open()
        results: list[BaseException | None] = []
        for item in batch:
            try:
                self._append_now(item.thread, item.events, item.expect_head, item.parent_hash)
            except (ConflictError, ValueError) as e:
                results.append(e)
            else:
                results.append(None)
        return results

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        self._open()
        log = self._events.get(thread, [])
        end = len(log) if upto is None else min(upto, len(log))
        return log[max(after, 0) : end]

    async def head(self, thread: str) -> int:
        self._open()
        return len(self._events.get(thread, ()))

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        self._open()
        log = self._events.get(thread)
        return (len(log), log[-1].hash) if log else (0, b"")

    async def threads(self) -> list[ThreadInfo]:
        self._open()
        return [
            ThreadInfo(t, len(ev), len(ev), sum(len(e.body) for e in ev), ev[-1].ts)
            for t, ev in sorted(self._events.items())
            if ev
        ]

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        self._open()
        self._snapshots.setdefault(thread, {})[seq] = data

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        self._open()
        snaps = self._snapshots.get(thread)
        if not snaps:
            return None
        best = max((s for s in snaps if s <= upto), default=None)
        return None if best is None else (best, snaps[best])

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        self._open()
        snaps = self._snapshots.get(thread, {})
        return [(s, snaps[s]) for s in sorted((s for s in snaps if s <= upto), reverse=True)[:limit]]

    async def snapshots(self, thread: str) -> list[int]:
        self._open()
        return sorted(self._snapshots.get(thread, ()))

    async def delete_snapshots(self, thread: str) -> None:
        self._open()
        self._snapshots.pop(thread, None)

    async def delete_thread(self, thread: str) -> None:
        self._open()
        self._events.pop(thread, None)
        self._snapshots.pop(thread, None)

    async def aclose(self) -> None:
        self._closed = True
