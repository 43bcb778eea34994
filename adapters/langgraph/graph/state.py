"""LangGraph's ``langgraph.graph.state``: the builder and the compiled graph's type."""

from lograph.runtime import CompiledStateGraph, StateGraph

__all__ = ["CompiledStateGraph", "StateGraph"]
