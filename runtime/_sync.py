"""The sync facade: one process-wide blocking portal runs the async engine for sync callers."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import sniffio
from anyio.from_thread import BlockingPortal, start_blocking_portal

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
