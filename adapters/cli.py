"""The ``lograph`` command. ``lograph demo`` runs the example graph and prints its history."""

from __future__ import annotations

import argparse
import operator
import sys
from typing import Annotated, Any, TypedDict

from lograph.adapters.memory import MemorySaver
from lograph.runtime import END, AIMessage, StateGraph


class AgentState(TypedDict):
    messages: Annotated[list, operator.add]
    task_status: str
    retry_count: int


def _process(state: AgentState) -> dict[str, Any]:
    """A deterministic stand-in for the LLM: replies with what it was asked."""
    question = state["messages"][-1]
    text = question[1] if isinstance(question, tuple) else getattr(question, "content", question)
    return {"messages": [AIMessage(content=f"done: {text}")], "task_status": "processing"}


def _review(state: AgentState) -> dict[str, Any]:
    return {"task_status": "completed"}


def build() -> StateGraph:
    builder = StateGraph(AgentState)
    builder.add_node("process", _process)
    builder.add_node("review", _review)
    builder.set_entry_point("process")
    builder.add_edge("process", "review")
    builder.add_edge("review", END)
    return builder


def demo() -> int:
    graph = build().compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "user-123-session-1"}}
    print("1. run the process -> review graph on thread user-123-session-1")
    graph.invoke({"messages": [("user", "start the analysis")], "task_status": "started",
                  "retry_count": 0}, config)
    print("2. a second call on the same thread remembers the first")
    result = graph.invoke({"messages": [("user", "summarise it")]}, config)
    for m in result["messages"]:
        role, text = (m if isinstance(m, tuple) else (m.type, m.content))
        print(f"   {role:>5}: {text}")
    state = graph.get_state(config)
    print(f"3. state: task_status={state.values['task_status']!r} next={state.next} "
          f"step={state.metadata['step']}")
    print("4. history, newest first (each row is a checkpoint derived from the event log):")
    for snap in graph.get_state_history(config):
        print(f"   step {snap.metadata['step']:>2}  {snap.metadata['source']:<6} "
              f"status={snap.values.get('task_status')!s:<11} next={snap.next}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lograph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the example graph and print its result and history")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
