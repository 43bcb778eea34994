"""``astream_events``: langchain-core's event stream of a run (``version="v1"`` or ``"v2"``).

Rules:
- langchain-core builds the events, as for any ``Runnable``: its handler joins the run's
  callbacks, so the callback tree lograph already reports (graph -> node or task ->
  what they call) is the event tree, and the graph's stream (default mode
  ``updates``) becomes the root run's ``on_chain_stream`` events.
- A node's or task's output is its run's one stream chunk (``on_chain_stream`` before
  its ``on_chain_end``), as LangGraph streams it when a streaming handler listens.
- langchain-core's v2 handler is async but never waits; lograph reports from sync code
  (the event loop's thread, or a sync node's worker thread), so it is called through
  an adapter that runs each of its coroutines to its end at once, in order.
- asyncio only: langchain-core's event stream runs on asyncio tasks and loops; on trio
  it is refused with an error saying so (stream with ``astream`` instead).
- Nothing here reaches the log: events are a view of the run, like its stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import sniffio

if TYPE_CHECKING:
    from ._compiled import CompiledGraph

__all__ = ["astream_events", "tap_output"]


async def astream_events(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, version: str,
    filters: dict[str, Any], kwargs: dict[str, Any],
) -> AsyncIterator[dict[str, Any]]:
    """The run's events as langchain-core's ``Runnable.astream_events`` yields them."""
    if version == "v3":
        raise NotImplementedError(
            "astream_events(version='v3') (LangGraph's experimental content-block protocol) "
            "is not implemented in lograph; use version='v2' or astream(stream_mode=...)")
    if version not in ("v1", "v2"):
        raise ValueError(f"astream_events: version must be 'v1' or 'v2', got {version!r}")
    if sniffio.current_async_library() != "asyncio":
        raise RuntimeError(
            "astream_events runs on langchain-core's asyncio machinery, and this program "
            "runs on trio: stream the run with astream(stream_mode=[...]) (values, "
            "updates, messages, tasks, ...), or run it on asyncio")
    from langchain_core.tracers.event_stream import (
        _astream_events_implementation_v1,
        _astream_events_implementation_v2,
    )

    impl = _astream_events_implementation_v2 if version == "v2" else _astream_events_implementation_v1
    events: Any = impl(_AsRunnable(graph), input, config=config, **filters, **kwargs)  # type: ignore[arg-type]
    async with aclosing(events):  # closed here: its finally stops the run, and waits
        async for event in events:
            yield event


class _AsRunnable:
    """What langchain-core's event stream asks of a runnable: its name and ``astream``."""

    def __init__(self, graph: CompiledGraph) -> None:
        self.graph = graph

    def get_name(self) -> str:
        return str(getattr(self.graph.io, "run_name", self.graph.name))

    def astream(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if config and isinstance(config.get("callbacks"), list):
            config = {**config, "callbacks": [_inline(h) for h in config["callbacks"]]}
        return self.graph.astream(input, config, **kwargs)


def _inline(handler: Any) -> Any:
    from langchain_core.tracers.event_stream import _AstreamEventsCallbackHandler

    return _Inline.make(handler) if isinstance(handler, _AstreamEventsCallbackHandler) else handler


class _Inline:
    """A sync callback handler that runs an async one's coroutines to their end at once
    (for handlers whose coroutines never wait, as langchain-core's event streamer)."""

    _cls: type | None = None

    @classmethod
    def make(cls, inner: Any) -> Any:
        if cls._cls is None:
            cls._cls = _inline_class()
        return cls._cls(inner)


def _inline_class() -> type:
    from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    def forward(name: str) -> Callable[..., None]:
        def method(self: Any, *args: Any, **kwargs: Any) -> None:
            _finish(getattr(self.inner, name)(*args, **kwargs))
        method.__name__ = name
        return method

    namespace: dict[str, Any] = {
        name: forward(name) for name in dir(AsyncCallbackHandler) if name.startswith("on_")
    }

    def __init__(self: Any, inner: Any) -> None:  # noqa: N807 - a method of the class built here
        self.inner = inner

    def tap_output_aiter(self: Any, run_id: Any, output: Any) -> Any:
        return self.inner.tap_output_aiter(run_id, output)

    def tap_output_iter(self: Any, run_id: Any, output: Any) -> Any:
        return self.inner.tap_output_iter(run_id, output)

    namespace.update(__init__=__init__, tap_output_aiter=tap_output_aiter,
                     tap_output_iter=tap_output_iter, run_inline=True, raise_error=False)
    return type("InlineEventsHandler", (BaseCallbackHandler, _StreamingCallbackHandler), namespace)


def _finish(result: Any) -> None:
    if not isinstance(result, Coroutine):
        return
    try:
        result.send(None)
    except StopIteration:
        return
    result.close()
    raise RuntimeError("an astream_events callback waited on something; lograph runs them inline")


async def tap_output(manager: Any, output: Any) -> None:
    """Show ``output`` as the run's one stream chunk to the streaming handlers that tap
    outputs (astream_events'), before its end."""
    for handler in manager.handlers:
        tap = getattr(handler, "tap_output_aiter", None)
        if tap is None or not getattr(handler, "taps_outputs", True):
            continue
        async for _ in tap(manager.run_id, _one(output)):
            pass


async def _one(value: Any) -> AsyncIterator[Any]:
    yield value
