"""The runtime's exceptions, named by what the caller can do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lograph.eventlog import ConflictError, LogError

__all__ = [
    "ConflictError",
    "EmptyChannelError",
    "EmptyInputError",
    "GraphDrained",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidUpdateError",
    "NoParentError",
    "NodeCancelledError",
    "NodeError",
    "NodeTimeoutError",
    "NonDeterminismError",
    "ParentCommand",
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


class EmptyChannelError(Exception):
    """A channel read before it holds a value (``BaseChannel.get``)."""


class ParentCommand(BaseException):  # noqa: N818 - LangGraph's name
    """A subgraph node returned ``Command(graph=Command.PARENT)``: the caller's task applies it.

    ``args[0]`` (and ``command``) is the Command, as in LangGraph. A BaseException, so an
    ``except Exception`` in the caller's node code cannot swallow it on its way up.
    """

    def __init__(self, command: Any) -> None:
        super().__init__(command)
        self.command = command


class NoParentError(InvalidUpdateError, ParentCommand):
    """A node of the top graph returned ``Command(graph=Command.PARENT)``: there is no
    caller to apply it. Raised by ``invoke`` (nothing of the node is recorded); an
    InvalidUpdateError, and LangGraph's ParentCommand carrying the command."""

    def __init__(self, node: str, command: Any) -> None:
        ParentCommand.__init__(self, command)
        self.node = node

    def __str__(self) -> str:
        return (f"node {self.node!r} returned Command(graph=Command.PARENT), but its graph is "
                "not running as a subgraph")


class GraphDrained(Exception):  # noqa: N818 - LangGraph's name
    """The run stopped before its next step because its ``RunControl`` was asked to
    drain (``control.request_drain(reason)``). What the run did is kept: continue it
    with ``invoke(None, config)`` on the same thread."""

    def __init__(self, reason: str = "shutdown") -> None:
        super().__init__(f"Graph drained: {reason}")
        self.reason = reason


class NonDeterminismError(GraphError):
    """Replayed code made a different call than the log recorded; nothing was written.

    The code of the graph changed under a running thread, or a node is not deterministic
    outside its tasks. Restore the code, or fork the thread from an earlier checkpoint.
    """


class NodeTimeoutError(Exception):
    """An attempt of a node or task ran past its ``TimeoutPolicy`` (LangGraph's error).

    Not a built-in ``TimeoutError`` (an OSError), so the default retry policy retries it.
    ``kind`` says which limit fired (``"run"``: the attempt's wall clock; ``"idle"``: no
    progress for that long) and ``timeout`` its seconds; both configured limits are kept.
    """

    def __init__(
        self, node: str, elapsed: float, *, kind: Literal["idle", "run"],
        idle_timeout: float | None = None, run_timeout: float | None = None,
    ) -> None:
        if kind == "idle":
            if idle_timeout is None:
                raise ValueError("idle_timeout is required when kind='idle'")
            self.timeout = idle_timeout
            message = (f"Node '{node}' exceeded its idle timeout of {idle_timeout:.3f}s without "
                       f"making progress (elapsed: {elapsed:.3f}s).")
        elif kind == "run":
            if run_timeout is None:
                raise ValueError("run_timeout is required when kind='run'")
            self.timeout = run_timeout
            message = f"Node '{node}' exceeded its run timeout of {run_timeout:.3f}s (elapsed: {elapsed:.3f}s)."
        else:
            raise ValueError("kind must be 'idle' or 'run'")
        super().__init__(message)
        self.node, self.elapsed, self.kind = node, elapsed, kind
        self.idle_timeout, self.run_timeout = idle_timeout, run_timeout


@dataclass(frozen=True, slots=True)
class NodeError:
    """What an error handler is told of the failure it handles: take it as a parameter
    ``error: NodeError`` of the handler (``add_node(..., error_handler=...)``)."""

    node: str
    """The node whose attempts failed."""
    error: BaseException
    """Its last error; a :class:`RecordedError` when the handler runs in a later process."""


class RecordedError(Exception):
    """A node's error as the log recorded it (its repr), for an error handler that runs
    after a restart: the exception object itself did not survive the process."""


class NodeCancelledError(Exception):
    """A node raised the event loop's cancellation exception itself (no one cancelled
    it): a failure of the node, as LangGraph reports it, not a cancelled run."""

    def __init__(self, node: str, message: str | None = None) -> None:
        super().__init__(message or f"Node {node!r} raised asyncio.CancelledError")
        self.node = node
