"""LangGraph's "Add human-in-the-loop" guide: pause with interrupt and resume with
Command, several interrupts answered at once, approve or reject, review and edit,
validating input with repeated interrupts, static breakpoints, and a subgraph with its
own checkpointer called from a node. Interrupt ids are printed as whether they are
strings only (each library makes its own); thread ids drawn with uuid4 are fixed."""

from typing import Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.constants import END, START  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import StateGraph  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.types import Command, interrupt  # noqa: TID251 - the program as LangGraph's docs write it


def shown(interrupts):
    return [(i.value, isinstance(i.id, str)) for i in interrupts]


# Pause using interrupt
class State(TypedDict):
    some_text: str


def human_node(state: State):
    value = interrupt(
        {
            "text_to_revise": state["some_text"]
        }
    )
    return {
        "some_text": value
    }


graph_builder = StateGraph(State)
graph_builder.add_node("human_node", human_node)
graph_builder.add_edge(START, "human_node")
checkpointer = InMemorySaver()
graph = graph_builder.compile(checkpointer=checkpointer)

config = {"configurable": {"thread_id": "some_id"}}
result = graph.invoke({"some_text": "original text"}, config=config)
print(shown(result['__interrupt__']))
print(graph.invoke(Command(resume="Edited text"), config=config))


# Resume multiple interrupts with one invocation
class State(TypedDict):
    text_1: str
    text_2: str


def human_node_1(state: State):
    value = interrupt({"text_to_revise": state["text_1"]})
    return {"text_1": value}


def human_node_2(state: State):
    value = interrupt({"text_to_revise": state["text_2"]})
    return {"text_2": value}


graph_builder = StateGraph(State)
graph_builder.add_node("human_node_1", human_node_1)
graph_builder.add_node("human_node_2", human_node_2)
graph_builder.add_edge(START, "human_node_1")
graph_builder.add_edge(START, "human_node_2")
checkpointer = InMemorySaver()
graph = graph_builder.compile(checkpointer=checkpointer)
config: RunnableConfig = {"configurable": {"thread_id": "parallel"}}
result = graph.invoke(
    {"text_1": "original text 1", "text_2": "original text 2"}, config=config
)
print(sorted(str(v) for v, _ in shown(result["__interrupt__"])))
resume_map = {
    i.id: f"edited text for {i.value['text_to_revise']}"
    for i in graph.get_state(config).interrupts
}
print(graph.invoke(Command(resume=resume_map), config=config))


# Approve or reject
class State(TypedDict):
    llm_output: str
    decision: str


def generate_llm_output(state: State) -> State:
    return {"llm_output": "This is the generated output."}


def human_approval(state: State) -> Command[Literal["approved_path", "rejected_path"]]:
    decision = interrupt({
        "question": "Do you approve the following output?",
        "llm_output": state["llm_output"]
    })
    if decision == "approve":
        return Command(goto="approved_path", update={"decision": "approved"})
    else:
        return Command(goto="rejected_path", update={"decision": "rejected"})


def approved_node(state: State) -> State:
    print("✅ Approved path taken.")
    return state


def rejected_node(state: State) -> State:
    print("❌ Rejected path taken.")
    return state


builder = StateGraph(State)
builder.add_node("generate_llm_output", generate_llm_output)
builder.add_node("human_approval", human_approval)
builder.add_node("approved_path", approved_node)
builder.add_node("rejected_path", rejected_node)
builder.set_entry_point("generate_llm_output")
builder.add_edge("generate_llm_output", "human_approval")
builder.add_edge("approved_path", END)
builder.add_edge("rejected_path", END)
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
for thread, answer in [("approve-1", "approve"), ("reject-1", "reject")]:
    config = {"configurable": {"thread_id": thread}}
    result = graph.invoke({}, config=config)
    print(shown(result["__interrupt__"]))
    final_result = graph.invoke(Command(resume=answer), config=config)
    print(final_result)


# Review and edit state
class State(TypedDict):
    summary: str


def generate_summary(state: State) -> State:
    return {
        "summary": "The cat sat on the mat and looked at the stars."
    }


def human_review_edit(state: State) -> State:
    result = interrupt({
        "task": "Please review and edit the generated summary if necessary.",
        "generated_summary": state["summary"]
    })
    return {
        "summary": result["edited_summary"]
    }


def downstream_use(state: State) -> State:
    print(f"✅ Using edited summary: {state['summary']}")
    return state


builder = StateGraph(State)
builder.add_node("generate_summary", generate_summary)
builder.add_node("human_review_edit", human_review_edit)
builder.add_node("downstream_use", downstream_use)
builder.set_entry_point("generate_summary")
builder.add_edge("generate_summary", "human_review_edit")
builder.add_edge("human_review_edit", "downstream_use")
builder.add_edge("downstream_use", END)
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "edit-1"}}
result = graph.invoke({}, config=config)
print(shown(result["__interrupt__"]))
edited_summary = "The cat lay on the rug, gazing peacefully at the night sky."
resumed_result = graph.invoke(
    Command(resume={"edited_summary": edited_summary}),
    config=config
)
print(resumed_result)


# Validate human input
class State(TypedDict):
    age: int


def get_valid_age(state: State) -> State:
    prompt = "Please enter your age (must be a non-negative integer)."
    while True:
        user_input = interrupt(prompt)
        try:
            age = int(user_input)
            if age < 0:
                raise ValueError("Age must be non-negative.")
            break
        except (ValueError, TypeError):
            prompt = f"'{user_input}' is not valid. Please enter a non-negative integer for age."
    return {"age": age}


def report_age(state: State) -> State:
    print(f"✅ Human is {state['age']} years old.")
    return state


builder = StateGraph(State)
builder.add_node("get_valid_age", get_valid_age)
builder.add_node("report_age", report_age)
builder.set_entry_point("get_valid_age")
builder.add_edge("get_valid_age", "report_age")
builder.add_edge("report_age", END)
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "age-1"}}
result = graph.invoke({}, config=config)
print(shown(result["__interrupt__"]))
result = graph.invoke(Command(resume="not a number"), config=config)
print(shown(result["__interrupt__"]))
result = graph.invoke(Command(resume="-10"), config=config)
print(shown(result["__interrupt__"]))
final_result = graph.invoke(Command(resume="25"), config=config)
print(final_result)


# Static breakpoints
class State(TypedDict):
    input: str


def step_1(state):
    print("---Step 1---")
    pass


def step_2(state):
    print("---Step 2---")
    pass


def step_3(state):
    print("---Step 3---")
    pass


builder = StateGraph(State)
builder.add_node("step_1", step_1)
builder.add_node("step_2", step_2)
builder.add_node("step_3", step_3)
builder.add_edge(START, "step_1")
builder.add_edge("step_1", "step_2")
builder.add_edge("step_2", "step_3")
builder.add_edge("step_3", END)
checkpointer = InMemorySaver()
graph = builder.compile(
    checkpointer=checkpointer,
    interrupt_before=["step_3"]
)
initial_input = {"input": "hello world"}
thread = {"configurable": {"thread_id": "1"}}
for event in graph.stream(initial_input, thread, stream_mode="values"):
    print(event)
state = graph.get_state(thread)
print(state.values, state.next, [t.name for t in state.tasks], state.interrupts)
for event in graph.stream(None, thread, stream_mode="values"):
    print(event)
print(graph.invoke({"input": "again"}, {"configurable": {"thread_id": "2"}},
                   interrupt_before=["step_2"], interrupt_after=["step_2"]))
print(graph.get_state({"configurable": {"thread_id": "2"}}).next)


# Using with subgraphs called as functions
class State(TypedDict):
    """The graph state."""
    state_counter: int


counter_node_in_subgraph = 0


def node_in_subgraph(state: State):
    """A node in the sub-graph."""
    global counter_node_in_subgraph
    counter_node_in_subgraph += 1
    print(f"Entered `node_in_subgraph` a total of {counter_node_in_subgraph} times")


counter_human_node = 0


def human_node(state: State):
    global counter_human_node
    counter_human_node += 1
    print(f"Entered human_node in sub-graph a total of {counter_human_node} times")
    answer = interrupt("what is your name?")
    print(f"Got an answer of {answer}")


checkpointer = InMemorySaver()
subgraph_builder = StateGraph(State)
subgraph_builder.add_node("some_node", node_in_subgraph)
subgraph_builder.add_node("human_node", human_node)
subgraph_builder.add_edge(START, "some_node")
subgraph_builder.add_edge("some_node", "human_node")
subgraph = subgraph_builder.compile(checkpointer=checkpointer)

counter_parent_node = 0


def parent_node(state: State):
    """This parent node will invoke the subgraph."""
    global counter_parent_node
    counter_parent_node += 1
    print(f"Entered `parent_node` a total of {counter_parent_node} times")
    subgraph_state = subgraph.invoke(state)
    return subgraph_state


builder = StateGraph(State)
builder.add_node("parent_node", parent_node)
builder.add_edge(START, "parent_node")
checkpointer = InMemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {
    "configurable": {
        "thread_id": "sub-1",
    }
}
for chunk in graph.stream({"state_counter": 1}, config):
    print({k: shown(v) if k == "__interrupt__" else v for k, v in chunk.items()})
print('--- Resuming ---')
for chunk in graph.stream(Command(resume="35"), config):
    print(chunk)
