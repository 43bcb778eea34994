"""The public value types of the graph model (LangGraph-compatible)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from langchain_core.messages.tool import ToolOutputMixin

from ._timeout import TimeoutPolicy

START = "__start__"
END = "__end__"

Durability = Literal["exit", "async", "sync"]
DURABILITIES = ("exit", "async", "sync")


@dataclass(frozen=True, slots=True, init=False)
class Send:
    """Run ``node`` in the next step with ``arg`` as its input (map-reduce).

    ``timeout`` limits the task it makes instead of the node's own ``timeout=`` (a
    number or ``timedelta`` is a ``run_timeout``); the target must be an async node. A
    Send with a timeout is a ``TimedSend``, so a Send without one is stored as it
    always was (the log's format does not change)."""

    node: str
    arg: Any

    def __new__(cls, node: str = "", arg: Any = None, *,
                timeout: float | timedelta | TimeoutPolicy | None = None) -> Send:
        if timeout is not None and cls is Send and TimeoutPolicy.coerce(timeout) is not None:
            cls = TimedSend
        return object.__new__(cls)

    def __init__(self, node: str, arg: Any, *,
                 timeout: float | timedelta | TimeoutPolicy | None = None) -> None:
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "arg", arg)
        if timeout is not None:
            policy = TimeoutPolicy.coerce(timeout)
            if policy is not None:
                object.__setattr__(self, "timeout", policy)

    @property
    def timeout(self) -> TimeoutPolicy | None:
        """The task's own limits (None: its node's)."""
        return None

    def __repr__(self) -> str:
        if self.timeout is None:
            return f"Send(node={self.node!r}, arg={self.arg!r})"
        return f"Send(node={self.node!r}, arg={self.arg!r}, timeout={self.timeout!r})"


@dataclass(frozen=True, slots=True, init=False, repr=False)
class TimedSend(Send):
    """A ``Send`` with a timeout of its own (what ``Send(..., timeout=...)`` makes)."""

    timeout: TimeoutPolicy | None


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Written to a key with a reducer: replace its value instead of reducing into it.

    As LangGraph: at most one per key per step; the key's other writes in that step are
    dropped. The log stores it as LangGraph's other spelling, ``{"__overwrite__": value}``.
    """

    value: Any


OVERWRITE = "__overwrite__"


def is_overwrite(value: Any) -> bool:
    """``value`` is an Overwrite in the spelling the log stores: ``{"__overwrite__": v}``."""
    return type(value) is dict and len(value) == 1 and OVERWRITE in value


N = TypeVar("N")  # the nodes a Command may go to: ``Command[Literal["a", "b"]]``


@dataclass(frozen=True, slots=True)
class Command(Generic[N], ToolOutputMixin):
    """Returned from a node: update the state and choose where to go. As input: resume.
    A tool may return one too (a ``ToolOutputMixin``, so langchain-core hands it back as
    it is instead of wrapping it in a ToolMessage; ``ToolNode`` applies it).

    ``Command[Literal["a", "b"]]`` as a node's return annotation declares where it may
    go, as in LangGraph (for type checkers; lograph checks ``goto`` when it runs)."""

    PARENT: ClassVar[str] = "__parent__"

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()

    def __repr__(self) -> str:  # as LangGraph's: the fields that hold something
        shown = (("graph", self.graph), ("update", self.update), ("resume", self.resume),
                 ("goto", self.goto))
        return "Command(" + ", ".join(f"{k}={v!r}" for k, v in shown if v) + ")"


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pause waiting for a human; ``id`` is stable (task path + index).

    ``response_schema``: the JSON Schema of the answer it asks for, when the node gave
    ``interrupt(value, response_schema=...)`` one (None otherwise), as LangGraph shows it.
    """

    value: Any
    id: str = ""
    response_schema: Any = field(default=None, kw_only=True)


class PregelTask(NamedTuple):
    id: str
    name: str
    path: tuple[Any, ...]
    error: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateUpdate(NamedTuple):
    """One update of a ``bulk_update_state`` superstep: ``values`` as node ``as_node``
    wrote them (``task_id`` is LangGraph's, not implemented: leave it None)."""

    values: dict[str, Any] | Any
    as_node: str | None = None
    task_id: str | None = None


class StateSnapshot(NamedTuple):
    values: dict[str, Any] | Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()
