"""LangGraph's ``langgraph.store.postgres``: the Store in PostgreSQL, by both its names."""

from lograph.adapters.postgres import AsyncPostgresStore, PostgresStore

__all__ = ["AsyncPostgresStore", "PostgresStore"]
