"""LangGraph's ``langgraph.store.postgres``: the Store in PostgreSQL (sync and async alike)."""

from lograph.adapters.postgres import PostgresStore

__all__ = ["PostgresStore"]
