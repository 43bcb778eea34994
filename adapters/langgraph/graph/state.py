"""LangGraph's ``langgraph.graph.state``: the builder and the compiled graph's type (and
``START``/``END``, which LangGraph's docs also import from here)."""

from lograph.runtime import END, START, CompiledStateGraph, StateGraph

__all__ = ["END", "START", "CompiledStateGraph", "StateGraph"]
