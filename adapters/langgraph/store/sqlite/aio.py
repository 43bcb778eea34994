"""LangGraph's ``langgraph.store.sqlite.aio``: the SQLite Store, by its async name."""

from lograph.adapters.sqlite import AsyncSqliteStore

__all__ = ["AsyncSqliteStore"]
