"""The task group of a step that runs one task, without a cancel scope of its own.

A step's tasks run in a task group: the step ends once they and whatever they started
(``@task`` calls) have ended, and a failure cancels the rest. When a step has one task
(every step of a chain, an entrypoint's only step), that task runs in the step's own
frame, and anyio's task group around it (a cancel scope entered and left, on asyncio
with the current task looked up each time) costs more than the engine's whole work for
the step. A :class:`LoneGroup` stands in for it and keeps the same promises for what
the task starts:

- a child is started in ``host``, a task group that outlives the step (the run's own,
  or for a subgraph the group of the task that runs it), in its own cancel scope (its
  ``TaskHandle``'s, as a task group's children have), and counted here;
- ``join()`` waits for every child: the step does not end before them;
- ``cancel_scope.cancel()`` cancels the children (the task itself has returned when
  the engine cancels its group);
- a child that fails (with an ``Exception``: a task call's own errors are its result,
  so this is the store failing under it) cancels its siblings and fails the step from
  ``join()``, as a task group would raise it;
- if the step itself is cancelled or fails, ``abandon()`` cancels the children and
  waits for them, shielded, as a task group's exit does.

A task group would also cancel the task itself when a child fails; with no scope around
it, the child's future tells it instead: a call that ends without a result of its own
(it failed under the call, or the group cancelled it) sets its future to
:class:`StepFailed`, which no ``except Exception`` catches and no retry policy retries,
so the task ends where it awaits the call, and the step raises the child's failure.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from anyio.abc import TaskGroup


class StepFailed(BaseException):  # noqa: N818 - a control-flow signal, never seen by users
    """A call the lone task awaited ended without a result: the step fails with ``error``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class LoneGroup:
    __slots__ = ("error", "handles", "host", "idle", "live")

    def __init__(self, host: TaskGroup | LoneGroup) -> None:
        self.host = host
        self.live = 0  # children started and not ended
        self.handles: list[Any] = []  # their TaskHandles, while any runs
        self.idle: anyio.Event | None = None  # set when the last running child ends
        self.error: BaseException | None = None  # the first child failure

    @property
    def cancel_scope(self) -> LoneGroup:
        return self  # (``tg.cancel_scope.cancel()``, as the engine calls it on a task group)

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any,
                   name: object = None) -> Any:
        if self.live == 0:
            self.idle = anyio.Event()
        self.live += 1
        try:
            handle = self.host.start_soon(self._child, fn, args, name=name)
        except BaseException:
            self._ended()
            raise
        self.handles.append(handle)
        return handle

    async def _child(self, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as e:  # noqa: BLE001 - the step's failure, raised by join()
            if self.error is None:
                self.error = e
                self.cancel()
        finally:
            self._ended()

    def _ended(self) -> None:
        self.live -= 1
        if self.live == 0:
            self.handles.clear()
            if self.idle is not None:
                self.idle.set()

    def cancel(self) -> None:
        for handle in self.handles:
            handle.cancel()

    async def join(self) -> None:
        """Wait for the children; raise the first one's failure."""
        if self.live:
            assert self.idle is not None
            await self.idle.wait()
        if self.error is not None:
            raise self.error

    async def abandon(self) -> None:
        """The step is leaving by an exception: stop the children and wait for them."""
        if self.live:
            self.cancel()
            assert self.idle is not None
            with anyio.CancelScope(shield=True):
                await self.idle.wait()
