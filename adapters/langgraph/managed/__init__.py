"""LangGraph's ``langgraph.managed``: state keys the run computes (``RemainingSteps``,
``IsLastStep``)."""

from lograph.runtime.managed import IsLastStep, RemainingSteps

__all__ = ["IsLastStep", "RemainingSteps"]
