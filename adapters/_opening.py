"""``from_conn_string(...)``'s result, for every store: ``with`` in sync code, ``async with``.

``with`` opens and closes the store on the sync facade's portal (its loop becomes the
driver's home); ``async with`` opens it on the caller's loop (asyncio or trio). Using
``with`` inside a running event loop is an error naming ``async with``: it would block
the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from lograph.runtime.lowlevel import Checkpointer, in_event_loop, portal

S = TypeVar("S", bound=Checkpointer)


class Opening(Generic[S]):
    """Opens a saver with ``open()`` on entry and closes it on exit.

    ``once``: the context may be entered a single time (a second entry is an error
    saying to call ``from_conn_string`` again).
    """

    def __init__(self, name: str, open: Callable[[], Awaitable[S]], *, once: bool = False) -> None:
        self._name = name
        self._open = open
        self._once = once
        self._used = False
        self._saver: S | None = None

    def _claim(self) -> None:
        if self._once and self._used:
            raise RuntimeError(
                f"a {self._name}.from_conn_string(...) context can be entered once; "
                "call from_conn_string again to open the store again"
            )
        self._used = True

    def __enter__(self) -> S:
        if in_event_loop():
            raise RuntimeError(
                f"`with {self._name}.from_conn_string(...)` was used inside a running event "
                "loop, where it would block it; use `async with` instead"
            )
        self._claim()
        self._saver = portal().call(self._open)
        return self._saver

    def __exit__(self, *exc: object) -> None:
        saver, self._saver = self._saver, None
        if saver is not None:
            saver.close()

    async def __aenter__(self) -> S:
        self._claim()
        self._saver = await self._open()
        return self._saver

    async def __aexit__(self, *exc: object) -> None:
        saver, self._saver = self._saver, None
        if saver is not None:
            await saver.aclose()
