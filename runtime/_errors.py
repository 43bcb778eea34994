"""The runtime's exceptions, named by what the caller can do."""

from __future__ import annotations

from lograph.eventlog import ConflictError, LogError

__all__ = [
    "ConflictError",
    "EmptyInputError",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidUpdateError",
    "NonDeterminismError",
    "ResumeError",
]


class GraphError(LogError):
    """Base of the errors a graph raises while running."""


class GraphValidationError(GraphError, ValueError):
    """The graph is malformed (unknown node, missing entry, unreachable END): fix the graph."""


class InvalidUpdateError(GraphError, ValueError):
    """A node wrote something the state cannot take (two values for a plain key, unknown key)."""


class GraphRecursionError(GraphError, RecursionError):
    """The run took more supersteps than ``recursion_limit``; raise the limit or fix the loop."""


class EmptyInputError(GraphError, ValueError):
    """``invoke(None)`` on a thread with nothing to resume."""


class ResumeError(GraphError, ValueError, RuntimeError):
    """A resume that answers nothing pending, or names an unknown interrupt; nothing written.

    Also a RuntimeError: what LangGraph raises for a resume it cannot place.
    """


class NonDeterminismError(GraphError):
    """Replayed code made a different call than the log recorded; nothing was written.

    The code of the graph changed under a running thread, or a node is not deterministic
    outside its tasks. Restore the code, or fork the thread from an earlier checkpoint.
    """
