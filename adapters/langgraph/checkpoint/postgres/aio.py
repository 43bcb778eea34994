"""LangGraph's ``langgraph.checkpoint.postgres.aio``: the PostgreSQL saver, by its async name."""

from lograph.adapters.postgres import AsyncPostgresSaver

__all__ = ["AsyncPostgresSaver"]
