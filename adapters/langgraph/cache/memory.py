"""LangGraph's ``langgraph.cache.memory``: the node cache in memory."""

from lograph.runtime import InMemoryCache

__all__ = ["InMemoryCache"]
