"""``stream_mode="messages"``: chat-model tokens and the messages nodes return, as they come.

Rules:
- A LangChain callback handler (LangGraph does it the same way): the run adds it to
  its callbacks, so every chat model called in a node or task (sync in a worker
  thread, or async) reports to it. It yields ``(message_chunk, metadata)``: each token
  chunk of a streaming model; a model that does not stream yields its final message
  once; when a node ends, the messages it returns that were not streamed yet (a
  message streamed as tokens is not yielded again; one its input already had neither).
- ``metadata`` is the model call's (or the node's): LangGraph's ``langgraph_*`` keys,
  ``thread_id``, the model's ``ls_*`` keys, and the caller's ``tags``.
- Nothing here is written to the log: tokens are a view of work in progress. Only the
  node's return value is recorded, at its end, as always. While this handler listens, a
  message without an id that a node or task returns gets one there (``with_ids``: on a
  copy, derived from the task's id), so the message streamed and the one the state
  keeps share it, as in LangGraph (whose handler sets a random id on the node's object).
- A model or node tagged ``nostream`` is not streamed; a subgraph's messages only
  with ``subgraphs=True``.
- The handler may be called from a worker thread (a sync node's model): it hands the
  chunk to the event loop's thread and waits until the stream has it, so a chunk is
  in the stream before the node goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar
from uuid import UUID

import anyio.from_thread
import anyio.lowlevel
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult

from ._types import Command

try:  # the marker that makes a chat model stream its tokens to a handler
    from langchain_core.tracers._streaming import _StreamingCallbackHandler
except ImportError:  # pragma: no cover - an older langchain-core
    _StreamingCallbackHandler = object  # type: ignore[assignment,misc]

__all__ = ["NOSTREAM", "StreamMessagesHandler", "_StreamingCallbackHandler", "with_ids"]

T = TypeVar("T")
NOSTREAM = "nostream"  # LangGraph's tag: do not stream this model's tokens
HIDDEN = "langsmith:hidden"


def _values(obj: Any) -> Sequence[Any]:
    """The top-level values of a state update (a dict, a pydantic model, a dataclass)."""
    if isinstance(obj, dict):
        return list(obj.values())
    if hasattr(type(obj), "model_fields") and not isinstance(obj, type):
        return [getattr(obj, k) for k in type(obj).model_fields]
    if is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name) for f in fields(obj)]
    return ()


def _messages_in(value: Any) -> Iterator[BaseMessage]:
    """The messages a node's output holds: itself, in a list, or in a state's values."""
    if isinstance(value, BaseMessage):
        yield value
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            if isinstance(item, BaseMessage):
                yield item
    else:
        for item in _values(value):
            if isinstance(item, BaseMessage):
                yield item
            elif isinstance(item, Sequence) and not isinstance(item, str):
                yield from (m for m in item if isinstance(m, BaseMessage))


def with_ids(output: Any, task_id: str) -> Any:
    """``output`` (a node's or task's return value) with each message it holds where
    ``_messages_in`` looks (itself, in a list, a dict's value or a list there, a
    Command's update) that has no id replaced by a copy with one derived from
    ``task_id``: the same ``output`` when none lacks one."""
    made = itertools.count()

    def fill(value: Any) -> Any:
        if isinstance(value, BaseMessage):
            if value.id is not None:
                return value
            digest = hashlib.sha256(f"{task_id}|message|{next(made)}".encode()).digest()
            return value.model_copy(update={"id": str(UUID(bytes=digest[:16], version=4))})
        if isinstance(value, Command):
            update = within(value.update)
            return value if update is value.update else dataclasses.replace(value, update=update)
        return within(value)

    def within(value: Any) -> Any:  # a list of messages (or of updates), or a dict of values
        if isinstance(value, list | tuple) and any(isinstance(v, BaseMessage | Command | dict) for v in value):
            items = [fill(v) if not isinstance(v, dict) else within(v) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else type(value)(items)
        if isinstance(value, dict):
            out = {k: fill(v) if isinstance(v, BaseMessage) else within_list(v) for k, v in value.items()}
            return value if all(out[k] is v for k, v in value.items()) else out
        return value

    def within_list(value: Any) -> Any:
        if isinstance(value, list | tuple) and any(isinstance(v, BaseMessage) for v in value):
            items = [fill(v) if isinstance(v, BaseMessage) else v for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else type(value)(items)
        return value

    return fill(output)


class StreamMessagesHandler(BaseCallbackHandler, _StreamingCallbackHandler):  # type: ignore[type-arg]
    """Sends ``(message, metadata)`` to the run's ``messages`` stream (see the rules)."""

    run_inline = True  # LangChain's async managers call it on the loop's thread, in order
    taps_outputs = False  # (a node's output is not a stream chunk here: see on_chain_end)

    def __init__(self, emit: Callable[..., None], subgraphs: bool) -> None:
        self.emit = emit  # (mode, chunk, ns): the stream's own
        self.subgraphs = subgraphs
        self.runs: dict[UUID, tuple[str, dict[str, Any]]] = {}  # run id -> (ns, metadata)
        self.seen: set[str] = set()
        self._thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()

    # -- where a chunk goes -------------------------------------------------------

    def _send(self, ns: str, message: BaseMessage, metadata: dict[str, Any]) -> None:
        if message.id is not None:
            self.seen.add(message.id)
        if threading.get_ident() == self._thread:
            self.emit("messages", (message, metadata), ns)
        else:  # a sync node's worker thread (or one of its own): wait until it is sent
            anyio.from_thread.run_sync(self.emit, "messages", (message, metadata), ns,
                                       token=self._token)

    def _track(self, run_id: UUID, metadata: dict[str, Any] | None, tags: list[str] | None) -> bool:
        if not metadata or "langgraph_checkpoint_ns" not in metadata:
            return False
        ns = metadata["langgraph_checkpoint_ns"].rpartition("|")[0]
        if ns and not self.subgraphs:
            return False
        if tags:
            user_tags = [t for t in tags if not t.startswith("seq:step")]
            if user_tags:
                metadata = {**metadata, "tags": user_tags}
        self.runs[run_id] = (ns, metadata)
        return True

    # -- chat models ----------------------------------------------------------------

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:
        if not tags or NOSTREAM not in tags:
            self._track(run_id, metadata, tags)

    def on_llm_new_token(
        self, token: str | list[str | dict[str, Any]], *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None, **kwargs: Any,
    ) -> None:
        if isinstance(chunk, ChatGenerationChunk) and (run := self.runs.get(run_id)):
            self._send(run[0], chunk.message, run[1])

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None and response.generations and response.generations[0]:
            generation = response.generations[0][0]
            if isinstance(generation, ChatGeneration) and generation.message.id not in self.seen:
                self._send(run[0], generation.message, run[1])

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.runs.pop(run_id, None)

    # -- nodes ----------------------------------------------------------------------

    def on_chain_start(
        self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
        parent_run_id: UUID | None = None, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:
        if not metadata or kwargs.get("name") != metadata.get("langgraph_node"):
            return  # not a node's or task's own run
        if (tags and HIDDEN in tags) or not self._track(run_id, metadata, None):
            return
        for message in _messages_in(inputs):  # what it was given is not news
            if message.id is not None:
                self.seen.add(message.id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is None:
            return
        updates = outputs if isinstance(outputs, list | tuple) else [outputs]
        for update in updates:
            if isinstance(update, Command):
                update = update.update
            for message in _messages_in(update):
                if message.id is None or message.id not in self.seen:
                    self._send(run[0], message, run[1])

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.runs.pop(run_id, None)

    # -- what LangChain asks of a streaming handler ----------------------------------

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output
