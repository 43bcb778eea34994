"""LangGraph's ``langgraph.channels.base``."""

from lograph.runtime.channels import BaseChannel

__all__ = ["BaseChannel"]
