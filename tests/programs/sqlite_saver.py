"""LangGraph's SqliteSaver docstring, then its get_tuple/list docstrings on the same saver.

The docstring's program as written, on a file in the working directory; the saver's
read API (get_tuple, list with limit and before, get) as its docstrings use it, after
a run instead of a hand-made checkpoint (lograph's savers refuse put: the runtime alone
writes the log). Ids and times differ between runs; the test replaces them.
"""

import sqlite3

from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import StateGraph  # noqa: TID251 - the program as LangGraph's docs write it

builder = StateGraph(int)
builder.add_node("add_one", lambda x: x + 1)
builder.set_entry_point("add_one")
builder.set_finish_point("add_one")
# Create a new SqliteSaver instance
# Note: check_same_thread=False is OK as the implementation uses a lock
# to ensure thread safety.
conn = sqlite3.connect("checkpoints.sqlite", check_same_thread=False)
memory = SqliteSaver(conn)
graph = builder.compile(checkpointer=memory)
config = {"configurable": {"thread_id": "1"}}
print(graph.get_state(config))
result = graph.invoke(3, config)
print(result)
print(graph.get_state(config))

# get_tuple: the latest checkpoint, then one named by its id
checkpoint_tuple = memory.get_tuple(config)
print(checkpoint_tuple.config)
print(checkpoint_tuple.checkpoint["channel_values"])
print(checkpoint_tuple.metadata)
print(checkpoint_tuple.parent_config)
print(checkpoint_tuple.pending_writes)
first_id = checkpoint_tuple.parent_config["configurable"]["checkpoint_id"]
older = memory.get_tuple({"configurable": {"thread_id": "1", "checkpoint_ns": "", "checkpoint_id": first_id}})
print(older.checkpoint["channel_values"], older.metadata["step"], older.metadata["source"])

# list: newest first, with a limit, and before a checkpoint
checkpoints = list(memory.list(config, limit=2))
print(len(checkpoints), [c.metadata["step"] for c in checkpoints])
before = {"configurable": {"checkpoint_id": checkpoint_tuple.config["configurable"]["checkpoint_id"]}}
print([c.checkpoint["channel_values"] for c in memory.list(config, before=before)])
print([c.metadata["source"] for c in memory.list(config, filter={"source": "loop"})])
print(memory.get(config)["channel_values"])
print(memory.get_tuple({"configurable": {"thread_id": "nobody"}}))

# a second run on the same thread, and the history it leaves
print(graph.invoke(10, config))
print([(s.values, s.metadata["step"]) for s in graph.get_state_history(config)])
conn.close()
