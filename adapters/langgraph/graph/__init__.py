"""LangGraph's ``langgraph.graph``: the graph builder and its message state."""

from lograph.runtime import END, START, MessagesState, StateGraph, add_messages

__all__ = ["END", "START", "MessagesState", "StateGraph", "add_messages"]
