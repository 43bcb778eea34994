"""Chat message types and the ``add_messages`` reducer.

lograph ships small message dataclasses so graphs run with no LangChain installed;
langchain-core message objects (anything with ``.content`` and ``.id``) pass through
``add_messages`` unchanged and are stored by the codec when that package is present.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, TypedDict

from lograph.eventlog import register_type

from ._ids import uuid4


@dataclass
class BaseMessage:
    content: Any
    id: str | None = None
    name: str | None = None
    additional_kwargs: dict[str, Any] = field(default_factory=dict)
    type: ClassVar[str] = "base"


@register_type
@dataclass
class HumanMessage(BaseMessage):
    type: ClassVar[str] = "human"


@register_type
@dataclass
class AIMessage(BaseMessage):
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    type: ClassVar[str] = "ai"


@register_type
@dataclass
class SystemMessage(BaseMessage):
    type: ClassVar[str] = "system"


@register_type
@dataclass
class ToolMessage(BaseMessage):
    tool_call_id: str = ""
    type: ClassVar[str] = "tool"


@register_type
@dataclass
class RemoveMessage(BaseMessage):
    """Passed to ``add_messages``: remove the message with this id."""

    type: ClassVar[str] = "remove"


_ROLES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage, "user": HumanMessage, "ai": AIMessage, "assistant": AIMessage,
    "system": SystemMessage, "tool": ToolMessage,
}


def to_message(value: Any) -> Any:
    """A message from a message, a ``(role, content)`` pair, a dict or a string."""
    if hasattr(value, "content") and hasattr(value, "id"):
        return value
    if isinstance(value, str):
        return HumanMessage(content=value)
    if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[0], str):
        role, content = value
        return _message_for(role)(content=content)
    if isinstance(value, dict):
        data = dict(value)
        role = data.pop("role", data.pop("type", "human"))
        return _message_for(role)(**data)
    raise TypeError(f"cannot turn {type(value).__name__} {value!r} into a chat message")


def _message_for(role: str) -> type[BaseMessage]:
    try:
        return _ROLES[role]
    except KeyError:
        raise ValueError(f"unknown message role {role!r}; use one of {sorted(_ROLES)}") from None


def add_messages(left: Any, right: Any) -> list[Any]:
    """Append messages, replacing those whose id is already present; RemoveMessage deletes.

    A message without an id gets one (``_ids.uuid4``: derived at a step boundary, so a
    replay gives it the same) on a copy: the messages given are not changed, so state
    computed only to route or to show never leaks ids into what is recorded.
    """
    old = [to_message(m) for m in (left if isinstance(left, list) else [left])] if left else []
    new = [_with_id(to_message(m)) for m in (right if isinstance(right, list) else [right])]
    index = {m.id: i for i, m in enumerate(old)}
    merged = list(old)
    removed: set[str] = set()
    for m in new:
        if isinstance(m, RemoveMessage):
            if m.id is None or m.id not in index:
                raise ValueError(f"RemoveMessage: no message with id {m.id!r} to remove")
            removed.add(m.id)
        elif m.id in index:
            merged[index[m.id]] = m
        else:
            index[m.id] = len(merged)
            merged.append(m)
    return [m for m in merged if m.id not in removed] if removed else merged


def _with_id(message: Any) -> Any:
    if getattr(message, "id", None) is not None:
        return message
    if dataclasses.is_dataclass(message) and not isinstance(message, type):
        return dataclasses.replace(message, id=uuid4())
    if hasattr(message, "model_copy"):  # a langchain-core (pydantic) message
        return message.model_copy(update={"id": uuid4()})
    message = copy.copy(message)
    message.id = uuid4()
    return message


class MessagesState(TypedDict):
    """LangGraph's prebuilt state: one ``messages`` channel with the ``add_messages`` reducer."""

    messages: Annotated[list[Any], add_messages]
