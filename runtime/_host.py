"""The loop's host: one task group per event loop, for tasks no caller's task may own.

A streamed run must outlive the frames that read it: the reading task may be cancelled
(a client disconnects), and the stream closed from another task or by the loop's
finalizer of async generators. A task group entered in the generator would then be
exited in a task that did not enter it, which anyio refuses and which corrupts trio's
nursery stack. So the run is a task of the loop's host instead, and the stream only
reads from it.

Rules:
- The host is started on first use, once per event loop: a daemon thread enters the
  loop through ``anyio.from_thread.run`` (with the loop's token), which makes the host
  a task of the loop itself (asyncio: a task of no other; trio: a system task). The
  thread waits for the host to end, and ends with it.
- The host holds its task group open until the loop cancels it at shutdown (``asyncio.run``,
  an anyio runner and trio all do); a task still running then is cancelled with it.
- A task starts in a copy of the starting task's context (contextvars), as
  ``start_soon`` in that task would. It must catch its own errors: one escaping would
  end the host, and every task in it.
- A loop closed without cancelling its tasks leaves its host's thread parked (a daemon:
  it never delays the interpreter's exit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import TaskGroup
from anyio.lowlevel import EventLoopToken, RunVar


class _Host:
    __slots__ = ("ready", "tg")

    def __init__(self) -> None:
        self.tg: TaskGroup | None = None
        self.ready = anyio.Event()  # set once the task group is open (or will never be)

    async def serve(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self.tg = tg
                self.ready.set()
                await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            # the loop's shutdown, which cancels every task: the host ends there, as
            # the loop asks (an asyncio loop would report a cancellation re-raised
            # through the thread's call as an error of its shutdown)
            return
        finally:
            self.tg = None
            self.ready.set()


def _serve(host: _Host, token: EventLoopToken) -> None:
    try:
        anyio.from_thread.run(host.serve, token=token)
    except BaseException:  # noqa: BLE001 - the loop ended or cancelled its host: nothing waits for it
        pass


_host: RunVar[_Host | None] = RunVar("lograph.host", None)


async def start_hosted(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``fn()`` as a task of this event loop's host (see the module); returns
    once it is scheduled. RuntimeError if the loop is shutting down."""
    host = _host.get()
    if host is None:
        host = _Host()
        _host.set(host)
        threading.Thread(target=_serve, args=(host, anyio.lowlevel.current_token()),
                         name="lograph-host", daemon=True).start()
    if host.tg is None:
        await host.ready.wait()
        if host.tg is None:
            raise RuntimeError("the event loop is shutting down: no run can start on it")
    host.tg.start_soon(fn)
