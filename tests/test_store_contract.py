"""The EventLog port's contract (``lograph.eventlog.testing``), run against every store.

Each store's class subclasses the kit's contract, and the contract of each optional tier
it declares; every case runs on asyncio and trio. A fourth store, a toy written here
against the port alone, passes the base contract too: the kit is not bound to lograph's
own stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from lograph.eventlog import (
    Append,
    Capability,
    ConflictError,
    Event,
    MemoryLog,
    StoreUnavailableError,
    ThreadInfo,
    capabilities,
    check_append,
)
from lograph.eventlog.testing import (
    EventLogContract,
    FaultyLog,
    HeadLoaderContract,
    InlineAppenderContract,
    RunQueueContract,
    TurnKeeperContract,
)
from tests._stores import open_log


class _OnStore(EventLogContract):
    kind: str

    def open_log(self) -> AbstractAsyncContextManager[Any]:
        return open_log(self.kind, self.tmp_path)


class TestMemoryLog(RunQueueContract, _OnStore):
    kind = "memory"


class TestSqliteLog(RunQueueContract, InlineAppenderContract, TurnKeeperContract, _OnStore):
    kind = "sqlite"

    @asynccontextmanager
    async def open_peer(self, log: Any) -> AsyncIterator[Any]:
        from lograph.adapters.sqlite import SqliteLog

        peer = await SqliteLog.open(log.path)
        try:
            yield peer
        finally:
            await peer.aclose()


class TestPostgresLog(RunQueueContract, HeadLoaderContract, TurnKeeperContract, _OnStore):
    kind = "postgres"

    @asynccontextmanager
    async def open_peer(self, log: Any) -> AsyncIterator[Any]:
        from lograph.adapters.postgres import PostgresLog
        from tests._store_postgres import dsn

        peer = await PostgresLog.open(await dsn(), schema=log.schema, max_size=4)
        try:
            yield peer
        finally:
            await peer.aclose()


# --- a fourth store: the port alone, in a few lines ------------------------------------------


class ToyLog:
    """An EventLog over one dict of events keyed ``(thread, seq)``, as a third party might
    write it: no lograph store code, no optional tier."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Event] = {}
        self.snaps: dict[tuple[str, int], bytes] = {}
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise StoreUnavailableError("the toy log is closed")

    def _events(self, thread: str) -> list[Event]:
        return [e for (t, _), e in sorted(self.rows.items(), key=lambda r: r[0]) if t == thread]

    def _head(self, thread: str) -> int:
        return max((s for t, s in self.rows if t == thread), default=0)

    async def append(self, thread: str, events: Sequence[Event], expect_head: int) -> None:
        (error,) = await self.append_batch([Append(thread, tuple(events), expect_head)])
        if error is not None:
            raise error

    async def append_batch(self, batch: Sequence[Append]) -> list[BaseException | None]:
        self._check()
        results: list[BaseException | None] = []
        for item in batch:
            try:
                check_append(item.thread, item.events, item.expect_head)
                head = self._head(item.thread)
                parent = self.rows.get((item.thread, item.events[0].parent))
                if head != item.expect_head or (item.checks_parent() and (
                        parent is None or parent.hash != item.parent_hash)):
                    raise ConflictError(item.thread, item.expect_head, head)
            except (ValueError, ConflictError) as e:
                results.append(e)
                continue
            self.rows.update(((item.thread, e.seq), e) for e in item.events)
            results.append(None)
        return results

    async def read(self, thread: str, *, after: int = 0, upto: int | None = None) -> list[Event]:
        self._check()
        return [e for e in self._events(thread) if after < e.seq and (upto is None or e.seq <= upto)]

    async def head(self, thread: str) -> int:
        self._check()
        return self._head(thread)

    async def head_event(self, thread: str) -> tuple[int, bytes]:
        self._check()
        head = self._head(thread)
        return (head, self.rows[thread, head].hash) if head else (0, b"")

    async def threads(self) -> list[ThreadInfo]:
        self._check()
        infos = []
        for thread in sorted({t for t, _ in self.rows}):
            events = self._events(thread)
            infos.append(ThreadInfo(thread, events[-1].seq, len(events),
                                    sum(len(e.body) for e in events), events[-1].ts))
        return infos

    async def put_snapshot(self, thread: str, seq: int, data: bytes) -> None:
        self._check()
        self.snaps[thread, seq] = data

    async def recent_snapshots(self, thread: str, upto: int, limit: int) -> list[tuple[int, bytes]]:
        self._check()
        found = sorted(((s, d) for (t, s), d in self.snaps.items() if t == thread and s <= upto),
                       reverse=True)
        return found[:max(limit, 0)]

    async def latest_snapshot(self, thread: str, upto: int) -> tuple[int, bytes] | None:
        found = await self.recent_snapshots(thread, upto, 1)
        return found[0] if found else None

    async def snapshots(self, thread: str) -> list[int]:
        self._check()
        return sorted(s for t, s in self.snaps if t == thread)

    async def delete_snapshots(self, thread: str) -> None:
        self._check()
        self.snaps = {k: v for k, v in self.snaps.items() if k[0] != thread}

    async def delete_thread(self, thread: str) -> None:
        await self.delete_snapshots(thread)
        self.rows = {k: v for k, v in self.rows.items() if k[0] != thread}

    async def aclose(self) -> None:
        self.closed = True


@asynccontextmanager
async def _toy() -> AsyncIterator[ToyLog]:
    log = ToyLog()
    try:
        yield log
    finally:
        await log.aclose()


class TestToyLog(EventLogContract):
    """A store written outside lograph passes the kit's base contract."""

    def open_log(self) -> AbstractAsyncContextManager[Any]:
        return _toy()


# --- the kit keeps its promises about tiers ---------------------------------------------------


class _HeadlessLog(ToyLog):
    capabilities = frozenset({Capability.LOAD_HEAD})

    async def load_head(self, thread: str, limit: int) -> tuple[int, list[tuple[int, bytes]], list[Event]]:
        raise NotImplementedError


class _Untested(EventLogContract):
    """Tests a store that declares ``load_head`` without the tier's cases."""

    def open_log(self) -> AbstractAsyncContextManager[Any]:
        return _toy_of(_HeadlessLog())


@asynccontextmanager
async def _toy_of(log: ToyLog) -> AsyncIterator[ToyLog]:
    yield log


class _Overtested(HeadLoaderContract):
    """Runs the ``load_head`` cases on a store that does not declare the tier."""

    def open_log(self) -> AbstractAsyncContextManager[Any]:
        return _toy()


@pytest.mark.anyio
@pytest.mark.parametrize("contract", [_Untested, _Overtested])
async def test_the_kit_fails_a_store_whose_declared_tiers_and_tested_tiers_differ(
    contract: type[EventLogContract],
) -> None:
    with pytest.raises(pytest.fail.Exception, match="load_head"):
        await contract().test_declares_exactly_the_tiers_it_is_tested_for()


def test_a_contract_without_open_log_says_what_to_define() -> None:
    with pytest.raises(NotImplementedError, match="must define open_log"):
        EventLogContract().open_log()


# --- capabilities(): the declaration, read once from the class -------------------------------


class _Forwarding:
    """A wrapper that passes every unknown attribute on to the store it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_capabilities_are_what_the_class_declares() -> None:
    from lograph.adapters.postgres import PostgresLog
    from lograph.adapters.sqlite import SqliteLog

    assert capabilities(MemoryLog()) == {Capability.RUNS}
    assert capabilities(ToyLog()) == frozenset()
    assert SqliteLog.capabilities == {Capability.INLINE_APPENDS, Capability.RUNS, Capability.TURNS}
    assert PostgresLog.capabilities == {Capability.LOAD_HEAD, Capability.RUNS, Capability.TURNS}
    assert capabilities(_HeadlessLog()) == {Capability.LOAD_HEAD}
    # a wrapper declares nothing of its own, whatever it passes on
    wrapped = _Forwarding(_HeadlessLog())
    assert wrapped.capabilities == {Capability.LOAD_HEAD}
    assert capabilities(wrapped) == frozenset()
    assert capabilities(FaultyLog(_HeadlessLog())) == frozenset()  # type: ignore[arg-type]


def test_a_declared_tier_the_class_does_not_implement_is_refused() -> None:
    class NoLoader(ToyLog):
        capabilities = frozenset({Capability.LOAD_HEAD})

    class NoKeyword(ToyLog):
        capabilities = frozenset({Capability.INLINE_APPENDS})

    class Unknown(ToyLog):
        capabilities = frozenset({"teleport"})

    class Keyword(ToyLog):
        capabilities = frozenset({"inline_appends"})  # the value is as good as the member

        async def append_batch(self, batch: Sequence[Append], *, inline: bool = False) -> Any:
            return await super().append_batch(batch)

    with pytest.raises(TypeError, match=r"NoLoader declares 'load_head' but has no load_head\(\)"):
        capabilities(NoLoader())
    with pytest.raises(TypeError, match=r"append_batch\(\.\.\., inline=\)"):
        capabilities(NoKeyword())
    with pytest.raises(TypeError, match=r"must be a set of lograph\.eventlog\.Capability"):
        capabilities(Unknown())
    assert capabilities(Keyword()) == {Capability.INLINE_APPENDS}
