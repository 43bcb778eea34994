"""LangGraph's ``langgraph.store.sqlite``: the Store in a SQLite file (sync and async alike)."""

from lograph.adapters.sqlite import SqliteStore

__all__ = ["SqliteStore"]
