"""LangGraph's ``langgraph.func``: the functional API."""

from lograph.runtime import entrypoint, task

__all__ = ["entrypoint", "task"]
