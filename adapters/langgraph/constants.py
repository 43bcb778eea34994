"""LangGraph's ``langgraph.constants``: the graph's virtual first and last nodes."""

from lograph.runtime import END, START

__all__ = ["END", "START"]
