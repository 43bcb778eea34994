"""LangGraph's ``langgraph.prebuilt.tool_node``: ToolNode, its router and injections."""

from lograph.runtime.prebuilt import (
    InjectedState,
    InjectedStore,
    ToolNode,
    ToolRuntime,
    msg_content_output,
    tools_condition,
)

__all__ = ["InjectedState", "InjectedStore", "ToolNode", "ToolRuntime", "msg_content_output", "tools_condition"]
