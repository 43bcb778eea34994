"""Streaming: a run's chunks as an async iterator, and the one sync bridge for it.

Rules:
- The run emits without waiting (``emit`` is called from inside the engine), but at
  each step's end it waits until the consumer has taken everything emitted so far: the
  run is never more than a step ahead, so closing the stream early stops it before the
  next step (recorded as cancelled), as a LangGraph generator would.
- The sync ``stream()`` pumps the async stream on the blocking portal's loop, one item
  at a time: the run advances only as fast as the consuming thread reads.
"""

from __future__ import annotations

import concurrent.futures
import queue
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio

from ._invoke import run_graph
from ._sync import DriverHome, caller_portal, refuse_deadlock

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from ._compiled import CompiledGraph

STREAM_MODES = ("values", "updates", "custom", "debug", "messages", "checkpoints", "tasks")


def stream_modes(given: Any, what: str = "stream_mode") -> list[str]:
    """``given`` (one mode or several) as a list; ValueError naming an unknown one,
    NotImplementedError for LangGraph's ``tools`` mode."""
    modes = [given] if isinstance(given, str) else list(given)
    for m in modes:
        if m == "tools":
            raise NotImplementedError(
                f"{what}='tools' (LangGraph's tool-call lifecycle events) is not implemented "
                "in lograph yet; stream 'updates' or 'messages' for the tools' results")
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
    """The callback handlers the modes need: "messages" comes from a LangChain callback
    handler (chat models report to it)."""
    if "messages" not in modes:
        return ()
    from ._stream_messages import StreamMessagesHandler
    return (StreamMessagesHandler(emit, subgraphs),)


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


async def stream_run(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, stream_mode: Any,
    durability: str | None, interrupt_before: Any, interrupt_after: Any, subgraphs: bool,
    context: Any = None, print_mode: Any = (),
) -> AsyncGenerator[Any, None]:
    """Yield the run's chunks: ``chunk`` (one mode) or ``(mode, chunk)``; with
    ``subgraphs=True`` each is prefixed by the namespace of the graph it comes from.
    The chunks of ``print_mode`` are printed (they are streamed only if asked too)."""
    modes = stream_modes(stream_mode)
    printed = stream_modes(print_mode, "print_mode")
    single = isinstance(stream_mode, str)
    # The run emits without waiting (emit is called from inside the engine), but at
    # each step's end it waits until the consumer has taken everything emitted so
    # far: the run is never more than a step ahead, so closing the stream early stops
    # it before the next step, as a LangGraph generator would.
    send, receive = anyio.create_memory_object_stream[Any](float("inf"))
    drained = anyio.Event()
    drained.set()

    def emit(mode: str, chunk: Any, ns: str = "") -> None:
        nonlocal drained
        if printed and mode in printed and _shown(mode, ns, subgraphs):
            print_chunk(mode, chunk, ns)
        if mode in modes and _shown(mode, ns, subgraphs):
            if drained.is_set():
                drained = anyio.Event()
            item = (chunk,) if single else (mode, chunk)
            if subgraphs:
                item = (tuple(ns.split("|")) if ns else (), *item)
            send.send_nowait(item[0] if len(item) == 1 else item)

    async def pace() -> None:
        await drained.wait()

    failed: list[Exception] = []

    every = (*modes, *(m for m in printed if m not in modes))

    async def produce() -> None:
        handlers = _handlers(every, emit, subgraphs)
        async with send:
            try:
                await run_graph(graph, input, config, durability=durability, emit=emit,
                                interrupt_before=interrupt_before,
                                interrupt_after=interrupt_after, modes=every, pace=pace,
                                context=context, handlers=handlers)
            except Exception as e:  # noqa: BLE001 - raised as it is, after the task group
                failed.append(e)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        try:
            async with receive:
                async for item in receive:
                    yield item
                    if not receive.statistics().current_buffer_used:
                        drained.set()  # the consumer asks for more than the run emitted
        except GeneratorExit:  # closed early: stop the run (recorded as cancelled)
            tg.cancel_scope.cancel()
    if failed:
        raise failed[0]



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
    asked: list[anyio.Event] = []  # set when this thread wants the next item

    async def pump() -> None:
        try:
            # closed here, in this task, also when cancelled (an async generator left to
            # the loop's finalizer would exit its task group from another task)
            async with aclosing(chunks_of()) as chunks:
                async for item in chunks:
                    want = anyio.Event()
                    asked.append(want)
                    items.put(("item", item))
                    await want.wait()  # the run advances only as fast as this thread reads
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
        if not future.done():  # closed early: cancel the run and wait until it has stopped
            future.cancel()
            concurrent.futures.wait([future])

