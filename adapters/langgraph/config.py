"""LangGraph's ``langgraph.config``: what code inside a node or task reaches."""

from lograph.runtime import get_config, get_store, get_stream_writer

__all__ = ["get_config", "get_store", "get_stream_writer"]
