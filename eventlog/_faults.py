"""A wrapper around any event log that simulates the process dying around a commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from ._event import Event
from ._port import Append, EventLog, ThreadInfo

BEFORE = "before"
AFTER = "after"


class Crash(BaseException):
    """A simulated process death (a BaseException: the engine must not swallow it)."""


def is_crash(error: BaseException) -> bool:
    """True if ``error`` is a Crash or a (nested) exception group holding one."""
    if isinstance(error, Crash):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(is_crash(e) for e in error.exceptions)
    return False


class FaultyLog:
    """An EventLog that delegates every method to ``inner`` and can die at one append.

    ``FaultyLog(inner, at=N, when="before")`` simulates the process dying at the N-th
    ``append_batch`` (counting from 1):

    - ``when="before"``: the crash happens before the transaction: nothing of the batch
      reaches ``inner``.
    - ``when="after"``: the batch is committed to ``inner``, then the process dies before
      the writer learns it (crash after commit, before acknowledge).

    The crash is :class:`Crash`, a BaseException, so no ``except Exception`` in the engine
    can swallow it. From then on the wrapper is *dead*: every call raises Crash, as nothing
    runs in a dead process (a cancelled run cannot sneak its ``run.finished`` in).

    "Restart" is a new checkpointer on ``inner`` (fresh actors, caches and writer)::

        faulty = FaultyLog(inner, at=3, when="after")
        graph = build(Checkpointer(faulty))
        ... the run raises Crash (possibly inside a BaseExceptionGroup) ...
        graph = build(Checkpointer(inner))
        await graph.ainvoke(None, config)

    The wrapper also records what the writer was told: ``acked`` holds the events of every
    batch item whose ``append_batch`` returned without error, in order. It offers the
    base port only (no optional tier), whatever ``inner`` declares.
    """

    def __init__(
        self, inner: EventLog, *, at: int | None = None, when: str = BEFORE, delay: float = 0.0
    ) -> None:
        if when not in (BEFORE, AFTER):
            raise ValueError(f"when must be {BEFORE!r} or {AFTER!r}, got {when!r}")
        self.inner = inner
        self.at = at
        self.when = when
        self.delay = delay  # seconds each append_batch takes before it commits (a slow disk)
        self.calls = 0  # append_batch calls so far, the crashing one included
        self.acked: list[Event] = []
        self.crashed_batch: list[Append] | None = None
        self.dead = False

    # -- fault machinery ----------------------------------------------------------------

    def _alive(self) -> None:
        if self.dead:
            raise Crash("the process is dead")

    def _die(self, batch: Sequence[Append]) -> Crash:
        self.dead = True
        self.crashed_batch = list(batch)
        return Crash(f"crash {self.when} commit at append_batch #{self.calls}")

    # -- the EventLog port -----------------------------------------------------------------

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self._alive()
        self.calls += 1
        if self.delay:
            await anyio.sleep(self.delay)
        crash_here = self.at is not None and self.calls == self.at
        if crash_here and self.when == BEFORE:
            raise self._die(batch)
        results = await self.inner.append_batch(batch)
        if crash_here:
            raise self._die(batch)
        for item, error in zip(batch, results, strict=True):
            if error is None:
                self.acked.extend(item.events)
        return results

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        (error,) = await self.append_batch([Append(thread, tuple(events), expect_head)])
        if error is not None:
            raise error

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        self._alive()
        return await self.inner.read(thread, after=after, upto=upto)

    async def head(self, thread: str) -> int:
        self._alive()
        return await self.inner.head(thread)

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        self._alive()
        return await self.inner.head_event(thread)

    async def threads(self) -> list[ThreadInfo]:
        self._alive()
        return await self.inner.threads()

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        self._alive()
        await self.inner.put_snapshot(thread, seq, data)

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        self._alive()
        return await self.inner.recent_snapshots(thread, upto, limit)

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        self._alive()
        return await self.inner.latest_snapshot(thread, upto)

    async def snapshots(self, thread: str) -> list[int]:
        self._alive()
        return await self.inner.snapshots(thread)

    async def delete_snapshots(self, thread: str) -> None:
        self._alive()
        await self.inner.delete_snapshots(thread)

    async def delete_thread(self, thread: str) -> None:
        self._alive()
        await self.inner.delete_thread(thread)

    async def aclose(self) -> None:
        """Does not close ``inner``: the restarted process goes on using it."""
        self.dead = True

    def __getattr__(self, name: str) -> Any:  # anything beyond the port (setup, ...)
        return getattr(self.inner, name)
