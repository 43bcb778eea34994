"""LangGraph's ``langgraph.prebuilt``: the tool node, its router and the ReAct agent."""

from lograph.runtime.prebuilt import (
    InjectedState,
    InjectedStore,
    ToolNode,
    ToolRuntime,
    create_react_agent,
    tools_condition,
)

__all__ = [
    "InjectedState",
    "InjectedStore",
    "ToolNode",
    "ToolRuntime",
    "create_react_agent",
    "tools_condition",
]
