"""Group commit: many threads' appends share one store transaction.

Leader/follower, with no background task and no timer: a caller queues its append and
takes the store's commit lock; if an earlier leader already committed its append while
it waited, it returns at once; otherwise it becomes the leader and commits everything
queued so far in one ``append_batch``. A batch therefore never waits for more work:
whoever is waiting is committed by the next transaction, together with whatever
arrived while the previous one was on disk.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import anyio
import sniffio

from lograph.eventlog import Append, Event, EventLog


def loop_key() -> Any:
    """A hashable key for the running event loop (asyncio loop or trio token)."""
    if sniffio.current_async_library() == "asyncio":
        import asyncio

        return asyncio.get_running_loop()
    import trio

    return trio.lowlevel.current_trio_token()


class _Request:
    __slots__ = ("append", "done", "error")

    def __init__(self, append: Append) -> None:
        self.append = append
        self.done = False
        self.error: BaseException | None = None


class Committer:
    """The store's log writer: serialises transactions, batching whatever is queued."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._queue: list[_Request] = []
        self._locks: weakref.WeakKeyDictionary[Any, anyio.Lock] = weakref.WeakKeyDictionary()
        self.transactions = 0
        self.appends = 0

    def _lock(self) -> anyio.Lock:
        key = loop_key()
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock(fast_acquire=True)
        return lock

    async def commit(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        """Return once ``events`` are durable in the store, or raise their error.

        Shielded: once queued, the append completes even if the caller is cancelled, so
        a cancelled run never leaves the writer with half a batch.
        """
        request = _Request(Append(thread, tuple(events), expect_head))
        self._queue.append(request)
        with anyio.CancelScope(shield=True):
            async with self._lock():
                if not request.done:
                    await self._lead()
        if request.error is not None:
            raise request.error

    async def _lead(self) -> None:
        batch, self._queue = self._queue, []
        try:
            results = await self.log.append_batch([r.append for r in batch])
        except BaseException as e:  # noqa: BLE001 - the transaction failed: every item learns why
            for r in batch:
                r.done, r.error = True, e
            return
        self.transactions += 1
        self.appends += len(batch)
        for r, err in zip(batch, results, strict=True):
            r.done, r.error = True, err
