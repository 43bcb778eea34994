"""LangGraph's ``langgraph.store`` packages: the Store's API and one module per store."""
