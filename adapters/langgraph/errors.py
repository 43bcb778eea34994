"""LangGraph's ``langgraph.errors``: the errors a program catches by LangGraph's names."""

from lograph.runtime import (
    EmptyInputError,
    GraphRecursionError,
    InvalidUpdateError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    ParentCommand,
    is_invalid_resume,
)
from lograph.runtime.channels import EmptyChannelError

__all__ = ["EmptyChannelError", "EmptyInputError", "GraphRecursionError", "InvalidUpdateError", "NodeCancelledError",
           "NodeError", "NodeTimeoutError", "ParentCommand", "is_invalid_resume"]
