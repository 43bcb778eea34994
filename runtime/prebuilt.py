"""LangGraph's prebuilt agent pieces (``langgraph.prebuilt``) on lograph's engine.

``ToolNode`` runs a model's tool calls, ``tools_condition`` routes to it, and
``create_react_agent`` builds the tool-calling loop; ``InjectedState`` and
``InjectedStore`` mark tool arguments the node fills (``InjectedToolCallId`` is
langchain-core's). The one module that builds on langchain-core's models and tools.
"""

from ._agent import (
    AgentState,
    AgentStatePydantic,
    AgentStateWithStructuredResponse,
    AgentStateWithStructuredResponsePydantic,
    create_react_agent,
)
from ._human import ActionRequest, HumanInterrupt, HumanInterruptConfig, HumanResponse
from ._tool_node import (
    InjectedState,
    InjectedStore,
    ToolInvocationError,
    ToolNode,
    ToolRuntime,
    msg_content_output,
    tools_condition,
)

__all__ = [
    "ActionRequest",
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "HumanInterrupt",
    "HumanInterruptConfig",
    "HumanResponse",
    "InjectedState",
    "InjectedStore",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "create_react_agent",
    "msg_content_output",
    "tools_condition",
]
