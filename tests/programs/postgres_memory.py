"""LangGraph's "Add memory" guide, "Example: using Postgres store" (sync), with its
checkpointer read back directly as the PostgresSaver docstrings do (get_tuple, list).

Stand-ins for what needs the network: EchoChatModel for the chat model (it says what its
system prompt knows), and DB_URI from the environment (the test's throwaway server). The
guide leaves `setup()` commented out for a database already set up; a fresh one needs it.
"""

import os
import uuid

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres import PostgresSaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.base import BaseStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.postgres import PostgresStore  # noqa: TID251 - the program as LangGraph's docs write it


class EchoChatModel(BaseChatModel):
    """A deterministic stand-in for a chat model: says what its system prompt knows."""

    @property
    def _llm_type(self):
        return "echo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        info = messages[0].content.split("User info: ", 1)[1]
        text = f"What I know about you: {info}" if info else "I don't know anything about you yet."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


model = EchoChatModel()

DB_URI = os.environ.get("DB_URI", "postgresql://postgres:postgres@localhost:5442/postgres?sslmode=disable")

with (
    PostgresStore.from_conn_string(DB_URI) as store,
    PostgresSaver.from_conn_string(DB_URI) as checkpointer,
):
    store.setup()
    checkpointer.setup()

    def call_model(
        state: MessagesState,
        config: RunnableConfig,
        *,
        store: BaseStore,
    ):
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
    builder.add_node(call_model)
    builder.add_edge(START, "call_model")

    graph = builder.compile(
        checkpointer=checkpointer,
        store=store,
    )

    config = {
        "configurable": {
            "thread_id": "1",
            "user_id": "1",
        }
    }
    for chunk in graph.stream(
        {"messages": [{"role": "user", "content": "Hi! Remember: my name is Bob"}]},
        config,
        stream_mode="values",
    ):
        chunk["messages"][-1].pretty_print()

    config = {
        "configurable": {
            "thread_id": "2",
            "user_id": "1",
        }
    }

    for chunk in graph.stream(
        {"messages": [{"role": "user", "content": "what is my name?"}]},
        config,
        stream_mode="values",
    ):
        chunk["messages"][-1].pretty_print()

    # the checkpoints, read directly
    read_config = {"configurable": {"thread_id": "1"}}
    latest = checkpointer.get_tuple(read_config)
    print([m.content for m in latest.checkpoint["channel_values"]["messages"]])
    print(latest.metadata["source"], latest.metadata["step"], latest.pending_writes)
    checkpoints = list(checkpointer.list(read_config))
    print(len(checkpoints), [c.metadata["step"] for c in checkpoints])
    print([len(c.checkpoint["channel_values"].get("messages", [])) for c in checkpoints])
    print([c.metadata["step"] for c in checkpointer.list(read_config, limit=2)])
    print([c.metadata["step"] for c in checkpointer.list(read_config, before=checkpoints[0].config)])
    print(checkpointer.get(read_config)["channel_values"]["messages"][-1].content)
    print([item.value for item in store.search(("memories", "1"))])
