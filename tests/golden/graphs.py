"""The graphs of the golden store, and the value types its states hold.

Imported by the generator (``make_golden``), which runs them once to write the store,
and by ``tests/test_golden_store.py``, which compiles them on each store to read the
committed log back (reading runs no node). Only the public API is used.

The classes below are stored in the log by name (``tests.golden.graphs:Point``, ...):
keep their module, names and fields as they are, or the committed log stops decoding.
The nodes' bodies may change (reading runs none of them); the graphs' shape and their
routing functions (``fan_out``, ``choose``: ``verify --graph`` runs them) may not.
"""

from __future__ import annotations

import enum
import operator
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypedDict
from uuid import UUID

import anyio
from pydantic import BaseModel

from lograph.runtime import (
    END,
    START,
    AIMessage,
    HumanMessage,
    RetryPolicy,
    Send,
    StateGraph,
    add_messages,
    entrypoint,
    interrupt,
    task,
)

# --- exact types kept in the state ------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    x: int
    y: float


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Card(BaseModel):
    title: str
    tags: tuple[str, ...] = ()
    price: Decimal = Decimal("0")


def exact_values() -> dict[str, Any]:
    """Values whose types must come back exactly: no tuple as list, no set as list."""
    return {
        "pair": (1, "a"),
        "members": {3, 1, 2},
        "frozen": frozenset({"x", "y"}),
        "when": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "wait": timedelta(minutes=5),
        "price": Decimal("12.30"),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "raw": b"\x00\xffgolden",
        "point": Point(1, 2.5),
        "color": Color.BLUE,
        "card": Card(title="golden", tags=("a", "b"), price=Decimal("9.99")),
        "nested": [(Point(0, 0.0), {"k": (None, True, 1.5)})],
    }


#: how often each node with a planned failure ran (its first attempt fails)
ATTEMPTS: Counter[str] = Counter()
#: set by the generator: the node "hang" sets it and waits until its run is cancelled
HANG: dict[str, anyio.Event] = {}


def _fail_first(name: str) -> None:
    ATTEMPTS[name] += 1
    if ATTEMPTS[name] == 1:
        raise ConnectionError(f"{name}: the network blinked (first attempt)")


NO_WAIT = RetryPolicy(initial_interval=0.0, jitter=False, max_attempts=3, retry_on=ConnectionError)

# --- "main": Send fan-out, a join barrier across steps, a retried node, an interrupt, messages ---------------


class Main(TypedDict, total=False):
    messages: Annotated[list, add_messages]
    log: Annotated[list, operator.add]
    items: Annotated[list, operator.add]
    exact: dict[str, Any]
    answer: Any


def plan(state: Main) -> dict[str, Any]:
    return {"messages": [AIMessage(content="planning", id="ai-1")], "log": ["plan"]}


def fan_out(state: Main) -> list[Any]:
    return [Send("work", {"n": 1}), Send("work", {"n": 2}), "left", "right"]


def work(arg: dict[str, Any]) -> dict[str, Any]:
    return {"items": [arg["n"] * 10]}


async def left(state: Main) -> dict[str, Any]:
    return {"log": ["left"]}


async def right(state: Main) -> dict[str, Any]:
    return {"log": ["right"]}


async def right2(state: Main) -> dict[str, Any]:
    return {"log": ["right2"]}


def join(state: Main) -> dict[str, Any]:
    return {"log": [f"join {sorted(state['items'])}"]}


async def flaky(state: Main) -> dict[str, Any]:
    _fail_first("flaky")
    return {"log": ["flaky ok"]}


def ask(state: Main) -> dict[str, Any]:
    answer = interrupt({"question": "ship it?", "items": tuple(state["items"])})
    return {"answer": answer, "exact": exact_values(),
            "messages": [HumanMessage(content=f"answer: {answer!r}", id="h-2")]}


def main_graph() -> StateGraph:
    g = StateGraph(Main)
    g.add_node("plan", plan)
    g.add_node("work", work)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_node("right2", right2)
    g.add_node("join", join)
    g.add_node("flaky", flaky, retry_policy=NO_WAIT)
    g.add_node("ask", ask)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan_out, ["work", "left", "right"])
    g.add_edge("work", END)
    g.add_edge("right", "right2")
    g.add_edge(["left", "right2"], "join")  # left waits a step for right2: a barrier is stored
    g.add_edge("join", "flaky")
    g.add_edge("flaky", "ask")
    g.add_edge("ask", END)
    return g


# --- "fragile": a final failure, a cancelled run, a breakpoint, Command input -------------------


class Fragile(TypedDict, total=False):
    mode: str
    log: Annotated[list, operator.add]


def first(state: Fragile) -> dict[str, Any]:
    return {"log": [f"first {state.get('mode')}"]}


def choose(state: Fragile) -> str:
    return {"boom": "boom", "hang": "hang"}.get(state.get("mode", ""), END)


def boom(state: Fragile) -> dict[str, Any]:
    raise ValueError(f"boom: mode {state.get('mode')!r} is refused")


async def hang(state: Fragile) -> dict[str, Any]:
    HANG["entered"].set()
    await anyio.sleep_forever()
    return {}


def fragile_graph() -> StateGraph:
    g = StateGraph(Fragile)
    g.add_node("first", first)
    g.add_node("boom", boom)
    g.add_node("hang", hang)
    g.add_edge(START, "first")
    g.add_conditional_edges("first", choose, ["boom", "hang", END])
    g.add_edge("boom", END)
    g.add_edge("hang", END)
    return g


# --- "outer": a subgraph that interrupts ---------------------------------------------------------


class Outer(TypedDict, total=False):
    topic: str
    verdict: str
    log: Annotated[list, operator.add]


class Inner(TypedDict, total=False):
    topic: str
    verdict: str
    draft: str


async def write(state: Inner) -> dict[str, Any]:
    return {"draft": f"draft on {state['topic']}"}


async def check(state: Inner) -> dict[str, Any]:
    answer = interrupt({"draft": state["draft"]})
    return {"verdict": f"{state['draft']}: {answer}"}


async def intro(state: Outer) -> dict[str, Any]:
    return {"log": ["intro"]}


async def publish(state: Outer) -> dict[str, Any]:
    return {"log": [f"publish {state['verdict']}"]}


def inner_graph() -> StateGraph:
    g = StateGraph(Inner)
    g.add_node("write", write)
    g.add_node("check", check)
    g.add_edge(START, "write")
    g.add_edge("write", "check")
    g.add_edge("check", END)
    return g


def outer_graph() -> StateGraph:
    g = StateGraph(Outer)
    g.add_node("intro", intro)
    g.add_node("team", inner_graph().compile())
    g.add_node("publish", publish)
    g.add_edge(START, "intro")
    g.add_edge("intro", "team")
    g.add_edge("team", "publish")
    g.add_edge("publish", END)
    return g


# --- "workflow": @entrypoint with @task calls, a retried task and a failed one ------------------


def workflow_graph(saver: Any) -> Any:
    @task(retry_policy=NO_WAIT)
    async def fetch(n: int) -> dict[str, Any]:
        _fail_first("fetch")
        return {"n": n, "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "tags": (n, "t")}

    @task
    def risky(n: int) -> int:
        raise KeyError(f"no record {n}")

    @task
    async def double(n: int) -> int:
        return n * 2

    @entrypoint(checkpointer=saver)
    async def workflow(inp: dict[str, Any], previous: Any = None) -> dict[str, Any]:
        got = await fetch(inp["n"])
        try:
            await risky(inp["n"])
            refused = None
        except KeyError as e:
            refused = str(e)
        a, b = double(1), double(2)
        pair = (await a, await b)
        approval = interrupt({"approve": got["n"], "pair": pair})
        return {"got": got, "refused": refused, "pair": pair, "approval": approval,
                "previous": previous, "total": Decimal("1.10") * inp["n"]}

    return workflow


# --- what the test compiles --------------------------------------------------------------------

#: each thread of the golden store, and the graph that wrote it
THREADS: dict[str, str] = {
    "main-1": "main",
    "fail-1": "fragile",
    "cancel-1": "fragile",
    "cmd-1": "fragile",
    "sub-1": "outer",
    "func-1": "workflow",
}


def build(saver: Any) -> dict[str, Any]:
    """Every graph of the golden store, compiled on ``saver``."""
    return {
        "main": main_graph().compile(checkpointer=saver),
        "fragile": fragile_graph().compile(checkpointer=saver),
        "outer": outer_graph().compile(checkpointer=saver),
        "workflow": workflow_graph(saver),
    }


__all__ = ["ATTEMPTS", "HANG", "THREADS", "Card", "Color", "Point", "build", "exact_values"]
