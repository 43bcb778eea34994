"""LangGraph's ``langgraph.store.memory``: the Store in memory."""

from lograph.runtime.store import InMemoryStore

__all__ = ["InMemoryStore"]
