"""``stream_mode="tools"``: the lifecycle of each tool call, as LangGraph 1.2.24 streams it.

Rules:
- A LangChain callback handler (as LangGraph's): every tool run under the graph's
  callbacks (a ``ToolNode``'s calls, or a tool a node invokes itself, sync or async)
  reports to it. It streams dicts keyed by ``event``: ``tool-started``
  (``tool_call_id``, ``tool_name``, ``input``), ``tool-output-delta`` (``delta``, what
  the tool passes to ``ToolRuntime.emit_output_delta``), ``tool-finished``
  (``output``) or ``tool-error`` (``message``). ``tool_call_id`` is the model's call
  id, or the tool run's id for a tool invoked without one.
- A tool paused by ``interrupt()`` or stopped by a drain reports no error: it runs
  again when the thread is resumed, and reports its start again then.
- A tool tagged ``nostream`` is not streamed; a subgraph's tools only with
  ``subgraphs=True``. Nothing here is written to the log.
- A sync tool runs in a worker thread: its events are handed to the event loop's
  thread, and the tool goes on once the stream has them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any, TypeVar
from uuid import UUID

import anyio.from_thread
import anyio.lowlevel
from langchain_core.callbacks import BaseCallbackHandler

from ._context import GraphInterrupt
from ._errors import GraphDrained
from ._stream_messages import NOSTREAM, _StreamingCallbackHandler

__all__ = ["StreamToolsHandler", "output_delta_writer"]

T = TypeVar("T")

_writer: ContextVar[Callable[[Any], None] | None] = ContextVar("lograph_tool_output_writer", default=None)


def output_delta_writer() -> Callable[[Any], None] | None:
    """Where the running tool's ``emit_output_delta`` goes (None: no ``tools`` stream)."""
    return _writer.get()


class StreamToolsHandler(BaseCallbackHandler, _StreamingCallbackHandler):  # type: ignore[type-arg]
    """Sends each tool call's lifecycle events to the run's ``tools`` stream."""

    run_inline = True  # called in the tool's own context, in order
    taps_outputs = False

    def __init__(self, emit: Callable[..., None], subgraphs: bool) -> None:
        self.emit = emit  # (mode, chunk, ns): the stream's own
        self.subgraphs = subgraphs
        self.calls: dict[UUID, tuple[str, str, Token[Any]]] = {}  # run id -> (ns, call id, writer)
        self._thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()

    def _send(self, ns: str, payload: dict[str, Any]) -> None:
        if threading.get_ident() == self._thread:
            self.emit("tools", payload, ns)
        else:  # a sync tool's worker thread: wait until the stream has it
            anyio.from_thread.run_sync(self.emit, "tools", payload, ns, token=self._token)

    def on_tool_start(
        self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metadata or "langgraph_checkpoint_ns" not in metadata or (tags and NOSTREAM in tags):
            return
        ns = metadata["langgraph_checkpoint_ns"].rpartition("|")[0]
        if ns and not self.subgraphs:
            return
        call_id = kwargs.get("tool_call_id") or str(run_id)

        def delta(value: Any) -> None:
            self._send(ns, {"event": "tool-output-delta", "tool_call_id": call_id, "delta": value})

        self.calls[run_id] = (ns, call_id, _writer.set(delta))
        payload = {"event": "tool-started", "tool_call_id": call_id,
                   "tool_name": (serialized or {}).get("name") or kwargs.get("name") or ""}
        if inputs is not None:
            payload["input"] = inputs
        self._send(ns, payload)

    def _ended(self, run_id: UUID) -> tuple[str, str] | None:
        call = self.calls.pop(run_id, None)
        if call is None:
            return None
        try:
            _writer.reset(call[2])
        except ValueError:  # ended in another context than it started in: nothing to undo
            pass
        return call[0], call[1]

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if (call := self._ended(run_id)) is not None:
            self._send(call[0], {"event": "tool-finished", "tool_call_id": call[1], "output": output})

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._ended(run_id)
        if call is not None and not isinstance(error, GraphInterrupt | GraphDrained):
            self._send(call[0], {"event": "tool-error", "tool_call_id": call[1], "message": str(error)})

    # -- what LangChain asks of a streaming handler ----------------------------------

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output
