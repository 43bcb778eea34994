"""LangGraph's ``langgraph.channels.any_value``."""

from lograph.runtime.channels import AnyValue

__all__ = ["AnyValue"]
