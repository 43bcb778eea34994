"""The turns tier's contract (``Capability.TURNS``): a plain run's turn on its thread, seen
from two logs on one store (as two processes have them), with the runs tier it guards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio

from ._contract import EventLogContract, chain
from ._port import Capability
from ._runs import NewRun


async def until(log: Any, thread: str, wanted: str) -> tuple[str, Any]:
    """Until ``log.try_turn(thread)`` answers ``wanted`` (a turn given back may be unlocked
    a moment later), that answer (a turn taken before that is given back)."""
    found: tuple[str, Any]
    with anyio.fail_after(10):
        while (found := await log.try_turn(thread))[0] != wanted:
            if found[0] == "taken":
                log.end_turn(thread)
            await anyio.sleep(0.01)
    return found


class TurnKeeperContract(EventLogContract):
    """The turns tier, with the base port's cases. A store's test class defines
    ``open_peer(log)`` as well: another opened log on ``log``'s store, as another process
    would open it (an async context manager)."""

    tier = Capability.TURNS

    def open_peer(self, log: Any) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError(
            f"{type(self).__name__} must define open_peer(log): an async context manager "
            "yielding another opened log on the same store")

    @asynccontextmanager
    async def _two(self) -> AsyncIterator[tuple[Any, Any]]:
        async with self.open_log() as a, self.open_peer(a) as b:
            yield a, b

    async def test_a_held_turn_is_busy_for_another_caller_until_given_back(self) -> None:
        async with self._two() as (a, b):
            assert (await a.try_turn("t"))[0] == "taken"
            assert await b.try_turn("t") == ("busy", None)
            assert await a.try_turn("t") == ("busy", None)  # once per holder
            assert (await b.try_turn("u"))[0] == "taken"  # other threads are free
            a.end_turn("t")
            await until(b, "t", "taken")
            assert (await a.try_turn("t"))[0] == "busy"
            b.end_turn("t")
            b.end_turn("u")
            await until(a, "u", "taken")
            a.end_turn("u")

    async def test_a_taken_turn_comes_with_the_threads_head(self) -> None:
        """(The run's first read, made once the turn was held.)"""
        async with self._two() as (a, b):
            assert await a.try_turn("t") == ("taken", (0, b""))
            events = chain(3)
            await a.append("t", events, 0)
            a.end_turn("t")
            assert await until(b, "t", "taken") == ("taken", (3, events[-1].hash))
            b.end_turn("t")

    async def test_a_thread_with_an_active_run_is_queued_and_nothing_is_held(self) -> None:
        async with self._two() as (a, b):
            await a.create_run(NewRun("r1", "t", b"input"))
            assert await a.try_turn("t") == ("queued", None)
            assert await b.try_turn("t") == ("queued", None)  # (not busy: nothing held)
            claimed = await b.claim_run("w", 30)
            assert claimed is not None and claimed[0].run_id == "r1"
            assert (await a.try_turn("t"))[0] == "queued"  # running
            await b.finish_run(claimed[1], "success")
            assert (await a.try_turn("t"))[0] == "taken"
            a.end_turn("t")

    async def test_no_recorded_run_starts_on_a_thread_whose_turn_is_held(self) -> None:
        """A claim passes over the held thread to the next one's run; an in-process place
        there waits, pending; both start once the turn is given back."""
        async with self._two() as (a, b):
            assert (await a.try_turn("t"))[0] == "taken"
            await b.create_run(NewRun("on-t", "t", b"input"))
            await b.create_run(NewRun("on-u", "u", b"input"))
            claimed = await b.claim_run("w", 30)
            assert claimed is not None and claimed[0].run_id == "on-u"
            assert await b.claim_run("w", 30) is None
            place, lease = await b.enter_run(NewRun("p", "v", b""), "me", 30)
            assert place.status == "running"  # (another thread: at once)
            await b.drop_run(lease)
            place, lease = await b.enter_run(NewRun("p2", "t", b""), "me", 30)
            assert place.status == "pending"
            assert (await b.take_run(lease, 30)).status == "pending"
            a.end_turn("t")
            with anyio.fail_after(10):
                while (claimed := await b.claim_run("w", 30)) is None:  # noqa: ASYNC110 - the other log unlocks
                    await anyio.sleep(0.01)
            assert claimed[0].run_id == "on-t"
            assert (await b.take_run(lease, 30)).status == "pending"  # behind on-t
            await b.finish_run(claimed[1], "success")
            assert (await b.take_run(lease, 30)).status == "running"
            assert (await a.try_turn("t"))[0] == "queued"
            await b.drop_run(lease)

    async def test_a_waiting_place_is_promoted_once_the_turn_is_free(self) -> None:
        async with self._two() as (a, b):
            assert (await a.try_turn("t"))[0] == "taken"
            place, lease = await b.enter_run(NewRun("p", "t", b""), "me", 30)
            assert place.status == "pending"
            a.end_turn("t")
            with anyio.fail_after(10):
                while (await b.take_run(lease, 30)).status != "running":  # noqa: ASYNC110 - the other log unlocks
                    await anyio.sleep(0.01)
            await b.drop_run(lease)
