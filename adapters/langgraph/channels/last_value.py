"""LangGraph's ``langgraph.channels.last_value``."""

from lograph.runtime.channels import LastValue, LastValueAfterFinish

__all__ = ["LastValue", "LastValueAfterFinish"]
