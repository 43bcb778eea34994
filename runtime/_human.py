"""The shapes of a human review request and its answer (``langgraph.prebuilt.interrupt``):
what a tool passes to ``interrupt()`` for a reviewing UI (Agent Inbox), and what the
resume value holds. Plain TypedDicts: nothing in lograph reads them."""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

__all__ = ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"]


class HumanInterruptConfig(TypedDict):
    """What the reviewer may do: ignore the call, answer it, edit it, accept it."""

    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class ActionRequest(TypedDict):
    """The action to review: its name and arguments."""

    action: str
    args: dict  # type: ignore[type-arg]


class HumanInterrupt(TypedDict):
    """A review request: the action, what the reviewer may do, and a description."""

    action_request: ActionRequest
    config: HumanInterruptConfig
    description: str | None


class HumanResponse(TypedDict):
    """The reviewer's answer: ``accept``, ``ignore``, ``response`` (text) or ``edit``
    (an ActionRequest)."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: str | ActionRequest | None
