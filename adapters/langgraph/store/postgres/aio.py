"""LangGraph's ``langgraph.store.postgres.aio``: the PostgreSQL Store, by its async name."""

from lograph.adapters.postgres import AsyncPostgresStore

__all__ = ["AsyncPostgresStore"]
