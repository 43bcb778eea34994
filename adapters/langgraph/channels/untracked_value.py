"""LangGraph's ``langgraph.channels.untracked_value``."""

from lograph.runtime.channels import UntrackedValue

__all__ = ["UntrackedValue"]
