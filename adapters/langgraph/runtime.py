"""LangGraph's ``langgraph.runtime``: the run's context, store and stream writer, given to
nodes that take ``runtime``."""

from lograph.runtime import ExecutionInfo, Runtime, get_runtime

__all__ = ["ExecutionInfo", "Runtime", "get_runtime"]
