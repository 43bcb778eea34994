"""Retry policies for nodes and tasks, as LangGraph 1.2.24 applies them.

Rules:
- A node or task has a sequence of policies (one policy is a sequence of one). When an
  attempt raises, the first policy whose ``retry_on`` matches the error decides; none
  matching: the error is final. ``max_attempts`` counts every attempt of the task, the
  first included, whichever policies matched the earlier failures.
- The wait before attempt ``n + 1`` is ``min(max_interval, initial_interval *
  backoff_factor ** (n - 1))``, plus ``random.uniform(0, 1)`` seconds when ``jitter``.
  A sync node or task waits in a worker thread with ``time.sleep`` (as LangGraph's sync
  loop does), an async one with the event loop's sleep.
- ``default_retry_on`` retries connection errors, 5xx HTTP errors of httpx and
  requests, and exceptions it does not know; not the built-in programming errors.
- Every failed attempt is recorded (``node.failed`` / a not-ok ``task.result``, with its
  attempt number); the waits are not: a resumed run starts the task's attempts again.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import anyio
import anyio.to_thread

__all__ = ["Retry", "RetryPolicy", "default_retry_on", "pause", "retry_for", "retry_policies", "should_retry_on"]

_PROGRAMMING_ERRORS = (
    ValueError, TypeError, ArithmeticError, ImportError, LookupError, NameError, SyntaxError,
    RuntimeError, ReferenceError, StopIteration, StopAsyncIteration, OSError,
)


def default_retry_on(exc: BaseException) -> bool:
    """LangGraph's default ``retry_on``: connection errors and 5xx HTTP errors, and any
    exception that is not one of Python's programming errors."""
    if isinstance(exc, ConnectionError):
        return True
    httpx = sys.modules.get("httpx")  # (an error of a library that is not loaded cannot occur)
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return bool(500 <= exc.response.status_code < 600)
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.HTTPError):
        # as LangGraph: a falsy response (none, or a requests Response that is not ok)
        # retries
        return 500 <= exc.response.status_code < 600 if exc.response else True
    return not isinstance(exc, _PROGRAMMING_ERRORS)


class RetryPolicy(NamedTuple):
    """How a node or task is retried when an attempt raises (LangGraph's fields)."""

    initial_interval: float = 0.5
    """Seconds before the first retry."""
    backoff_factor: float = 2.0
    """What each further wait is multiplied by."""
    max_interval: float = 128.0
    """The longest wait between two attempts, in seconds (before jitter)."""
    max_attempts: int = 3
    """Attempts in all, the first included."""
    jitter: bool = True
    """Add ``random.uniform(0, 1)`` seconds to each wait."""
    retry_on: type[Exception] | Sequence[type[Exception]] | Callable[[Exception], bool] = default_retry_on
    """The errors to retry: a class, a sequence of classes, or a predicate."""


Retry = RetryPolicy | Sequence[RetryPolicy]


def should_retry_on(policy: RetryPolicy, exc: BaseException) -> bool:
    """Whether ``policy`` matches ``exc``. TypeError for a ``retry_on`` of another kind."""
    rule = policy.retry_on
    if isinstance(rule, Sequence):
        return isinstance(exc, tuple(rule))
    if isinstance(rule, type) and issubclass(rule, Exception):
        return isinstance(exc, rule)
    if callable(rule):
        return bool(rule(exc))  # type: ignore[arg-type, call-arg]
    raise TypeError(
        "retry_on must be an Exception class, a list or tuple of Exception classes, or a callable"
    )


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
    """The policy that retries ``error`` after ``attempt`` attempts, or None (final)."""
    for policy in policies:
        if should_retry_on(policy, error):
            return policy if attempt < policy.max_attempts else None
    return None


def delay(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``."""
    wait = min(policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1))
    return wait + random.uniform(0, 1) if policy.jitter else wait


async def pause(policy: RetryPolicy, attempt: int, *, is_async: bool) -> None:
    """Wait before attempt ``attempt + 1``: in a worker thread for a sync node or task
    (``time.sleep``, looked up when called), on the event loop for an async one."""
    seconds = delay(policy, attempt)
    if is_async:
        await anyio.sleep(seconds)
    else:
        await anyio.to_thread.run_sync(lambda: time.sleep(seconds), abandon_on_cancel=True)
