"""LangGraph's ``langgraph.cache``: the node caches."""
