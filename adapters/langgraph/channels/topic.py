"""LangGraph's ``langgraph.channels.topic``."""

from lograph.runtime.channels import Topic

__all__ = ["Topic"]
