"""The sync facade: one process-wide blocking portal runs the async engine for sync callers.

Also :func:`loop_key`, what the runtime keys per-event-loop state by: through anyio
alone, so the runtime names no event loop library.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import sniffio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.lowlevel import RunVar

T = TypeVar("T")

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None


def portal() -> BlockingPortal:
    """The portal (an asyncio loop in a daemon thread), started on first use."""
    global _portal, _portal_cm
    with _lock:
        if _portal is None:
            _portal_cm = start_blocking_portal("asyncio")
            _portal = _portal_cm.__enter__()
            atexit.register(_stop)
        return _portal


def _stop() -> None:
    global _portal, _portal_cm
    with _lock:
        cm, _portal, _portal_cm = _portal_cm, None, None
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


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any, method: str, amethod: str) -> T:
    """Run ``fn(*args)`` on the portal; refuse inside a running event loop."""
    if in_event_loop():
        raise RuntimeError(
            f"{method}() was called inside a running event loop, where it would block it; "
            f"use `await ...{amethod}(...)` instead"
        )
    return portal().call(fn, *args)


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
