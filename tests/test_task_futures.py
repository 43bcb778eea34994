"""A ``@task`` call's future and a task's cache, as LangGraph 1.2.24's functional API has them.

- ``future.cancel()`` stops a running task; nothing of it is recorded, so when the
  caller runs again (a resume) the call runs again. Awaiting a cancelled future raises
  the loop's own cancelled error on asyncio and ``concurrent.futures.CancelledError``
  on trio. ``cancel()`` is False once the task has finished.
- ``task.clear_cache(cache)`` / ``await task.aclear_cache(cache)`` drop that task's
  entries only.
- An ``@entrypoint`` cannot be a generator.
"""

from __future__ import annotations

import concurrent.futures
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import sniffio

from lograph.adapters.memory import InMemoryCache
from lograph.adapters.sqlite import SqliteCache
from lograph.eventlog import Kind
from lograph.runtime import CachePolicy, Command, entrypoint, interrupt, task
from tests._stores import open_saver
from tests.faults import bodies


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def cancelled_error() -> type[BaseException]:
    if sniffio.current_async_library() == "asyncio":
        import asyncio

        return asyncio.CancelledError
    return concurrent.futures.CancelledError


@pytest.mark.anyio
async def test_a_cancelled_task_is_stopped_not_recorded_and_runs_again_on_resume(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    seen: Counter[str] = Counter()

    @task
    async def slow(n: int) -> int:
        seen[f"start {n}"] += 1
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            seen[f"stopped {n}"] += 1
            raise
        return n

    @task
    async def quick(n: int) -> int:
        return n * 10

    async with open_saver(store_kind, tmp_path) as saver:

        @entrypoint(checkpointer=saver)
        async def flow(n: int) -> list[Any]:
            doomed, kept = slow(n), quick(n)
            await anyio.sleep(0.05)
            assert doomed.cancel() is True
            assert doomed.cancel() is True and doomed.cancelled()
            try:
                await doomed
            except cancelled_error():
                caught = "cancelled"
            value = await kept
            assert kept.cancel() is False and not kept.cancelled()
            return [caught, value, interrupt("more?")]

        first = await flow.ainvoke(2, cfg("t"))
        assert "__interrupt__" in first
        assert seen == {"start 2": 1, "stopped 2": 1}
        results = bodies(await saver.log.read("t"), Kind.TASK_RESULT)
        assert [r["name"] for r in results] == ["quick"]  # the cancelled call left nothing
        assert await flow.ainvoke(Command(resume="no"), cfg("t")) == ["cancelled", 20, "no"]
        assert seen == {"start 2": 2, "stopped 2": 2}  # replayed: called (and stopped) again


@pytest.mark.anyio
async def test_a_task_cancelled_before_it_starts_never_runs(anyio_backend: str) -> None:
    ran: list[int] = []

    @task
    async def work(n: int) -> int:
        ran.append(n)
        return n

    @entrypoint()
    async def flow(n: int) -> bool:
        future = work(n)
        future.cancel()  # before the task group started it
        try:
            await future
        except cancelled_error():
            return future.done()
        return False

    assert await flow.ainvoke(1) is True
    assert ran == []


def test_a_sync_entrypoint_cancels_from_its_worker_thread() -> None:
    import time

    @task
    async def waits() -> str:
        await anyio.sleep(5)
        return "late"

    @entrypoint()
    def flow(_: Any) -> str:
        future = waits()
        time.sleep(0.05)
        future.cancel()
        try:
            future.result()
        except BaseException as e:  # noqa: BLE001 - asyncio's CancelledError is one
            return type(e).__name__
        return "finished"

    assert flow.invoke(0) == "CancelledError"


@contextmanager
def a_cache(kind: str, tmp_path: Path) -> Iterator[Any]:
    if kind == "memory":
        yield InMemoryCache()
        return
    cache = SqliteCache(path=str(tmp_path / "cache.db"))
    try:
        yield cache
    finally:
        cache.close()


@pytest.mark.anyio
@pytest.mark.parametrize("cache_kind", ["memory", "sqlite"])
async def test_clearing_a_tasks_cache_drops_its_entries_only(
    anyio_backend: str, store_kind: str, cache_kind: str, tmp_path: Path,
) -> None:
    runs: Counter[str] = Counter()

    @task(cache_policy=CachePolicy())
    def double(n: int) -> int:
        runs["double"] += 1
        return 2 * n

    @task(cache_policy=CachePolicy())
    def triple(n: int) -> int:
        runs["triple"] += 1
        return 3 * n

    with a_cache(cache_kind, tmp_path) as cache:
        async with open_saver(store_kind, tmp_path) as saver:

            @entrypoint(checkpointer=saver, cache=cache)
            async def flow(n: int) -> int:
                return await double(n) + await triple(n)

            assert await flow.ainvoke(1, cfg("a")) == 5
            assert await flow.ainvoke(1, cfg("b")) == 5
            assert runs == {"double": 1, "triple": 1}
            await double.aclear_cache(cache)
            assert await flow.ainvoke(1, cfg("c")) == 5
            assert runs == {"double": 2, "triple": 1}
            triple.clear_cache(cache)
            assert await flow.ainvoke(1, cfg("d")) == 5
            assert runs == {"double": 2, "triple": 2}


def test_an_entrypoint_cannot_be_a_generator() -> None:
    def numbers(_: Any) -> Iterator[int]:
        yield 1

    async def anumbers(_: Any) -> Any:
        yield 1

    for fn in (numbers, anumbers):
        with pytest.raises(NotImplementedError, match="generator function"):
            entrypoint()(fn)
