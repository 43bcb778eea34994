"""LangGraph's ``langgraph.channels``: what a ``Pregel`` graph's nodes read and write."""

from lograph.runtime.channels import (
    AnyValue,
    BaseChannel,
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    LastValueAfterFinish,
    NamedBarrierValue,
    NamedBarrierValueAfterFinish,
    Topic,
    UntrackedValue,
)

__all__ = ["AnyValue", "BaseChannel", "BinaryOperatorAggregate", "EphemeralValue", "LastValue",
           "LastValueAfterFinish", "NamedBarrierValue", "NamedBarrierValueAfterFinish", "Topic",
           "UntrackedValue"]
