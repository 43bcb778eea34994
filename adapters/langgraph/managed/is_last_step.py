"""LangGraph's ``langgraph.managed.is_last_step``, where its docs import ``RemainingSteps``
and ``IsLastStep`` from (the managed values themselves; LangGraph's manager classes are
its internals)."""

from lograph.runtime.managed import IsLastStep, RemainingSteps

__all__ = ["IsLastStep", "RemainingSteps"]
