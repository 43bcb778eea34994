"""LangGraph's "How to add cross-thread persistence to your graph", as its notebook runs it.

Two stand-ins replace what needs the network: LetterEmbeddings for OpenAIEmbeddings
(deterministic) and EchoChatModel for ChatAnthropic (it says what its system prompt
knows). The rest is the guide's code. ``cross_thread_memory.out`` is what it printed on
LangGraph 1.2.x (``benchmarks/.venv/bin/python tests/programs/cross_thread_memory.py``);
tests/test_store_graphs.py runs it with its imports rewritten to lograph's.
"""

import uuid

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import MemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.base import BaseStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.memory import InMemoryStore  # noqa: TID251 - the program as LangGraph's docs write it


class LetterEmbeddings(Embeddings):
    """A deterministic stand-in for OpenAIEmbeddings: letter counts."""

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        v = [0.0] * 26
        for ch in text.lower():
            if "a" <= ch <= "z":
                v[ord(ch) - 97] += 1.0
        return v


class EchoChatModel(BaseChatModel):
    """A deterministic stand-in for ChatAnthropic: says what its system prompt knows."""

    @property
    def _llm_type(self):
        return "echo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        info = messages[0].content.split("User info: ", 1)[1]
        text = f"What I know about you: {info}" if info else "I don't know anything about you yet."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


in_memory_store = InMemoryStore(
    index={
        "embed": LetterEmbeddings(),
        "dims": 26,
    }
)

model = EchoChatModel()


# NOTE: we're passing the Store param to the node --
# this is the Store we compile the graph with
def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore):
    user_id = config["configurable"]["user_id"]
    namespace = ("memories", user_id)
    memories = store.search(namespace, query=str(state["messages"][-1].content))
    info = "\n".join([d.value["data"] for d in memories])
    system_msg = f"You are a helpful assistant talking to the user. User info: {info}"

    # Store new memories if the user asks the model to remember
    last_message = state["messages"][-1]
    if "remember" in last_message.content.lower():
        memory = "User name is Bob"
        store.put(namespace, str(uuid.uuid4()), {"data": memory})

    response = model.invoke(
        [{"role": "system", "content": system_msg}] + state["messages"]
    )
    return {"messages": response}


builder = StateGraph(MessagesState)
builder.add_node("call_model", call_model)
builder.add_edge(START, "call_model")

# NOTE: we're passing the store object here when compiling the graph
graph = builder.compile(checkpointer=MemorySaver(), store=in_memory_store)

config = {"configurable": {"thread_id": "1", "user_id": "1"}}
input_message = {"role": "user", "content": "Hi! Remember: my name is Bob"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()

config = {"configurable": {"thread_id": "2", "user_id": "1"}}
input_message = {"role": "user", "content": "what is my name?"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()

for memory in in_memory_store.search(("memories", "1")):
    print(memory.value)

config = {"configurable": {"thread_id": "3", "user_id": "2"}}
input_message = {"role": "user", "content": "what is my name?"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()
