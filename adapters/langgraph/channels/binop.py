"""LangGraph's ``langgraph.channels.binop``."""

from lograph.runtime.channels import BinaryOperatorAggregate

__all__ = ["BinaryOperatorAggregate"]
