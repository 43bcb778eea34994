"""LangGraph's ``langgraph.checkpoint.sqlite.aio``: the SQLite saver, by its async name."""

from lograph.adapters.sqlite import AsyncSqliteSaver

__all__ = ["AsyncSqliteSaver"]
