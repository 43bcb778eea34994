"""LangGraph's ``langgraph.types``: control flow (``Send``, ``Command``, ``interrupt``) and
what the state API returns."""

from typing import Literal

from lograph.runtime import (
    CachePolicy,
    Command,
    Interrupt,
    Overwrite,
    PregelTask,
    RetryPolicy,
    Send,
    StateSnapshot,
    StateUpdate,
    StreamWriter,
    TimeoutPolicy,
    interrupt,
)

Durability = Literal["sync", "async", "exit"]
"""The ``durability=`` modes of a run (the README's table says what each keeps)."""

__all__ = [
    "CachePolicy",
    "Command",
    "Durability",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamWriter",
    "TimeoutPolicy",
    "interrupt",
]
