"""LangGraph's "Use time-travel" guide: run a graph, find a checkpoint in its history,
update the state there (a fork), and resume from it; then replay from the checkpoint
before a node. Stand-in: the model is a scripted fake chat model; the thread id the
guide draws with uuid4 is fixed."""

from langchain_core.language_models import FakeListChatModel
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import END, START, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from typing_extensions import NotRequired, TypedDict


class State(TypedDict):
    topic: NotRequired[str]
    joke: NotRequired[str]


llm = FakeListChatModel(responses=[
    "The Secret Life of Socks in the Dryer",
    "My socks eloped with the laundromat's socks.",
    "Why did the chicken join a band? Because it had excellent drumsticks!",
    "Socks again: they never come back.",
])


def generate_topic(state: State):
    """LLM call to generate a topic for the joke"""
    msg = llm.invoke("Give me a funny topic for a joke")
    return {"topic": msg.content}


def write_joke(state: State):
    """LLM call to write a joke based on the topic"""
    msg = llm.invoke(f"Write a short joke about {state['topic']}")
    return {"joke": msg.content}


workflow = StateGraph(State)
workflow.add_node("generate_topic", generate_topic)
workflow.add_node("write_joke", write_joke)
workflow.add_edge(START, "generate_topic")
workflow.add_edge("generate_topic", "write_joke")
workflow.add_edge("write_joke", END)
checkpointer = InMemorySaver()
graph = workflow.compile(checkpointer=checkpointer)

# 1. Run the graph
config = {
    "configurable": {
        "thread_id": "c62e2e03-c27b-4cb6-8cea-ea9bfedae006",
    }
}
state = graph.invoke({}, config)
print(state["topic"])
print()
print(state["joke"])

# 2. Identify a checkpoint
states = list(graph.get_state_history(config))
for state in states:
    print(state.next)
    print(state.config["configurable"]["checkpoint_id"])
    print()

selected_state = states[1]
print(selected_state.next)
print(selected_state.values)

# 3. Update the state
new_config = graph.update_state(selected_state.config, values={"topic": "chickens"})
print(new_config)

# 4. Resume execution from the checkpoint
print(graph.invoke(None, new_config))
print([(s.next, s.values.get("topic"), s.metadata["source"]) for s in graph.get_state_history(config)])

# Replay: from the checkpoint before write_joke, without changing it
print(graph.invoke(None, selected_state.config))
print(len(list(graph.get_state_history(config))), graph.get_state(config).values["joke"])
