"""LangGraph's ``langgraph.cache.sqlite``: the node cache in a SQLite file."""

from lograph.adapters.sqlite import SqliteCache

__all__ = ["SqliteCache"]
