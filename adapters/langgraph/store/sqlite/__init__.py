"""LangGraph's ``langgraph.store.sqlite``: the Store in a SQLite file, by both its names."""

from lograph.adapters.sqlite import AsyncSqliteStore, SqliteStore

__all__ = ["AsyncSqliteStore", "SqliteStore"]
