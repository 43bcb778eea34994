"""Managed values (LangGraph's ``langgraph.managed``): state keys the run computes.

A state key annotated ``RemainingSteps`` or ``IsLastStep`` is not a channel: nothing is
stored for it, a node cannot write it, and each node (and conditional edge) that reads
the state finds it computed from the run's recursion limit, as LangGraph computes it:
``RemainingSteps`` is the steps left before the limit counting the current one,
``IsLastStep`` is True in the last step the limit allows. Both follow from the step the
task runs in and the step its run began at, so a replay computes the same values.
"""

from __future__ import annotations

import contextvars
from typing import Annotated, Any

__all__ = ["IsLastStep", "IsLastStepManager", "ManagedValue", "RemainingSteps", "RemainingStepsManager",
           "is_managed_value"]


class ManagedValue:
    """A value computed for each task from ``(step, stop)``: the task's step, and the
    step after the last one its run's recursion limit allows."""

    @staticmethod
    def get(step: int, stop: int) -> Any:
        raise NotImplementedError


class IsLastStepManager(ManagedValue):
    @staticmethod
    def get(step: int, stop: int) -> bool:
        return step == stop - 1


class RemainingStepsManager(ManagedValue):
    @staticmethod
    def get(step: int, stop: int) -> int:
        return stop - step


IsLastStep = Annotated[bool, IsLastStepManager]
RemainingSteps = Annotated[int, RemainingStepsManager]


def is_managed_value(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, ManagedValue)


# (step, stop) of the step being run: set by the engine for a graph with managed keys,
# inherited by the step's tasks (and their worker threads)
STEP: contextvars.ContextVar[tuple[int, int]] = contextvars.ContextVar("lograph_step", default=(0, 0))
