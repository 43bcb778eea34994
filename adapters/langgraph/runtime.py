"""LangGraph's ``langgraph.runtime``: the run's context, store and stream writer, given to
nodes that take ``runtime``."""

from lograph.runtime import DEFAULT_RUNTIME, ExecutionInfo, RunControl, Runtime, get_runtime

__all__ = ["DEFAULT_RUNTIME", "ExecutionInfo", "RunControl", "Runtime", "get_runtime"]
