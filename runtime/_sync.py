"""The sync facade: one process-wide blocking portal runs the async engine for sync callers.

A sync call blocks its caller until the work is done on the portal's loop (an asyncio
loop in a daemon thread), also when the caller's thread runs an event loop of its own
(a notebook cell, an async test, a sync helper called from async code): that loop
waits, as it would for LangGraph's sync methods. Two cases need more:

- The caller is code running on the portal's own loop (an async node of a sync run that
  calls a sync method): the portal cannot serve it while it waits, so the call runs on
  a portal of its own, started for it.
- The store's driver lives on the loop the caller would block (a store opened with
  ``async with`` on it): the work would wait for that loop forever. That call is
  refused, naming the async method to await instead (:func:`refuse_deadlock`).

Also :func:`loop_key`, what the runtime keys per-event-loop state by: through anyio
alone, so the runtime names no event loop library.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

import sniffio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.lowlevel import RunVar

T = TypeVar("T")

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None
_portal_thread: int | None = None


def portal() -> BlockingPortal:
    """The portal (an asyncio loop in a daemon thread), started on first use."""
    global _portal, _portal_cm, _portal_thread
    with _lock:
        if _portal is None:
            _portal_cm = start_blocking_portal("asyncio")
            _portal = _portal_cm.__enter__()
            _portal_thread = _portal.call(threading.get_ident)
            atexit.register(_stop)
        return _portal


def _stop() -> None:
    global _portal, _portal_cm, _portal_thread
    with _lock:
        cm, _portal, _portal_cm, _portal_thread = _portal_cm, None, None, None
    if cm is not None:
        try:
            cm.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing left to tell
            pass


def in_event_loop() -> bool:
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return True


def on_portal_thread() -> bool:
    """Whether the caller runs on the shared portal's loop (its thread)."""
    return _portal_thread is not None and threading.get_ident() == _portal_thread


@contextmanager
def caller_portal() -> Iterator[BlockingPortal]:
    """A portal the calling thread may block on: the shared one, or, for code running on
    the shared one's loop, a portal of its own for the length of the block."""
    if not on_portal_thread():
        yield portal()
        return
    with start_blocking_portal("asyncio") as own:
        yield own


class DriverHome(Protocol):
    def drives_this_loop(self) -> bool:
        """Whether the store's driver runs on the event loop running in this thread."""
        ...


def refuse_deadlock(store: DriverHome | None, method: str, amethod: str) -> None:
    """Raise RuntimeError if blocking this thread for ``method`` would wait forever: the
    store's driver runs on the event loop this thread runs, and the call needs it."""
    if store is not None and in_event_loop() and store.drives_this_loop():
        raise RuntimeError(
            f"{method}() would wait forever here: the store was opened with `async with` on "
            f"this event loop, and {method}() would block that loop while the store needs it; "
            f"use `await ...{amethod}(...)`, or open the store with a plain `with` (or in sync "
            "code) to use the sync methods"
        )


def run_sync(
    fn: Callable[..., Awaitable[T]], *args: Any, method: str, amethod: str,
    store: DriverHome | None = None,
) -> T:
    """Run ``fn(*args)`` on a portal and block until it is done (see the module).

    ``store``: the store the work uses, checked first by :func:`refuse_deadlock`.
    """
    refuse_deadlock(store, method, amethod)
    with caller_portal() as p:
        return p.call(fn, *args)


class LoopKey:
    """Stands for one running event loop: state kept per loop is keyed by it (weakly)."""

    __slots__ = ("__weakref__",)


_loop: RunVar[LoopKey | None] = RunVar("lograph.loop_key", None)


def loop_key() -> LoopKey:
    """The running event loop's key (asyncio or trio, through anyio's run variables).

    Keep per-loop state in a ``weakref.WeakKeyDictionary`` keyed by it: the key lives as
    long as its loop, so the state goes with the loop. A lock or a queue made on one
    loop must never be used from another.
    """
    key = _loop.get()
    if key is None:
        key = LoopKey()
        _loop.set(key)
    return key
