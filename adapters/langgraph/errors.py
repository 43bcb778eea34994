"""LangGraph's ``langgraph.errors``: the errors a program catches by LangGraph's names."""

from lograph.runtime import (
    EmptyInputError,
    GraphDrained,
    GraphRecursionError,
    InvalidUpdateError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    ParentCommand,
    is_invalid_resume,
)
from lograph.runtime.channels import EmptyChannelError

__all__ = ["EmptyChannelError", "EmptyInputError", "GraphDrained", "GraphRecursionError", "InvalidUpdateError", "NodeCancelledError",
           "NodeError", "NodeTimeoutError", "ParentCommand", "is_invalid_resume"]
