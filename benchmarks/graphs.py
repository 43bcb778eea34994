"""The benchmark graphs, written once against the API both engines share.

Each builder takes the engine's ``api`` (a namespace with ``StateGraph``, ``START``,
``END``, ``task`` and ``entrypoint``) so the very same node code runs on lograph and
on LangGraph; nothing here imports either.
"""

from __future__ import annotations

import itertools
import operator
import random
import time
from typing import Annotated, Any, TypedDict

CHAIN_LENGTH = 10
IO_SECONDS = 0.002  # what each node of the I/O chain waits, on a worker thread
FANOUT_WIDTH = 8
FANOUT_NODES = FANOUT_WIDTH + 2  # node executions per fanout invoke (fan, 8 parallel, join)
FANOUT_SUPERSTEPS = 3
FUNCTIONAL_TASKS = 10
REPLY_BYTES = 300  # the chat's replies
WORDS = (
    "the of and to in is that it for on was with as be at by this have from or one had not "
    "but what all were when we there can an your which their said if do will each about how "
    "up out them then she many some so these would other into has more her two like him see "
    "time could no make than first been its who now people my made over did down only way "
    "find use may water long little very after words called just where most know get through "
    "back much before go good new write our used me man too any day same right look think "
    "also around another came come work three word must because does part even place well "
    "state graph node durable event log thread checkpoint replay fork history reducer"
).split()


class ChainState(TypedDict):
    count: int
    label: str


class ChatState(TypedDict):
    messages: Annotated[list, operator.add]


class FanoutState(TypedDict):
    results: Annotated[list, operator.add]
    total: int


# -- chain and I/O chain ------------------------------------------------------------------


def _chain_node(i: int) -> Any:
    label = f"node-{i}"

    async def node(state: ChainState) -> dict[str, Any]:
        return {"count": state["count"] + 1, "label": label}

    node.__name__ = label.replace("-", "_")
    return node


def _io_node(i: int) -> Any:
    label = f"io-{i}"

    def node(state: ChainState) -> dict[str, Any]:  # sync: both engines run it on a worker thread
        time.sleep(IO_SECONDS)  # a blocking call: an HTTP request, a database driver
        return {"count": state["count"] + 1, "label": label}

    node.__name__ = label.replace("-", "_")
    return node


def _line(api: Any, make_node: Any) -> Any:
    graph = api.StateGraph(ChainState)
    names = [f"n{i}" for i in range(CHAIN_LENGTH)]
    for i, name in enumerate(names):
        graph.add_node(name, make_node(i))
    graph.add_edge(api.START, names[0])
    for a, b in itertools.pairwise(names):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], api.END)
    return graph


def chain_builder(api: Any) -> Any:
    """``CHAIN_LENGTH`` async nodes in a line, each incrementing ``count``."""
    return _line(api, _chain_node)


def io_chain_builder(api: Any) -> Any:
    """The chain with sync nodes that each block ``IO_SECONDS`` (run on a worker thread)."""
    return _line(api, _io_node)


CHAIN_INPUT: dict[str, Any] = {"count": 0, "label": ""}


# -- fanout -------------------------------------------------------------------------------


async def _fan(state: FanoutState) -> dict[str, Any]:
    return {"total": 0}


def _branch(i: int) -> Any:
    async def branch(state: FanoutState) -> dict[str, Any]:
        return {"results": [i]}

    branch.__name__ = f"branch_{i}"
    return branch


async def _join(state: FanoutState) -> dict[str, Any]:
    return {"total": sum(state["results"])}


def fanout_builder(api: Any) -> Any:
    """``fan`` -> ``FANOUT_WIDTH`` parallel nodes appending to ``results`` -> ``join``."""
    graph = api.StateGraph(FanoutState)
    graph.add_node("fan", _fan)
    branches = [f"p{i}" for i in range(FANOUT_WIDTH)]
    for i, name in enumerate(branches):
        graph.add_node(name, _branch(i))
        graph.add_edge("fan", name)
    graph.add_node("join", _join)
    graph.add_edge(api.START, "fan")
    graph.add_edge(branches, "join")  # waits for every branch
    graph.add_edge("join", api.END)
    return graph


FANOUT_INPUT: dict[str, Any] = {"results": [], "total": -1}
FANOUT_TOTAL = sum(range(FANOUT_WIDTH))


# -- functional ---------------------------------------------------------------------------


def functional_builder(api: Any, checkpointer: Any) -> Any:
    """An ``@entrypoint`` awaiting ``FUNCTIONAL_TASKS`` ``@task`` calls one after another."""

    @api.task
    async def add_one(x: int) -> int:
        return x + 1

    @api.entrypoint(checkpointer=checkpointer)
    async def workflow(start: int) -> int:
        total = start
        for _ in range(FUNCTIONAL_TASKS):
            total = await add_one(total)
        return total

    return workflow


# -- chat ---------------------------------------------------------------------------------


def reply_text(turn: int) -> str:
    """A ~300-byte reply, different every turn, as compressible as prose (not as "xxx").

    PostgreSQL compresses large values (TOAST): a repeated character would make a saver
    that re-stores the whole history look far smaller than it is with real text.
    """
    rng = random.Random(turn)  # deterministic: the same state gives the same reply
    words = [f"{turn:05d}"]
    while sum(len(w) + 1 for w in words) < REPLY_BYTES:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:REPLY_BYTES]


async def _reply(state: ChatState) -> dict[str, Any]:
    turn = len(state["messages"]) // 2 + 1
    return {"messages": [{"role": "assistant", "content": reply_text(turn)}]}


def chat_builder(api: Any) -> Any:
    """One node appending a ~300-byte reply to ``messages``."""
    graph = api.StateGraph(ChatState)
    graph.add_node("reply", _reply)
    graph.add_edge(api.START, "reply")
    graph.add_edge("reply", api.END)
    return graph


def chat_input(turn: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"turn {turn}: how is it going?"}]}
