"""The one bridge between the runtime and the asyncio-only drivers (aiosqlite, asyncpg).

A driver object belongs to the asyncio loop it was created on: its *home*. A call made
on the home loop runs directly; a call from anywhere else (a trio host, another asyncio
loop, the sync facade's portal) is submitted to the home loop with
``run_coroutine_threadsafe`` and awaited without blocking the caller's loop. On a trio
host the home is a private asyncio loop in one daemon helper thread, shared by every
adapter in the process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import sniffio

from lograph.runtime.lowlevel import on_portal_thread, portal

T = TypeVar("T")

_private_lock = threading.Lock()
_private_loop: asyncio.AbstractEventLoop | None = None


def _private() -> asyncio.AbstractEventLoop:
    """The process's helper asyncio loop, started on first use."""
    global _private_loop
    with _private_lock:
        if _private_loop is None or _private_loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="lograph-driver-loop", daemon=True).start()
            ready.wait()
            _private_loop = loop
        return _private_loop


def _running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    try:
        if sniffio.current_async_library() != "asyncio":
            return None
    except sniffio.AsyncLibraryNotFoundError:
        return None
    return asyncio.get_running_loop()


async def _wait(fut: concurrent.futures.Future[T]) -> T:
    """Await a concurrent future from any anyio backend; cancelling cancels the work."""
    loop = _running_asyncio_loop()
    if loop is not None:
        return await asyncio.wrap_future(fut, loop=loop)
    import trio

    done = anyio.Event()
    token = trio.lowlevel.current_trio_token()

    def wake(_: object) -> None:
        try:
            token.run_sync_soon(done.set)
        except trio.RunFinishedError:
            pass

    fut.add_done_callback(wake)
    try:
        await done.wait()
    except BaseException:
        fut.cancel()
        raise
    return fut.result()


def call_in() -> Callable[[Callable[[], None]], None]:
    """Called in a task: a thread-safe way to run a callable soon on that task's loop
    (how a wake-up reaches a waiter from another thread: the driver's home loop, say)."""
    loop = _running_asyncio_loop()
    if loop is not None:
        home = loop

        def call_soon(fn: Callable[[], None]) -> None:
            try:
                home.call_soon_threadsafe(fn)
            except RuntimeError:
                pass  # the waiter's loop is closed: nobody to wake

        return call_soon
    import trio

    token = trio.lowlevel.current_trio_token()

    def soon(fn: Callable[[], None]) -> None:
        try:
            token.run_sync_soon(fn)
        except trio.RunFinishedError:
            pass  # the waiter's loop ended: nobody to wake

    return soon


class Bridge:
    """Runs a driver's coroutines on the driver's home loop."""

    def __init__(self, home: asyncio.AbstractEventLoop) -> None:
        self.home = home

    @classmethod
    def here(cls) -> Bridge:
        """A bridge whose home is the current asyncio loop, or the private loop elsewhere."""
        loop = _running_asyncio_loop()
        return cls(loop if loop is not None else _private())

    @classmethod
    def of_sync_facade(cls) -> Bridge:
        """A bridge whose home is the sync facade's portal loop (it lives as long as the
        process): for a driver that sync code made, used by sync and async callers alike."""
        if on_portal_thread():
            return cls(asyncio.get_running_loop())
        return cls(portal().call(asyncio.get_running_loop))

    def is_home(self) -> bool:
        return _running_asyncio_loop() is self.home

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self.is_home():
            return await fn(*args)
        if self.home.is_closed():
            raise RuntimeError("the store's event loop is closed; open the store again")
        fut = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.home)
        return await _wait(fut)


async def _call(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await fn(*args)
