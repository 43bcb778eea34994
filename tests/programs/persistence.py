"""LangGraph's "Persistence" concepts page: a graph's checkpoints (get_state,
get_state_history), replay from a checkpoint, update_state through reducers and
as_node, and the memory store (put, search, semantic search with chosen fields, in a
graph's nodes). Stand-in: `embed` (letter counts) for the embedding model; the memory
ids the page draws with uuid4 are fixed strings."""

from operator import add
from typing import Annotated

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.base import BaseStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.memory import InMemoryStore  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import TypedDict


class State(TypedDict):
    foo: str
    bar: Annotated[list[str], add]


def node_a(state: State):
    return {"foo": "a", "bar": ["a"]}


def node_b(state: State):
    return {"foo": "b", "bar": ["b"]}


workflow = StateGraph(State)
workflow.add_node(node_a)
workflow.add_node(node_b)
workflow.add_edge(START, "node_a")
workflow.add_edge("node_a", "node_b")
workflow.add_edge("node_b", END)

checkpointer = InMemorySaver()
graph = workflow.compile(checkpointer=checkpointer)

config = {"configurable": {"thread_id": "1"}}
print(graph.invoke({"foo": ""}, config))

# Get state
print(graph.get_state(config))

# Get state history
history = list(graph.get_state_history(config))
for snapshot in history:
    print(snapshot)
print(graph.get_state(history[2].config))

# Replay: from the checkpoint before node_b
before_b = next(s for s in history if s.next == ("node_b",))
print(graph.invoke(None, config=before_b.config))
print([(s.values, s.next, s.metadata["source"], s.metadata["step"]) for s in graph.get_state_history(config)])

# Update state
print(graph.update_state(config, {"foo": "c", "bar": ["c"]})["configurable"].keys())
print(graph.get_state(config).values)
graph.update_state(config, {"foo": "d", "bar": ["d"]}, as_node="node_a")
state = graph.get_state(config)
print(state.values, state.next, state.metadata["source"], state.metadata["step"])
print(graph.invoke(None, config))

# Memory store
in_memory_store = InMemoryStore()
user_id = "1"
namespace_for_memory = (user_id, "memories")
memory_id = "07e0caf4-1631-47b7-b15f-65515d4c1843"
memory = {"food_preference": "I like pizza"}
in_memory_store.put(namespace_for_memory, memory_id, memory)
memories = in_memory_store.search(namespace_for_memory)
item = memories[-1].dict()
print({k: v for k, v in item.items() if not k.endswith("_at")}, sorted(item))


def embed(texts: list[str]) -> list[list[float]]:
    return [[t.lower().count(c) for c in "aeioulnrst"] for t in texts]


store = InMemoryStore(
    index={
        "embed": embed,
        "dims": 10,
        "fields": ["food_preference", "$"]
    }
)
store.put(namespace_for_memory, "m1", {"food_preference": "I like pizza"})
store.put(
    namespace_for_memory,
    "m2",
    {
        "food_preference": "I love Italian cuisine",
        "context": "Discussing dinner plans"
    },
    index=["food_preference"]
)
store.put(
    namespace_for_memory,
    "m3",
    {"system_info": "Last updated: 2024-01-01"},
    index=False
)
memories = store.search(
    namespace_for_memory,
    query="What does the user like to eat?",
    limit=3
)
print([(m.key, None if m.score is None else round(m.score, 4)) for m in memories])


# Using in LangGraph
def update_memory(state: MessagesState, config: RunnableConfig, *, store: BaseStore):
    user_id = config["configurable"]["user_id"]
    namespace = (user_id, "memories")
    memory_id = f"from-{config['configurable']['thread_id']}"
    store.put(namespace, memory_id, {"memory": state["messages"][-1].content})


def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore):
    user_id = config["configurable"]["user_id"]
    namespace = (user_id, "memories")
    memories = store.search(namespace, query=state["messages"][-1].content, limit=3)
    info = ", ".join(sorted(d.value["memory"] for d in memories))
    return {"messages": [{"role": "ai", "content": f"I remember: {info}"}]}


builder = StateGraph(MessagesState)
builder.add_node(update_memory)
builder.add_node(call_model)
builder.add_edge(START, "update_memory")
builder.add_edge("update_memory", "call_model")
graph = builder.compile(checkpointer=InMemorySaver(), store=InMemoryStore())

user_id = "1"
config = {"configurable": {"thread_id": "1", "user_id": user_id}}
for update in graph.stream(
    {"messages": [{"role": "user", "content": "hi"}]}, config, stream_mode="updates"
):
    print(update)

config = {"configurable": {"thread_id": "2", "user_id": "1"}}
for update in graph.stream(
    {"messages": [{"role": "user", "content": "hi, tell me about my memories"}]}, config, stream_mode="updates"
):
    print(update)
