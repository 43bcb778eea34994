"""LangGraph's ``langgraph.checkpoint.memory``: the in-memory saver."""

from lograph.adapters.memory import InMemorySaver, MemorySaver

__all__ = ["InMemorySaver", "MemorySaver"]
