"""lograph's runtime: the graph model (LangGraph's API) and the engine on the event log."""

from typing import TYPE_CHECKING, Any

from ._cache import CachePolicy, InMemoryCache
from ._checkpointer import Checkpointer
from ._compiled import CompiledGraph, CompiledStateGraph
from ._context import get_stream_writer, interrupt
from ._errors import (
    ConflictError,
    EmptyInputError,
    GraphDrained,
    GraphError,
    GraphRecursionError,
    GraphValidationError,
    InvalidUpdateError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    NonDeterminismError,
    ParentCommand,
    ResumeError,
)
from ._func import entrypoint, task
from ._graph import StateGraph
from ._injection import (
    DEFAULT_RUNTIME,
    ExecutionInfo,
    RunControl,
    Runtime,
    StreamWriter,
    get_config,
    get_runtime,
    get_store,
)
from ._pregel_nodes import NodeBuilder
from ._reads import CheckpointTuple, WriteRefusedError
from ._resume import is_invalid_resume
from ._retry import RetryPolicy
from ._timeout import TimeoutPolicy
from ._types import (
    END,
    START,
    Command,
    Interrupt,
    Overwrite,
    PregelTask,
    Send,
    StateSnapshot,
    StateUpdate,
)

__all__ = [
    "DEFAULT_RUNTIME",
    "END",
    "REMOVE_ALL_MESSAGES",
    "START",
    "AIMessage",
    "BaseMessage",
    "CachePolicy",
    "CheckpointTuple",
    "Checkpointer",
    "Command",
    "CompiledGraph",
    "CompiledStateGraph",
    "ConflictError",
    "EmptyInputError",
    "ExecutionInfo",
    "GraphDrained",
    "GraphError",
    "GraphRecursionError",
    "GraphValidationError",
    "HumanMessage",
    "InMemoryCache",
    "Interrupt",
    "InvalidUpdateError",
    "MessagesState",
    "NodeBuilder",
    "NodeCancelledError",
    "NodeError",
    "NodeTimeoutError",
    "NonDeterminismError",
    "Overwrite",
    "ParentCommand",
    "Pregel",
    "PregelTask",
    "RemoveMessage",
    "ResumeError",
    "RetryPolicy",
    "RunControl",
    "Runtime",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "StateUpdate",
    "StreamWriter",
    "SystemMessage",
    "TimeoutPolicy",
    "ToolMessage",
    "WriteRefusedError",
    "add_messages",
    "entrypoint",
    "get_config",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "interrupt",
    "is_invalid_resume",
    "task",
]

# the audit trail of a store: read, verify (also against the graph's code), fork; and
# durable runs: recorded in the store, executed by workers (README "Running in production")
if TYPE_CHECKING:
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        HumanMessage,
        RemoveMessage,
        SystemMessage,
        ToolMessage,
    )

    from ._audit import (
        Verdict,
        fork_thread,
        read_events,
        read_store,
        read_thread,
        verify_store,
        verify_thread,
    )
    from ._messages import REMOVE_ALL_MESSAGES, MessagesState, add_messages
    from ._pregel import Pregel
    from ._runs import RunError, RunHandle, Runs
    from ._verify import Divergence, replay
    from ._worker import Worker

__all__ += [
    "Divergence",
    "RunError",
    "RunHandle",
    "Runs",
    "Verdict",
    "Worker",
    "fork_thread",
    "read_events",
    "read_store",
    "read_thread",
    "replay",
    "verify_store",
    "verify_thread",
]


#: langchain-core's message classes, re-exported as LangGraph does (the same classes)
_MESSAGE_CLASSES = frozenset(
    {"AIMessage", "BaseMessage", "HumanMessage", "RemoveMessage", "SystemMessage", "ToolMessage"})


def __getattr__(name: str) -> Any:
    """``Pregel``, the audit trail, replay, durable runs and the worker, the messages
    and their reducer load on first use: a graph that only runs does not pay for importing them (a
    process started for one read compiles them from source where no bytecode is cached;
    langchain-core's message modules take tens of milliseconds)."""
    value: Any
    if name in _MESSAGE_CLASSES:
        from langchain_core import messages

        value = getattr(messages, name)
    elif name in ("REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"):
        from . import _messages

        value = getattr(_messages, name)
    elif name == "Pregel":
        from ._pregel import Pregel as value
    elif name == "Worker":
        from ._worker import Worker as value
    elif name in ("RunError", "RunHandle", "Runs"):
        from . import _runs
        value = getattr(_runs, name)
    elif name in ("Divergence", "replay"):
        from . import _verify
        value = getattr(_verify, name)
    elif name in ("Verdict", "fork_thread", "read_events", "read_store", "read_thread",
                  "verify_store", "verify_thread"):
        from . import _audit
        value = getattr(_audit, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
