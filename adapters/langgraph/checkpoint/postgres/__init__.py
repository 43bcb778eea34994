"""LangGraph's ``langgraph.checkpoint.postgres``: the PostgreSQL saver."""

from lograph.adapters.postgres import PostgresSaver

__all__ = ["PostgresSaver"]
