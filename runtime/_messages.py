"""The ``add_messages`` reducer and ``MessagesState``, on langchain-core's messages.

The messages are langchain-core's (``lograph.runtime`` re-exports its classes): chat
models, tools and callbacks accept only those. ``add_messages`` behaves as LangGraph's:

- ``left`` and ``right`` are a message-like value or a list of them; each becomes a
  message through langchain-core's ``convert_to_messages`` (a message, a
  ``(role, content)`` pair, a ``{"role": ..., "content": ...}`` dict, a string as a
  human message), and a chunk becomes its full message.
- A message without an id gets one, on a copy (``model_copy``): the messages given are
  never changed. The id comes from ``_ids.uuid4``, derived from the log at a step
  boundary, so a replay makes the same; left's id-less messages are named first.
- A message whose id is already present replaces that message, in its place; others
  are appended in order.
- ``RemoveMessage(id=...)`` deletes the message with that id (a later message with the
  same id in the same update brings it back); an id that is not there is a ValueError.
  ``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` drops everything before it: the result is
  what follows the last such marker in ``right``.
- ``format="langchain-openai"`` returns the merged messages in OpenAI's content format
  (langchain-core's ``convert_to_openai_messages``, back to messages), as LangGraph does.
  ``add_messages(format=...)`` with neither list gives the configured reducer.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    RemoveMessage,
    convert_to_messages,
    convert_to_openai_messages,
    message_chunk_to_message,
)

from ._ids import makes_ids, uuid4

REMOVE_ALL_MESSAGES = "__remove_all__"

Messages = list[Any] | Any
Format = Literal["langchain-openai"] | None


@makes_ids
def add_messages(left: Messages = None, right: Messages = None, *, format: Format = None) -> Any:
    """Merge ``right`` into ``left`` by id (see the module rules); returns a new list.

    ``add_messages(format="langchain-openai")`` (no lists) returns the reducer with that
    option set, for ``Annotated[list, add_messages(format=...)]``. Raises ValueError for
    one list without the other, an unknown ``format``, or a ``RemoveMessage`` whose id is
    not present; the lists and messages given are unchanged after any error.
    """
    if left is None and right is None:
        return partial(_add_messages, format=_checked_format(format))
    if left is None or right is None:
        given = "left" if left is not None else "right"
        raise ValueError(f"add_messages needs both 'left' and 'right', or neither; got only {given!r}")
    return _add_messages(left, right, format=_checked_format(format))


def _checked_format(format: Format) -> Format:
    if format not in (None, "langchain-openai"):
        raise ValueError(f"add_messages: unknown format={format!r}; use 'langchain-openai' or None")
    return format


@makes_ids
def _add_messages(left: Messages, right: Messages, *, format: Format = None) -> list[Any]:
    old = [_with_id(m) for m in _as_messages(left)]
    new = [_with_id(m) for m in _as_messages(right)]
    last_remove_all = None
    for i, m in enumerate(new):
        if isinstance(m, RemoveMessage) and m.id == REMOVE_ALL_MESSAGES:
            last_remove_all = i
    if last_remove_all is not None:
        return new[last_remove_all + 1:]
    merged = list(old)
    index = {m.id: i for i, m in enumerate(merged)}
    removed: set[str | None] = set()  # (every id is set by then)
    for m in new:
        at = index.get(m.id)
        if at is None:
            if isinstance(m, RemoveMessage):
                raise ValueError(
                    f"Attempting to delete a message with an ID that doesn't exist ({m.id!r})"
                )
            index[m.id] = len(merged)
            merged.append(m)
        elif isinstance(m, RemoveMessage):
            removed.add(m.id)
        else:
            removed.discard(m.id)
            merged[at] = m
    if removed:
        merged = [m for m in merged if m.id not in removed]
    if format == "langchain-openai":
        return convert_to_messages(convert_to_openai_messages(merged))
    return merged


def _as_messages(value: Messages) -> list[BaseMessage]:
    items = value if isinstance(value, list) else [value]
    return [message_chunk_to_message(m) for m in convert_to_messages(items)]


def _with_id(message: BaseMessage) -> BaseMessage:
    if message.id is not None:
        return message
    return message.model_copy(update={"id": uuid4()})


class MessagesState(TypedDict):
    """LangGraph's prebuilt state: one ``messages`` channel with the ``add_messages`` reducer."""

    messages: Annotated[list[AnyMessage], add_messages]
