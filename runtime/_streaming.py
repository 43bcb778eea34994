"""Streaming: a run's chunks as an async iterator, and the one sync bridge for it.

Rules:
- The run emits without waiting (``emit`` is called from inside the engine), but at
  each step's end it waits until the consumer has taken everything emitted so far: the
  run is never more than a step ahead, and a resumed stream runs nothing before its
  reader asks for the first chunk.
- The run is a task of the loop's host (``_host``), never of the generator's frame:
  the generator only reads, so it may be closed from any task, by the loop's finalizer
  of async generators, or left by a cancelled reader, with no cancel scope to unwind.
- A stream that ends before its run (closed, dropped, its reader cancelled) cancels
  the run, as cancelling ``ainvoke`` would: at the step boundary where it waits for
  its reader, or in the middle of a step the reader was waiting on (the step's
  finished tasks keep their recorded writes; a resumed run does not run them again).
  The run records that it was cancelled, and the close waits (shielded) until it has,
  so whoever reads the thread next sees where it stopped.
- The sync ``stream()`` pumps the async stream on the blocking portal's loop, one item
  at a time: the run advances only as fast as the consuming thread reads; closing it
  closes the async stream there and returns once the run has stopped.
"""

from __future__ import annotations

import concurrent.futures
import functools
import queue
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._host import start_hosted
from ._invoke import run_graph
from ._sync import DriverHome, caller_portal, refuse_deadlock

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from ._compiled import CompiledGraph

STREAM_MODES = ("values", "updates", "custom", "debug", "messages", "checkpoints", "tasks", "tools")


def stream_modes(given: Any, what: str = "stream_mode") -> list[str]:
    """``given`` (one mode or several) as a list; ValueError naming an unknown one."""
    modes = [given] if isinstance(given, str) else list(given)
    for m in modes:
        if m not in STREAM_MODES:
            raise ValueError(f"unknown {what} {m!r}; use one of {STREAM_MODES}")
    return modes


def print_chunk(mode: str, chunk: Any, ns: str = "") -> None:
    """Print one chunk to stdout as LangGraph's ``print_mode`` (and ``debug=True``) does:
    ``[mode]`` in bold, a subgraph's namespace in yellow, then the chunk's repr."""
    parts = [f"\033[1m[{mode}]\033[0m"]
    if ns:
        parts.append(f"\033[1;30;33m[graph={tuple(ns.split('|'))}]\033[0m")
    parts.append(repr(chunk))
    print(" ".join(parts))  # printing is what print_mode asks for


def _shown(mode: str, ns: str, subgraphs: bool) -> bool:
    """A chunk reaches a stream (or its printout): this graph's, or a subgraph's with
    ``subgraphs=True`` (custom chunks always)."""
    return subgraphs or not ns or mode == "custom"


def _handlers(modes: Any, emit: Callable[..., None], subgraphs: bool) -> tuple[Any, ...]:
    """The callback handlers the modes need: "messages" and "tools" come from LangChain
    callback handlers (chat models and tools report to them)."""
    handlers: tuple[Any, ...] = ()
    if "messages" in modes:
        from ._stream_messages import StreamMessagesHandler
        handlers += (StreamMessagesHandler(emit, subgraphs),)
    if "tools" in modes:
        from ._stream_tools import StreamToolsHandler
        handlers += (StreamToolsHandler(emit, subgraphs),)
    return handlers


async def run_printed(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, print_mode: Any,
    **kwargs: Any,
) -> Any:
    """``run_graph`` that prints the chunks of ``print_mode`` as they come (an invoke
    that streams nothing else); returns what ``invoke`` returns."""
    printed = stream_modes(print_mode, "print_mode")

    def emit(mode: str, chunk: Any, ns: str = "") -> None:
        if mode in printed and _shown(mode, ns, False):
            print_chunk(mode, chunk)

    return await run_graph(graph, input, config, emit=emit, modes=tuple(printed),
                           handlers=_handlers(printed, emit, False), **kwargs)


class _Feed:
    """A streamed run's two ends: the run (a task of the loop's host) emits into it and
    waits on it at each step's end; the stream reads from it and closes it.

    Closing (from any task) cancels the run's scope; ``stopped`` is set once the run
    is over (its outcome recorded, the thread's turn given back)."""

    __slots__ = ("arrived", "closed", "done", "drained", "error", "items", "scope", "stopped")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.arrived = anyio.Event()  # set when an item, or the end, is there to take
        self.drained = anyio.Event()  # set when the reader has taken all emitted so far
        self.drained.set()
        self.closed = False
        self.done = False
        self.error: BaseException | None = None
        self.scope = anyio.CancelScope()  # around the run: cancelled by close()
        self.stopped = anyio.Event()

    def put(self, item: Any) -> None:
        if self.closed:  # nobody reads any more (the run is being cancelled)
            return
        if self.drained.is_set():
            self.drained = anyio.Event()
        self.items.append(item)
        self.arrived.set()

    async def pace(self) -> None:
        """At each step's end: wait until the reader has taken everything (the run is
        never more than a step ahead)."""
        await self.drained.wait()

    async def take(self) -> Any:
        """The next item, or ``_END`` after the last; the run's error after its items."""
        while not self.items:
            self.drained.set()  # the reader asks for more than the run emitted
            if self.done:
                if self.error is not None:
                    raise self.error
                return _END
            arrived = self.arrived = anyio.Event()
            await arrived.wait()
        return self.items.popleft()

    def close(self) -> None:
        """Stop the run: it records that it was cancelled (again: nothing)."""
        self.closed = True
        self.items.clear()
        self.scope.cancel()

    async def run(self, runs: Callable[[], Awaitable[Any]]) -> None:
        try:
            with self.scope:
                await runs()
        except anyio.get_cancelled_exc_class():  # the loop is shutting down its host
            raise
        except BaseException as e:  # noqa: BLE001 - handed to the reader (never to the host)
            self.error = e
        finally:
            self.done = True
            self.arrived.set()
            self.stopped.set()


_END = object()


def _shaper(modes: list[str], printed: list[str], single: bool, subgraphs: bool,
            put: Callable[[Any], None]) -> Callable[..., None]:
    """The run's ``emit``: prints the chunks of ``printed``, and ``put``s those of
    ``modes`` as a stream yields them."""

    def emit(mode: str, chunk: Any, ns: str = "") -> None:
        if printed and mode in printed and _shown(mode, ns, subgraphs):
            print_chunk(mode, chunk, ns)
        if mode in modes and _shown(mode, ns, subgraphs):
            item = (chunk,) if single else (mode, chunk)
            if subgraphs:
                item = (tuple(ns.split("|")) if ns else (), *item)
            put(item[0] if len(item) == 1 else item)

    return emit


async def stream_run(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, stream_mode: Any,
    durability: str | None, interrupt_before: Any, interrupt_after: Any, subgraphs: bool,
    context: Any = None, print_mode: Any = (), control: Any = None,
) -> AsyncGenerator[Any, None]:
    """Yield the run's chunks: ``chunk`` (one mode) or ``(mode, chunk)``; with
    ``subgraphs=True`` each is prefixed by the namespace of the graph it comes from.
    The chunks of ``print_mode`` are printed (they are streamed only if asked too).

    The run is a task of the loop's host (``_host``), started when the first chunk is
    asked for; see the module's rules for how it stops."""
    modes = stream_modes(stream_mode)
    printed = stream_modes(print_mode, "print_mode")
    every = (*modes, *(m for m in printed if m not in modes))
    feed = _Feed()
    emit = _shaper(modes, printed, isinstance(stream_mode, str), subgraphs, feed.put)

    async def runs() -> None:
        await run_graph(graph, input, config, durability=durability, emit=emit,
                        interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                        modes=every, pace=feed.pace, context=context,
                        handlers=_handlers(every, emit, subgraphs), control=control)

    await start_hosted(functools.partial(feed.run, runs))
    try:
        while (item := await feed.take()) is not _END:
            yield item
    finally:
        if not feed.stopped.is_set():  # closed (from any task), or its reader cancelled
            feed.close()
            with anyio.CancelScope(shield=True):  # so the thread shows where it stopped
                await feed.stopped.wait()


async def run_collected(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, stream_mode: Any,
    subgraphs: bool, print_mode: Any = (), **kwargs: Any,
) -> list[Any]:
    """What ``stream_run`` would yield, as a list (``invoke`` with a ``stream_mode``):
    the run is the caller's, as an ``invoke``'s is, and cancelled with it."""
    modes = stream_modes(stream_mode)
    printed = stream_modes(print_mode, "print_mode")
    every = (*modes, *(m for m in printed if m not in modes))
    out: list[Any] = []
    emit = _shaper(modes, printed, isinstance(stream_mode, str), subgraphs, out.append)
    await run_graph(graph, input, config, emit=emit, modes=every,
                    handlers=_handlers(every, emit, subgraphs), **kwargs)
    return out


def stream_sync(
    chunks_of: Callable[[], AsyncGenerator[Any, None]], *, store: DriverHome | None = None,
) -> Iterator[Any]:
    """The items of the async iterator ``chunks_of()`` makes, in a sync caller (which
    blocks between items, also inside a running event loop: see ``_sync``)."""
    refuse_deadlock(store, "stream", "astream")
    with caller_portal() as the_portal:
        yield from _pumped(the_portal, chunks_of)


def _pumped(the_portal: BlockingPortal, chunks_of: Callable[[], AsyncGenerator[Any, None]]) -> Iterator[Any]:
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    asked: list[anyio.Event] = []  # set when this thread wants the next item (or stops)
    stop: list[bool] = []  # this thread stops reading: close the stream

    async def pump() -> None:
        try:
            async with aclosing(chunks_of()) as chunks:
                async for item in chunks:
                    want = anyio.Event()
                    asked.append(want)
                    items.put(("item", item))
                    await want.wait()  # the run advances only as fast as this thread reads
                    if stop:
                        break  # closed here, so the run is over when this task ends
        except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
            items.put(("error", e))
        else:
            items.put(("end", None))

    future = the_portal.start_task_soon(pump)
    try:
        while True:
            kind, value = items.get()
            if kind == "item":
                yield value
                the_portal.call(asked.pop().set)
            elif kind == "error":
                raise value
            else:
                return
    finally:
        if not future.done():  # closed early: stop the run and wait until it has stopped
            stop.append(True)
            if asked:  # (between items, as a close() is; else in the middle of one)
                the_portal.call(asked.pop().set)
            else:
                future.cancel()
            concurrent.futures.wait([future])
