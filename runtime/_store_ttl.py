"""The TTL sweeper every lograph store has: deletes expired items now and then.

Expired items are invisible to reads as soon as they expire; the sweeper only frees
their space. Two ways to run it:

- ``store.start_ttl_sweeper()`` (as LangGraph's stores): a daemon thread sweeps every
  ``sweep_interval_minutes`` (the store's ``ttl`` config, else 5) until
  ``stop_ttl_sweeper()``; returns a ``concurrent.futures.Future`` (cancelling it stops
  the thread too).
- ``await store.run_ttl_sweeper()`` in a task group (asyncio or trio): sweeps until
  cancelled, on the caller's event loop.

LangGraph spells these calls sync on its sync stores and async on its async ones; one
lograph store class serves both, so ``sweep_ttl``, ``start_ttl_sweeper`` and
``stop_ttl_sweeper`` called inside a running event loop return an awaitable (``await
store.sweep_ttl()`` works as on LangGraph's async stores), as the savers' ``setup()``
does, and run at once elsewhere.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any

import anyio
import anyio.to_thread

from ._store import TTLConfig
from ._sync import in_event_loop

__all__ = ["Sweeper"]

log = logging.getLogger("lograph.store")


class Sweeper:
    """Mixin: the sweeper's control, over the store's ``sweep_ttl``/``asweep_ttl``."""

    ttl_config: TTLConfig | None
    _sweeper: threading.Thread | None = None
    _sweeper_stop: threading.Event | None = None

    def _sweep_now(self) -> int:
        """Delete the expired items now (blocking); how many."""
        raise NotImplementedError

    def sweep_ttl(self) -> Any:
        """Delete the expired items now; how many (an awaitable inside an event loop)."""
        if in_event_loop():
            return self.asweep_ttl()
        return self._sweep_now()

    async def asweep_ttl(self) -> int:
        """Delete the expired items now; how many."""
        raise NotImplementedError

    def _interval(self, minutes: float | None) -> float:
        if minutes is None and self.ttl_config:
            minutes = self.ttl_config.get("sweep_interval_minutes")
        minutes = 5 if minutes is None else minutes
        if not isinstance(minutes, int | float) or isinstance(minutes, bool) or minutes <= 0:
            raise ValueError(f"sweep_interval_minutes must be a number > 0, not {minutes!r}")
        return float(minutes) * 60.0

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> Any:
        """Sweep every ``sweep_interval_minutes`` on a daemon thread (see the module);
        its future (inside an event loop: an awaitable of it)."""
        if in_event_loop():
            future = self._start(sweep_interval_minutes)

            async def started() -> concurrent.futures.Future[None]:
                return future

            return started()
        return self._start(sweep_interval_minutes)

    def _start(self, sweep_interval_minutes: float | None) -> concurrent.futures.Future[None]:
        seconds = self._interval(sweep_interval_minutes)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self._sweeper is not None and self._sweeper.is_alive():
            raise RuntimeError("the TTL sweeper is already running; stop_ttl_sweeper() first")
        stop = self._sweeper_stop = threading.Event()

        def loop() -> None:
            try:
                while not stop.wait(seconds):
                    try:
                        swept = self._sweep_now()
                    except Exception:
                        log.exception("a TTL sweep failed; the sweeper goes on")
                    else:
                        if swept:
                            log.info("the TTL sweeper deleted %d expired items", swept)
            finally:
                if not done.done():
                    done.set_result(None)

        done.add_done_callback(lambda f: stop.set() if f.cancelled() else None)
        self._sweeper = threading.Thread(target=loop, name="lograph-ttl-sweeper", daemon=True)
        self._sweeper.start()
        return done

    def stop_ttl_sweeper(self, timeout: float | None = None) -> Any:
        """Stop the sweeper thread; whether it stopped within ``timeout`` seconds (inside an
        event loop: an awaitable of that, which waits on a worker thread)."""
        if in_event_loop():
            return anyio.to_thread.run_sync(self._stop, timeout)
        return self._stop(timeout)

    def _stop(self, timeout: float | None) -> bool:
        thread, stop = self._sweeper, self._sweeper_stop
        if thread is None or stop is None:
            return True
        stop.set()
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._sweeper = None
        return True

    async def run_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep every ``sweep_interval_minutes`` on this event loop until cancelled."""
        seconds = self._interval(sweep_interval_minutes)
        while True:
            await anyio.sleep(seconds)
            try:
                swept = await self.asweep_ttl()
            except Exception:
                log.exception("a TTL sweep failed; the sweeper goes on")
            else:
                if swept:
                    log.info("the TTL sweeper deleted %d expired items", swept)
