"""LangGraph's ``langgraph.errors``: the errors a program catches by LangGraph's names."""

from lograph.runtime import EmptyInputError, GraphRecursionError, InvalidUpdateError

__all__ = ["EmptyInputError", "GraphRecursionError", "InvalidUpdateError"]
