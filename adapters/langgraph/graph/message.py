"""LangGraph's ``langgraph.graph.message``: the messages reducer and state."""

from lograph.runtime import REMOVE_ALL_MESSAGES, MessagesState, add_messages

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"]
