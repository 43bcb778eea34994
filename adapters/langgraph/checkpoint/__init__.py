"""LangGraph's ``langgraph.checkpoint`` packages: one module per store, as LangGraph's."""
