"""Node and task timeouts, as LangGraph 1.2.24 has them (``TimeoutPolicy``).

Rules:
- A timeout bounds one attempt of an async node or task: ``run_timeout`` its wall
  clock, ``idle_timeout`` the time it goes without progress. Progress is what the
  attempt shows of itself: a custom stream write, a ``@task`` call it starts, and (with
  ``refresh_on="heartbeat"`` only these) explicit heartbeats (``TaskContext.clock``).
- When one fires, the attempt is cancelled (a node cannot swallow it) and fails with
  ``NodeTimeoutError``, which retry policies and error handlers see as any failure; the
  attempt's writes are dropped (it returned nothing), its failure is recorded.
- A sync node or task cannot be cancelled in-process: a timeout on one is refused
  when the graph is compiled (or the task declared), with LangGraph's ValueError.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import anyio

from ._errors import NodeTimeoutError

__all__ = ["Clock", "TimeoutPolicy", "sync_timeout_unsupported", "timed"]


def _seconds(value: float | timedelta | None, field: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"{field} must be greater than 0")
    return seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutPolicy:
    """Limits on one attempt of a node or task (LangGraph's fields)."""

    run_timeout: float | timedelta | None = None
    """Seconds an attempt may take in all; never refreshed."""
    idle_timeout: float | timedelta | None = None
    """Seconds an attempt may go without progress."""
    refresh_on: Literal["auto", "heartbeat"] = "auto"
    """What refreshes ``idle_timeout``: ``"auto"``, any progress; ``"heartbeat"``,
    explicit heartbeats only."""

    @classmethod
    def coerce(cls, value: float | timedelta | TimeoutPolicy | None) -> TimeoutPolicy | None:
        """A policy with positive float seconds (a number or timedelta is a run
        timeout); None for no limit. ValueError for a limit that is not above zero."""
        if value is None:
            return None
        if not isinstance(value, TimeoutPolicy):
            value = cls(run_timeout=value)
        if value.refresh_on not in ("auto", "heartbeat"):
            raise ValueError("refresh_on must be 'auto' or 'heartbeat'")
        run = _seconds(value.run_timeout, "run_timeout")
        idle = _seconds(value.idle_timeout, "idle_timeout")
        if run is None and idle is None:
            return None
        if all(v is None or type(v) is float for v in (value.run_timeout, value.idle_timeout)):
            return value  # (already coerced: the same object)
        return cls(run_timeout=run, idle_timeout=idle, refresh_on=value.refresh_on)


def sync_timeout_unsupported(name: str, *, kind: Literal["Node", "Task"] = "Node") -> ValueError:
    return ValueError(
        "Node timeouts are only supported for async nodes because sync Python execution cannot "
        f"be safely cancelled in-process. {kind} {name!r} is sync."
    )


class Clock:
    """An attempt's progress clock: what refreshes its idle timeout."""

    __slots__ = ("auto", "last", "started")

    def __init__(self, policy: TimeoutPolicy) -> None:
        self.started = self.last = time.monotonic()
        self.auto = policy.refresh_on == "auto"

    def progress(self) -> None:
        """The attempt showed progress (a stream write, a task call)."""
        if self.auto:
            self.last = time.monotonic()

    def heartbeat(self) -> None:
        """An explicit heartbeat: refreshes the idle timeout in either mode."""
        self.last = time.monotonic()


async def timed(
    policy: TimeoutPolicy, name: str, call: Callable[[], Awaitable[Any]],
    set_clock: Callable[[Clock | None], None],
) -> Any:
    """``await call()`` within ``policy``'s limits; NodeTimeoutError naming ``name`` when
    one fires. ``set_clock`` gives the attempt's clock to the code that reports progress
    (and None once the attempt is over)."""
    clock = Clock(policy)
    run = policy.run_timeout
    idle = policy.idle_timeout
    fired: list[Literal["idle", "run"]] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while True:
            run_at = clock.started + run if run is not None else math.inf  # type: ignore[operator]
            idle_at = clock.last + idle if idle is not None else math.inf  # type: ignore[operator]
            at = min(run_at, idle_at)
            now = time.monotonic()
            if now >= at:
                fired.append("run" if run_at <= idle_at else "idle")
                scope.cancel()
                return
            await anyio.sleep(at - now)

    error: BaseException | None = None
    result: Any = None
    set_clock(clock)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, tg.cancel_scope)
            try:
                result = await call()
            except anyio.get_cancelled_exc_class():
                raise  # ours (absorbed by the task group) or the caller's (propagates)
            except BaseException as e:  # noqa: BLE001 - raised below, outside the task group
                error = e
            tg.cancel_scope.cancel()  # the watchdog
    finally:
        set_clock(None)
    if fired:  # (even if the attempt caught its cancellation and returned)
        raise NodeTimeoutError(
            name, time.monotonic() - clock.started, kind=fired[0],
            idle_timeout=idle, run_timeout=run,  # type: ignore[arg-type]
        ) from error
    if error is not None:
        raise error
    return result
