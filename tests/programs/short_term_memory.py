"""LangGraph's "Add and manage memory" guide, short-term memory: a subgraph under the
parent's checkpointer, reading and writing state from tools in a prebuilt agent,
trimming, deleting (RemoveMessage, REMOVE_ALL_MESSAGES) and summarizing messages,
viewing a thread's checkpoints and deleting a thread.

Stand-ins: the chat models are scripted (a fake tool-calling model for the agents, a
model that answers with how many messages it was given for the workflows)."""

from typing import Annotated

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolCallId
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import START, MessagesState, StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph.message import REMOVE_ALL_MESSAGES  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.prebuilt import InjectedState, create_react_agent  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.prebuilt.chat_agent_executor import AgentState  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command  # noqa: TID251 - the program as LangGraph's docs write it


class ScriptedModel(BaseChatModel):
    """Answers from a script; with tools bound, the script's tool calls go out as they are."""

    script: list = []

    @property
    def _llm_type(self):
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        reply = self.script.pop(0)
        if callable(reply):
            reply = reply(messages)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def counting(messages):
    return AIMessage(f"I was given {len(messages)} messages; the first is {messages[0].content!r}")


# Use in subgraphs: the parent's checkpointer
class FooState(MessagesState):
    foo: str


def subgraph_node_1(state: FooState):
    return {"foo": state["foo"] + "bar"}


subgraph_builder = StateGraph(FooState)
subgraph_builder.add_node(subgraph_node_1)
subgraph_builder.add_edge(START, "subgraph_node_1")
subgraph = subgraph_builder.compile()
builder = StateGraph(FooState)
builder.add_node("node_1", subgraph)
builder.add_edge(START, "node_1")
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "sub"}}
print(graph.invoke({"foo": "foo"}, config)["foo"], graph.invoke({"foo": "x"}, config)["foo"])


# Read short-term memory in tools
class CustomState(AgentState):
    user_id: str


def get_user_info(
    state: Annotated[CustomState, InjectedState]
) -> str:
    """Look up user info."""
    user_id = state["user_id"]
    return "User is John Smith" if user_id == "user_123" else "Unknown user"


model = ScriptedModel(script=[
    AIMessage("", tool_calls=[{"name": "get_user_info", "args": {}, "id": "t1"}]),
    AIMessage("The user is John Smith."),
])
agent = create_react_agent(
    model=model,
    tools=[get_user_info],
    state_schema=CustomState,
)
result = agent.invoke({
    "messages": "look up user information",
    "user_id": "user_123"
})
print([(m.type, m.content) for m in result["messages"]])


# Write short-term memory from tools
class CustomState(AgentState):
    user_name: str


def update_user_info(
    tool_call_id: Annotated[str, InjectedToolCallId],
    config: RunnableConfig
) -> Command:
    """Look up and update user info."""
    user_id = config["configurable"].get("user_id")
    name = "John Smith" if user_id == "user_123" else "Unknown user"
    return Command(update={
        "user_name": name,
        "messages": [
            ToolMessage(
                "Successfully looked up user information",
                tool_call_id=tool_call_id
            )
        ]
    })


def greet(
    state: Annotated[CustomState, InjectedState]
) -> str:
    """Use this to greet the user once you found their info."""
    user_name = state["user_name"]
    return f"Hello {user_name}!"


model = ScriptedModel(script=[
    AIMessage("", tool_calls=[{"name": "update_user_info", "args": {}, "id": "t1"}]),
    AIMessage("", tool_calls=[{"name": "greet", "args": {}, "id": "t2"}]),
    AIMessage("Done."),
])
agent = create_react_agent(
    model=model,
    tools=[update_user_info, greet],
    state_schema=CustomState
)
result = agent.invoke(
    {"messages": [{"role": "user", "content": "greet the user"}]},
    config={"configurable": {"user_id": "user_123"}}
)
print(result["user_name"], [(m.type, m.content) for m in result["messages"]])


# Trim messages
model = ScriptedModel(script=[counting] * 4)


def call_model(state: MessagesState):
    messages = trim_messages(
        state["messages"],
        strategy="last",
        token_counter=count_tokens_approximately,
        max_tokens=128,
        start_on="human",
        end_on=("human", "tool"),
    )
    response = model.invoke(messages)
    return {"messages": [response]}


checkpointer = InMemorySaver()
builder = StateGraph(MessagesState)
builder.add_node(call_model)
builder.add_edge(START, "call_model")
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "1"}}
graph.invoke({"messages": "hi, my name is bob"}, config)
graph.invoke({"messages": "write a short poem about cats " + "meow " * 40}, config)
graph.invoke({"messages": "now do the same but for dogs " + "woof " * 40}, config)
final_response = graph.invoke({"messages": "what's my name?"}, config)
final_response["messages"][-1].pretty_print()


# Delete messages
model = ScriptedModel(script=[AIMessage("Hi Bob! How are you doing today?"), AIMessage("Your name is Bob.")])


def delete_messages(state):
    messages = state["messages"]
    if len(messages) > 2:
        return {"messages": [RemoveMessage(id=m.id) for m in messages[:2]]}


def call_model(state: MessagesState):
    response = model.invoke(state["messages"])
    return {"messages": response}


builder = StateGraph(MessagesState)
builder.add_sequence([call_model, delete_messages])
builder.add_edge(START, "call_model")
checkpointer = InMemorySaver()
app = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "delete"}}
for event in app.stream(
    {"messages": [{"role": "user", "content": "hi! I'm bob"}]},
    config,
    stream_mode="values"
):
    print([(message.type, message.content) for message in event["messages"]])
for event in app.stream(
    {"messages": [{"role": "user", "content": "what's my name?"}]},
    config,
    stream_mode="values"
):
    print([(message.type, message.content) for message in event["messages"]])


def delete_all(state):
    return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES)]}


builder = StateGraph(MessagesState)
builder.add_node(delete_all)
builder.add_edge(START, "delete_all")
print(builder.compile().invoke({"messages": [HumanMessage("a"), HumanMessage("b")]}))


# Summarize messages
class State(MessagesState):
    summary: str


def answer_or_summarize(messages):
    if "summary" in messages[-1].content:
        return AIMessage(f"a summary of {len(messages) - 1} messages")
    return AIMessage(f"answer {len(messages)}")


model = ScriptedModel(script=[answer_or_summarize] * 10)


def chat(state: State):
    return {"messages": [model.invoke(state["messages"])]}


def summarize_conversation(state: State):
    summary = state.get("summary", "")
    if summary:
        summary_message = (
            f"This is a summary of the conversation to date: {summary}\n\n"
            "Extend the summary by taking into account the new messages above:"
        )
    else:
        summary_message = "Create a summary of the conversation above:"
    messages = state["messages"] + [HumanMessage(content=summary_message)]
    response = model.invoke(messages)
    delete_messages = [RemoveMessage(id=m.id) for m in state["messages"][:-2]]
    return {"summary": response.content, "messages": delete_messages}


def should_summarize(state: State):
    return "summarize_conversation" if len(state["messages"]) > 3 else "__end__"


builder = StateGraph(State)
builder.add_node(chat)
builder.add_node(summarize_conversation)
builder.add_edge(START, "chat")
builder.add_conditional_edges("chat", should_summarize)
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "summary"}}
graph.invoke({"messages": "hi, my name is bob"}, config)
graph.invoke({"messages": "what do I like?"}, config)
out = graph.invoke({"messages": "what do cats do?"}, config)
print(out["summary"], [(m.type, m.content) for m in out["messages"]])


# Manage checkpoints: view the thread's state and history, then delete it
config = {
    "configurable": {
        "thread_id": "delete",
    }
}
state = graph.get_state(config)
print(state.values == {}, state.next)
app_state = app.get_state(config)
print([(m.type, m.content) for m in app_state.values["messages"]], app_state.next, app_state.metadata["step"])
history = list(app.get_state_history(config))
print(len(history), [(s.next, s.metadata["source"], s.metadata["step"]) for s in history])
print([len(s.values.get("messages", [])) for s in history])
thread_id = "delete"
checkpointer = app.checkpointer
checkpointer.delete_thread(thread_id)
print(app.get_state(config).values, list(app.get_state_history(config)))
