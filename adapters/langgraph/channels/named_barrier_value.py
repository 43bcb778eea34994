"""LangGraph's ``langgraph.channels.named_barrier_value``."""

from lograph.runtime.channels import NamedBarrierValue, NamedBarrierValueAfterFinish

__all__ = ["NamedBarrierValue", "NamedBarrierValueAfterFinish"]
