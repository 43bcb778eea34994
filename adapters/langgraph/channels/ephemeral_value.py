"""LangGraph's ``langgraph.channels.ephemeral_value``."""

from lograph.runtime.channels import EphemeralValue

__all__ = ["EphemeralValue"]
