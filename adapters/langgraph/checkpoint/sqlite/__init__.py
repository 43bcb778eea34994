"""LangGraph's ``langgraph.checkpoint.sqlite``: the SQLite saver (sync and async alike)."""

from lograph.adapters.sqlite import SqliteSaver

__all__ = ["SqliteSaver"]
