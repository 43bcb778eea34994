"""The benchmark graphs, written once against the StateGraph API both engines share.

Each builder takes the engine's ``(StateGraph, START, END)`` so the very same node code
runs on lograph and on LangGraph; nothing here imports either.
"""

from __future__ import annotations

import itertools
import operator
from typing import Annotated, Any, TypedDict

CHAIN_LENGTH = 10
REPLY = "x" * 300  # the ~300-byte reply of the chat workload


class ChainState(TypedDict):
    count: int
    label: str


class ChatState(TypedDict):
    messages: Annotated[list, operator.add]


def _chain_node(i: int) -> Any:
    label = f"node-{i}"

    async def node(state: ChainState) -> dict[str, Any]:
        return {"count": state["count"] + 1, "label": label}

    node.__name__ = label.replace("-", "_")
    return node


def chain_builder(api: Any) -> Any:
    """``CHAIN_LENGTH`` async nodes in a line, each incrementing ``count``."""
    graph = api.StateGraph(ChainState)
    names = [f"n{i}" for i in range(CHAIN_LENGTH)]
    for i, name in enumerate(names):
        graph.add_node(name, _chain_node(i))
    graph.add_edge(api.START, names[0])
    for a, b in itertools.pairwise(names):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], api.END)
    return graph


CHAIN_INPUT: dict[str, Any] = {"count": 0, "label": ""}


async def _reply(state: ChatState) -> dict[str, Any]:
    turn = len(state["messages"]) // 2 + 1
    return {"messages": [{"role": "assistant", "content": f"{turn:05d} {REPLY}"}]}


def chat_builder(api: Any) -> Any:
    """One node appending a ~300-byte reply to ``messages``."""
    graph = api.StateGraph(ChatState)
    graph.add_node("reply", _reply)
    graph.add_edge(api.START, "reply")
    graph.add_edge("reply", api.END)
    return graph


def chat_input(turn: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"turn {turn}: how is it going?"}]}
