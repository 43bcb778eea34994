"""``from_conn_string(...)``'s result, for every store: ``with`` in sync code, ``async with``.

``with`` opens and closes the store on the sync facade's portal (its loop becomes the
driver's home), also inside a running event loop (a notebook cell), which waits for it;
``async with`` opens it on the caller's loop (asyncio or trio).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from lograph.runtime.lowlevel import Checkpointer, on_portal_thread, portal

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
        if on_portal_thread():  # async code that lograph's sync API runs: its loop is busy
            raise RuntimeError(
                f"`with {self._name}.from_conn_string(...)` inside async code run by a sync "
                "call of lograph would wait for itself; use `async with` there"
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
