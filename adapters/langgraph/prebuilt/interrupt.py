"""LangGraph's ``langgraph.prebuilt.interrupt``: a human review request and its answer."""

from lograph.runtime.prebuilt import (
    ActionRequest,
    HumanInterrupt,
    HumanInterruptConfig,
    HumanResponse,
)

__all__ = ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"]
