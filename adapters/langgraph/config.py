"""LangGraph's ``langgraph.config``: what code inside a node or task reaches."""

from lograph.runtime import get_stream_writer

__all__ = ["get_stream_writer"]
