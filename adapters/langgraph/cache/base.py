"""LangGraph's ``langgraph.cache.base``: the base of node caches."""

from lograph.runtime.lowlevel import BaseCache

__all__ = ["BaseCache"]
