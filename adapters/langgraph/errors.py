"""LangGraph's ``langgraph.errors``: the errors a program catches by LangGraph's names."""

from lograph.runtime import (
    EmptyInputError,
    GraphRecursionError,
    InvalidUpdateError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
)

__all__ = ["EmptyInputError", "GraphRecursionError", "InvalidUpdateError", "NodeCancelledError", "NodeError",
           "NodeTimeoutError"]
