"""The public value types of the graph model (LangGraph-compatible)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

START = "__start__"
END = "__end__"

Durability = Literal["exit", "async", "sync"]
DURABILITIES = ("exit", "async", "sync")


@dataclass(frozen=True, slots=True)
class Send:
    """Run ``node`` in the next step with ``arg`` as its input (map-reduce)."""

    node: str
    arg: Any

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"


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
class Command(Generic[N]):
    """Returned from a node: update the state and choose where to go. As input: resume.

    ``Command[Literal["a", "b"]]`` as a node's return annotation declares where it may
    go, as in LangGraph (for type checkers; lograph checks ``goto`` when it runs)."""

    PARENT: ClassVar[str] = "__parent__"

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pause waiting for a human; ``id`` is stable (task path + index)."""

    value: Any
    id: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool] = (
        field(default_factory=lambda: default_retry_on)
    )

    def should_retry(self, error: BaseException) -> bool:
        rule = self.retry_on
        if isinstance(rule, type):
            return isinstance(error, rule)
        if isinstance(rule, Sequence):
            return isinstance(error, tuple(rule))
        return bool(rule(error))

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        wait = min(self.max_interval, self.initial_interval * self.backoff_factor ** (attempt - 1))
        return wait + random.uniform(0, 1) if self.jitter else wait


Retry = RetryPolicy | Sequence[RetryPolicy]


def retry_policies(retry: Any, where: str) -> tuple[RetryPolicy, ...]:
    """A node's or task's ``retry_policy`` as a tuple: one policy or a sequence of them.

    Raises TypeError (naming ``where``) for anything else, when the graph is built.
    """
    if retry is None:
        return ()
    policies = (retry,) if isinstance(retry, RetryPolicy) else retry
    if not isinstance(policies, Sequence) or isinstance(policies, str) or not all(
        isinstance(p, RetryPolicy) for p in policies
    ):
        raise TypeError(f"{where}: retry_policy must be a RetryPolicy or a list of them, got {retry!r}")
    return tuple(policies)


def retry_for(policies: tuple[RetryPolicy, ...], error: BaseException, attempt: int) -> RetryPolicy | None:
    """The policy that retries ``error`` after ``attempt`` attempts, or None: as LangGraph,
    the first policy whose ``retry_on`` matches the error decides."""
    for policy in policies:
        if policy.should_retry(error):
            return policy if attempt < policy.max_attempts else None
    return None


def default_retry_on(error: BaseException) -> bool:
    """As LangGraph: retry connection errors and the unknown; not programming errors."""
    if isinstance(error, ConnectionError):
        return True
    programming = (ValueError, TypeError, ArithmeticError, ImportError, LookupError, NameError,
                   SyntaxError, RuntimeError, ReferenceError, StopIteration, StopAsyncIteration,
                   OSError)
    if isinstance(error, programming):
        return False
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        return 500 <= status < 600
    return True


class PregelTask(NamedTuple):
    id: str
    name: str
    path: tuple[Any, ...]
    error: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    values: dict[str, Any] | Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()
