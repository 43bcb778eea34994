"""The in-memory event log: development and tests; gone with the process."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from ._errors import ConflictError, LeaseLostError, StoreUnavailableError
from ._event import Event
from ._port import Append, Capability, CheckedAppend, ThreadInfo, check_append
from ._runs import Lease, MemoryRuns, MetaValue, NewRun, RunEnd, RunRecord, RunWatch


class MemoryLog:
    """An :class:`EventLog` in a dict. Appends are atomic because they never await.

    In memory, a cold load or an append costs no round trip to save; the runs tier
    (``Capability.RUNS``) serves the workers of this process.
    """

    capabilities: frozenset[Capability] = frozenset({Capability.RUNS})

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._snapshots: dict[str, dict[int, bytes]] = {}
        self._runs = MemoryRuns()
        self._closed = False

    def _open(self) -> None:
        if self._closed:  # as the stores on disk: a closed log is never used by mistake
            raise StoreUnavailableError("the in-memory log is closed")

    def _append_now(self, thread: str, events: Sequence[Event], expect_head: int,
                    parent_hash: bytes | None = None, lease: Lease | None = None,
                    drops_run: bool = False, ends_run: RunEnd | None = None,
                    checked: bool = False) -> None:
        if not checked:  # (a CheckedAppend was checked when the log writer made it)
            check_append(thread, events, expect_head)
        if lease is not None:
            self._runs.holds(lease)
        log = self._events.setdefault(thread, [])
        parent = events[0].parent
        if len(log) != expect_head or (
            parent_hash is not None and parent and log[parent - 1].hash != parent_hash
        ):
            raise ConflictError(thread, expect_head, len(log))
        log.extend(events)
        if drops_run and lease is not None:
            self._runs.drop(lease)
        elif ends_run is not None and lease is not None:
            ends_run.record = self._runs.end(lease, ends_run)

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        self._open()
        self._append_now(thread, events, expect_head)

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self._open()
        results: list[BaseException | None] = []
        for item in batch:
            try:
                self._append_now(item.thread, item.events, item.expect_head, item.parent_hash,
                                 item.lease, item.drops_run, item.ends_run,
                                 type(item) is CheckedAppend)
            except (ConflictError, LeaseLostError, ValueError) as e:
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
        return self._head_event(thread)

    def _head_event(self, thread: str) -> tuple[int, bytes]:
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
        self._runs.delete_thread(thread)

    # --- the runs tier (see ``_runs``) ---------------------------------------------------

    async def create_run(self, new: NewRun) -> tuple[RunRecord, bool]:
        self._open()
        return self._runs.create(new)

    async def create_run_claimed(
        self, new: NewRun, worker: str, seconds: float, graph: str | None = None,
    ) -> tuple[RunRecord, bool, Lease | None, None]:
        self._open()
        return (*self._runs.create_claimed(new, worker, seconds, self._head_event, graph), None)

    async def get_run(self, run_id: str) -> RunRecord | None:
        self._open()
        return self._runs.runs.get(run_id)

    def run_now(self, run_id: str) -> RunRecord | None:
        """``get_run`` without awaiting: the record is in this process's memory, so a run
        checks it at every step boundary for a stop another task asked for."""
        return self._runs.runs.get(run_id)

    async def list_runs(
        self, *, thread: str | None = None, status: str | Iterable[str] | None = None,
        since: float | None = None, until: float | None = None,
        metadata: Mapping[str, MetaValue] | None = None, limit: int = 100,
        graph: str | None = None,
    ) -> list[RunRecord]:
        self._open()
        return self._runs.list(thread, status, since, until, metadata, limit, graph)

    async def run_counts(self) -> dict[str, int]:
        self._open()
        return self._runs.counts()

    async def claim_run(self, worker: str, lease: float, *, limit: int | None = None,
                        graph: str | None = None) -> tuple[RunRecord, Lease] | None:
        self._open()
        return self._runs.claim(worker, lease, self._head_event, limit, graph)

    async def renew_lease(self, lease: Lease, seconds: float) -> RunRecord:
        self._open()
        return self._runs.renew(lease, seconds)

    async def finish_run(
        self, lease: Lease, status: str, *, result: bytes | None = None, error: str | None = None,
    ) -> RunRecord:
        self._open()
        return self._runs.finish(lease, status, result, error)

    async def stop_run(self, run_id: str, stop: str = "cancel") -> RunRecord | None:
        self._open()
        return self._runs.stop(run_id, stop)

    def watch_runs(self, run_id: str | None = None) -> AbstractAsyncContextManager[RunWatch]:
        return self._runs.signals.watch(run_id)

    async def enter_run(self, new: NewRun, holder: str, seconds: float) -> tuple[RunRecord, Lease]:
        self._open()
        return self._runs.enter(new, holder, seconds, self._head_event)

    async def take_run(self, lease: Lease, seconds: float) -> RunRecord:
        self._open()
        return self._runs.take(lease, seconds, lambda t: len(self._events.get(t, ())))

    async def drop_run(self, lease: Lease) -> None:
        self._open()
        self._runs.drop(lease)

    async def aclose(self) -> None:
        self._closed = True
