"""LangGraph's ``langgraph.pregel``: the low-level graph of nodes over channels."""

from lograph.runtime import NodeBuilder, Pregel

__all__ = ["NodeBuilder", "Pregel"]
