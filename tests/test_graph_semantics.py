"""Graph semantics: reducers, schemas, edges, joins, routing, Send, Command, step-boundary order.

Every expected value here was produced by running the same program on LangGraph 1.2.22
(the twin lives in /tmp/lgcheck, imports swapped); differences that lograph makes on
purpose are noted where they occur.
"""

import itertools
import operator
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel, field_validator

from lograph.adapters.memory import MemorySaver
from lograph.runtime import (
    END,
    START,
    AIMessage,
    Checkpointer,
    Command,
    GraphRecursionError,
    GraphValidationError,
    HumanMessage,
    InvalidUpdateError,
    Overwrite,
    Send,
    StateGraph,
    SystemMessage,
    add_messages,
)
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


class LogState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    verdict: str
    route: str
    items: list


def appender(name: str) -> Any:
    """A sync node that appends its own name to ``log``."""

    def node(state: LogState) -> dict[str, Any]:
        return {"log": [name]}

    return node


def chain(*names: str) -> StateGraph:
    builder = StateGraph(LogState)
    for name in names:
        builder.add_node(name, appender(name))
    builder.add_edge(START, names[0])
    for left, right in itertools.pairwise(names):
        builder.add_edge(left, right)
    builder.add_edge(names[-1], END)
    return builder


# --- reducers -------------------------------------------------------------------------


async def test_operator_add_reducer_concatenates_input_and_node_writes(anyio_backend: str) -> None:
    graph = chain("a", "b").compile()
    out = await graph.ainvoke({"log": ["in"], "verdict": "v"})
    assert out == {"log": ["in", "a", "b"], "verdict": "v"}


async def test_plain_key_is_last_value(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: {"verdict": "from-a"})
    builder.add_node("b", lambda s: {"verdict": s["verdict"] + "+b"})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    out = await builder.compile().ainvoke({"verdict": "input"})
    assert out == {"verdict": "from-a+b", "log": []}


async def test_reducer_channel_starts_from_its_types_empty_value(anyio_backend: str) -> None:
    # LangGraph builds a reducer channel's initial value with ``typ()`` ([] / ""), so an
    # unwritten reducer key is present in the output; a plain key never written is absent.
    class S(TypedDict, total=False):
        log: Annotated[list, operator.add]
        text: Annotated[str, operator.add]
        last: str

    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"last": "a"})
    builder.add_edge(START, "a")
    out = await builder.compile().ainvoke({})
    assert out == {"log": [], "text": "", "last": "a"}


def concat(left: str, right: str) -> str:
    return left + right


def merge(left: dict, right: dict) -> dict:
    return {**left, **right}


class CustomState(TypedDict, total=False):
    text: Annotated[str, concat]
    seen: Annotated[dict, merge]


async def test_custom_reducers_fold_parallel_writes_in_node_name_order(anyio_backend: str) -> None:
    builder = StateGraph(CustomState)
    # added in reverse name order: the fold order is by node name, not insertion order
    builder.add_node("zeta", lambda s: {"text": "Z", "seen": {"zeta": 1, "shared": "zeta"}})
    builder.add_node("alpha", lambda s: {"text": "A", "seen": {"alpha": 1, "shared": "alpha"}})
    builder.add_node("end", lambda s: {"text": "!"})
    builder.add_edge(START, "zeta")
    builder.add_edge(START, "alpha")
    builder.add_edge(["zeta", "alpha"], "end")
    out = await builder.compile().ainvoke({"text": ">", "seen": {"input": 0}})
    assert out == {"text": ">AZ!", "seen": {"input": 0, "alpha": 1, "shared": "zeta", "zeta": 1}}


class ChatState(TypedDict):
    messages: Annotated[list, add_messages]


def kinds(messages: list) -> list[tuple[str, str]]:
    return [(type(m).__name__, m.content) for m in messages]


async def test_add_messages_coerces_tuples_dicts_and_replaces_by_id(anyio_backend: str) -> None:
    def reply(state: ChatState) -> dict[str, Any]:
        return {
            "messages": [
                ("ai", "one"),
                {"role": "assistant", "content": "two"},
                AIMessage(content="three", id="m3"),
            ]
        }

    def edit(state: ChatState) -> dict[str, Any]:
        return {"messages": [AIMessage(content="three v2", id="m3"), SystemMessage(content="sys")]}

    builder = StateGraph(ChatState)
    builder.add_node("reply", reply)
    builder.add_node("edit", edit)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", "edit")
    out = await builder.compile().ainvoke(
        {
            "messages": [
                ("user", "hi"),
                HumanMessage(content="there", id="h2"),
                {"role": "system", "content": "s0"},
            ]
        }
    )
    messages = out["messages"]
    assert kinds(messages) == [
        ("HumanMessage", "hi"),
        ("HumanMessage", "there"),
        ("SystemMessage", "s0"),
        ("AIMessage", "one"),
        ("AIMessage", "two"),
        ("AIMessage", "three v2"),  # replaced in place (same id "m3"), not appended
        ("SystemMessage", "sys"),
    ]
    ids = [m.id for m in messages]
    assert ids[1] == "h2" and ids[5] == "m3"
    # every message gets an id (the format is the implementation's own), all distinct
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids)


async def test_add_messages_accepts_a_bare_string_as_a_human_message(anyio_backend: str) -> None:
    builder = StateGraph(ChatState)
    builder.add_node("bot", lambda s: {"messages": [AIMessage(content=f"n={len(s['messages'])}")]})
    builder.add_edge(START, "bot")
    out = await builder.compile().ainvoke({"messages": "just text"})
    assert kinds(out["messages"]) == [("HumanMessage", "just text"), ("AIMessage", "n=1")]


# --- state schemas ----------------------------------------------------------------------


@dataclass
class DataState:
    count: int = 0
    log: Annotated[list, operator.add] = field(default_factory=list)


class ModelState(BaseModel):
    count: int = 0
    log: Annotated[list[str], operator.add] = []


async def test_dataclass_state_schema(anyio_backend: str) -> None:
    seen: list[str] = []

    def step(state: DataState) -> dict[str, Any]:
        seen.append(type(state).__name__)
        return {"count": state.count + 1, "log": [state.count]}

    builder = StateGraph(DataState)
    builder.add_node("a", step)
    builder.add_node("b", step)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile()
    assert await graph.ainvoke({"count": 5}) == {"count": 7, "log": [5, 6]}
    assert seen == ["DataState", "DataState"]  # nodes receive the dataclass, not a dict
    assert await graph.ainvoke(DataState(count=1)) == {"count": 3, "log": [1, 2]}


async def test_pydantic_state_schema(anyio_backend: str) -> None:
    seen: list[str] = []

    def step(state: ModelState) -> dict[str, Any]:
        seen.append(type(state).__name__)
        return {"count": state.count + 1, "log": [str(state.count)]}

    builder = StateGraph(ModelState)
    builder.add_node("a", step)
    builder.add_node("b", step)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile()
    assert await graph.ainvoke({"count": 5}) == {"count": 7, "log": ["5", "6"]}
    assert seen == ["ModelState", "ModelState"]
    assert await graph.ainvoke(ModelState(count=1)) == {"count": 3, "log": ["1", "2"]}


class Checked(BaseModel):
    name: str = ""
    count: int = 0

    @field_validator("name")
    @classmethod
    def shout(cls, value: str) -> str:
        return value.upper()


async def test_a_pydantic_state_reaches_nodes_through_the_model(anyio_backend: str) -> None:
    """LangGraph 1.2.22, same program: a node gets the state validated by the model
    (validators run, "7" becomes 7), and the input checkpoint keeps what was given."""
    builder = StateGraph(Checked)
    builder.add_node("x", lambda s: {"count": s.count + 1, "name": s.name})
    builder.add_edge(START, "x")
    graph = builder.compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    assert await graph.ainvoke({"name": "bob", "count": "7"}, config) == {"name": "BOB", "count": 8}
    history = [s.values async for s in graph.aget_state_history(config)]
    assert history[-2:] == [{"name": "bob", "count": "7"}, {}]
    # a node that writes what the model refuses fails the next node, which the error names
    bad = StateGraph(Checked)
    bad.add_node("n1", lambda s: {"count": "many"})
    bad.add_node("n2", lambda s: {"count": s.count + 1})
    bad.add_edge(START, "n1")
    bad.add_edge("n1", "n2")
    failing = bad.compile(checkpointer=MemorySaver())
    with pytest.raises(ValueError) as info:
        await failing.ainvoke({"count": 1}, config)
    assert info.value.__notes__ == ["Before task with name 'n2'"]
    assert (await failing.aget_state(config)).next == ("n2",)


# --- edges and joins --------------------------------------------------------------------


async def test_edge_chain_runs_in_order_and_each_node_sees_earlier_writes(
    anyio_backend: str,
) -> None:
    seen: list[list[str]] = []

    def node(name: str) -> Any:
        def run(state: LogState) -> dict[str, Any]:
            seen.append(list(state["log"]))
            return {"log": [name]}

        return run

    builder = StateGraph(LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    out = await builder.compile().ainvoke({"log": []})
    assert out == {"log": ["a", "b", "c"]}
    assert seen == [[], ["a"], ["a", "b"]]


async def test_set_entry_point_and_finish_point(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.set_entry_point("a")
    builder.add_edge("a", "b")
    builder.set_finish_point("b")
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["a", "b"]}


async def test_join_runs_once_after_both_in_the_same_step(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, appender(name))
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    builder.add_edge(["a", "b"], "c")
    builder.add_edge("c", END)
    chunks = [c async for c in builder.compile().astream({"log": []}, stream_mode="updates")]
    assert sorted(next(iter(c)) for c in chunks[:2]) == ["a", "b"]
    assert chunks[2:] == [{"c": {"log": ["c"]}}]


def split_join(joined: bool) -> StateGraph:
    """a finishes in step 1, b2 in step 2; c waits for both when ``joined``."""
    builder = StateGraph(LogState)
    for name in ("a", "b1", "b2", "c"):
        builder.add_node(name, appender(name))
    builder.add_edge(START, "a")
    builder.add_edge(START, "b1")
    builder.add_edge("b1", "b2")
    if joined:
        builder.add_edge(["a", "b2"], "c")
    else:
        builder.add_edge("a", "c")
        builder.add_edge("b2", "c")
    builder.add_edge("c", END)
    return builder


async def test_join_waits_for_sources_that_finish_in_different_steps(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = split_join(joined=True).compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "join"}}
        assert await graph.ainvoke({"log": []}, config) == {"log": ["a", "b1", "b2", "c"]}
        # the barrier was consumed: a second run on the same thread joins again, once
        out = await graph.ainvoke({"log": ["again"]}, config)
        assert out == {"log": ["a", "b1", "b2", "c", "again", "a", "b1", "b2", "c"]}


async def test_separate_edges_run_the_target_once_per_trigger(anyio_backend: str) -> None:
    # contrast with the join above: two plain edges trigger c in step 2 and again in step 3
    out = await split_join(joined=False).compile().ainvoke({"log": []})
    assert out == {"log": ["a", "b1", "b2", "c", "c"]}


# --- conditional edges ------------------------------------------------------------------


def routed(path_map: Any = None, router: Any = None) -> StateGraph:
    builder = StateGraph(LogState)
    for name in ("start", "left", "right"):
        builder.add_node(name, appender(name))
    builder.add_edge(START, "start")
    if path_map is None:
        builder.add_conditional_edges("start", router or (lambda s: s["route"]))
    else:
        builder.add_conditional_edges("start", router or (lambda s: s["route"]), path_map)
    return builder


@pytest.mark.parametrize(
    ("route", "log"),
    [("left", ["start", "left"]), ("right", ["start", "right"]), (END, ["start"])],
)
async def test_conditional_edge_without_path_map(
    anyio_backend: str, route: str, log: list[str]
) -> None:
    out = await routed().compile().ainvoke({"log": [], "route": route})
    assert out == {"log": log, "route": route}


@pytest.mark.parametrize(
    ("route", "log"),
    [("go_left", ["start", "left"]), ("go_right", ["start", "right"]), ("stop", ["start"])],
)
async def test_conditional_edge_with_path_map(
    anyio_backend: str, route: str, log: list[str]
) -> None:
    graph = routed({"go_left": "left", "go_right": "right", "stop": END}).compile()
    out = await graph.ainvoke({"log": [], "route": route})
    assert out == {"log": log, "route": route}


async def test_conditional_edge_returning_a_list_runs_all_in_one_step(anyio_backend: str) -> None:
    graph = routed(router=lambda s: ["right", "left"]).compile()
    chunks = [c async for c in graph.astream({"log": []}, stream_mode="updates")]
    assert chunks[0] == {"start": {"log": ["start"]}}
    assert sorted(next(iter(c)) for c in chunks[1:]) == ["left", "right"]
    # both ran in the same step, so their writes are folded in node-name order
    assert await graph.ainvoke({"log": []}) == {"log": ["start", "left", "right"]}


async def test_async_router_with_a_list_of_destinations(anyio_backend: str) -> None:
    async def router(state: LogState) -> str:
        await anyio.lowlevel.checkpoint()
        return state["route"]

    graph = routed(["left", "right"], router=router).compile()
    assert await graph.ainvoke({"log": [], "route": "right"}) == {
        "log": ["start", "right"],
        "route": "right",
    }


async def test_conditional_loop_until_end(anyio_backend: str) -> None:
    class Counter(TypedDict):
        n: int
        log: Annotated[list, operator.add]

    builder = StateGraph(Counter)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1, "log": [s["n"]]})
    builder.add_edge(START, "inc")
    builder.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 3 else END)
    assert await builder.compile().ainvoke({"n": 0, "log": []}) == {"n": 3, "log": [0, 1, 2]}


# --- Send and Command -------------------------------------------------------------------


class Work(TypedDict):
    item: int


def send_graph() -> StateGraph:
    async def worker(work: Work) -> dict[str, Any]:
        await anyio.sleep(random.uniform(0, 0.005))
        return {"log": [f"w{work['item']}"]}

    builder = StateGraph(LogState)
    builder.add_node("split", appender("split"))
    builder.add_node("worker", worker)
    builder.add_node("collect", appender("collect"))
    builder.add_edge(START, "split")
    builder.add_conditional_edges(
        "split", lambda s: [Send("worker", {"item": i}) for i in s["items"]]
    )
    builder.add_edge("worker", "collect")
    return builder


async def test_send_map_reduce_writes_in_send_order(anyio_backend: str) -> None:
    graph = send_graph().compile()
    for _ in range(3):
        out = await graph.ainvoke({"log": [], "items": [3, 1, 2, 0]})
        # workers finish in random order; their writes land in Send order, collect runs once
        assert out == {"log": ["split", "w3", "w1", "w2", "w0", "collect"], "items": [3, 1, 2, 0]}


async def test_command_from_node_updates_and_goes_to(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: Command(update={"log": ["a"], "route": "c"}, goto="c"))
    builder.add_node("b", appender("b"))
    builder.add_node("c", appender("c"))
    builder.add_edge(START, "a")
    graph = builder.compile()
    assert await graph.ainvoke({"log": []}) == {"log": ["a", "c"], "route": "c"}
    chunks = [c async for c in graph.astream({"log": []}, stream_mode="updates")]
    assert chunks == [{"a": {"log": ["a"], "route": "c"}}, {"c": {"log": ["c"]}}]


async def test_command_goto_list_and_end(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: Command(update={"log": ["a"]}, goto=["c", "b"]))
    builder.add_node("b", appender("b"))
    builder.add_node("c", appender("c"))
    builder.add_edge(START, "a")
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["a", "b", "c"]}

    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: Command(update={"log": ["a"]}, goto=END))
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["a"]}


async def test_command_goto_sends_runs_in_send_order_not_name_order(anyio_backend: str) -> None:
    def echo(name: str) -> Any:
        def run(state: LogState) -> dict[str, Any]:
            return {"log": [name + ":" + ",".join(state["log"])]}

        return run

    builder = StateGraph(LogState)
    builder.add_node(
        "a", lambda s: Command(goto=[Send("c", {"log": ["x"]}), Send("b", {"log": ["y"]})])
    )
    builder.add_node("b", echo("b"))
    builder.add_node("c", echo("c"))
    builder.add_edge(START, "a")
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["c:x", "b:y"]}


# --- step-boundary write order ----------------------------------------------------------


async def test_parallel_writes_follow_node_name_order_whatever_finishes_first(
    anyio_backend: str,
) -> None:
    names = ["f", "e", "d", "c", "b", "a"]  # added in reverse name order
    rng = random.Random(1234)

    def sleeper(name: str) -> Any:
        async def run(state: LogState) -> dict[str, Any]:
            await anyio.sleep(rng.uniform(0, 0.01))
            return {"log": [name]}

        return run

    builder = StateGraph(LogState)
    for name in names:
        builder.add_node(name, sleeper(name))
        builder.add_edge(START, name)
    graph = builder.compile()
    for _ in range(5):
        assert await graph.ainvoke({"log": []}) == {"log": ["a", "b", "c", "d", "e", "f"]}


# --- errors -----------------------------------------------------------------------------


async def test_two_writes_to_a_plain_key_in_one_step_name_the_key(anyio_backend: str) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: {"verdict": "yes"})
    builder.add_node("b", lambda s: {"verdict": "no"})
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    with pytest.raises(InvalidUpdateError, match="verdict"):
        await builder.compile().ainvoke({"log": []})


class CountState(TypedDict):
    n: int


def endless(calls: list[int]) -> StateGraph:
    def inc(state: CountState) -> dict[str, Any]:
        calls.append(state["n"])
        return {"n": state["n"] + 1}

    builder = StateGraph(CountState)
    builder.add_node("a", inc)
    builder.add_node("b", inc)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "a")
    return builder


async def test_recursion_limit_default_is_25(anyio_backend: str) -> None:
    # lograph keeps the classic default of 25 supersteps. LangGraph 1.2.22 changed its
    # default to 10007 (LANGGRAPH_DEFAULT_RECURSION_LIMIT); the twin sets that variable
    # to 25 and then runs exactly 25 node calls, as asserted here.
    calls: list[int] = []
    with pytest.raises(GraphRecursionError, match="25"):
        await endless(calls).compile().ainvoke({"n": 0})
    assert len(calls) == 25


async def test_recursion_limit_from_config(anyio_backend: str) -> None:
    calls: list[int] = []
    with pytest.raises(GraphRecursionError, match="5"):
        await endless(calls).compile().ainvoke({"n": 0}, {"recursion_limit": 5})
    assert calls == [0, 1, 2, 3, 4]


async def test_overwrite_replaces_a_reduced_value(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    """LangGraph 1.2.22, same program: Overwrite(v) (or {"__overwrite__": v}) sets a
    reducer's key, dropping the key's other writes of that step; two in one step fail.
    Folded from the log by another saver, the thread has the same state."""
    b = StateGraph(LogState)
    b.add_node("a", appender("a"))
    b.add_node("b", lambda s: {"log": Overwrite(["reset"])})
    b.add_node("c", appender("c"))
    b.add_node("d", lambda s: {"log": {"__overwrite__": ["dict-form"]}})
    b.add_edge(START, "a")
    for left, right in (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")):
        b.add_edge(left, right)
    twice = StateGraph(LogState)
    twice.add_node("x", lambda s: {"log": Overwrite(["x"])})
    twice.add_node("y", lambda s: {"log": Overwrite(["y"])})
    twice.add_edge(START, "x")
    twice.add_edge(START, "y")
    config = {"configurable": {"thread_id": "t"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        assert await graph.ainvoke({"log": ["in"]}, config) == {"log": ["dict-form"]}
        history = [s.values async for s in graph.aget_state_history(config)]
        assert history == [{"log": ["dict-form"]}, {"log": ["reset"]}, {"log": ["in", "a"]},
                           {"log": ["in"]}, {"log": []}]
        again = b.compile(checkpointer=Checkpointer(saver.log))
        assert (await again.aget_state(config)).values == {"log": ["dict-form"]}
        results = [t.result for s in [s async for s in graph.aget_state_history(config)] for t in s.tasks]
        assert {"log": Overwrite(["reset"])} in results  # shown as written, not as stored
        # a Command input's Overwrite comes before the step it starts: the node's write stays
        solo = StateGraph(LogState)
        solo.add_node("s", appender("s"))
        solo.add_edge(START, "s")
        solo_graph = solo.compile(checkpointer=saver)
        await solo_graph.ainvoke({"log": ["in"]}, {"configurable": {"thread_id": "s"}})
        command = Command(update={"log": Overwrite(["co"])}, goto="s")
        assert await solo_graph.ainvoke(command, {"configurable": {"thread_id": "s"}}) == {"log": ["co", "s"]}
        with pytest.raises(InvalidUpdateError, match="Overwrite"):
            await twice.compile(checkpointer=saver).ainvoke({"log": []}, {"configurable": {"thread_id": "u"}})


class Answer(TypedDict):
    verdict: str


@pytest.mark.parametrize("keyword", ["output_schema", "output"])
async def test_an_output_schema_limits_what_invoke_returns(anyio_backend: str, keyword: str) -> None:
    """As LangGraph 1.2.22: invoke returns the output schema's keys; the state, its
    snapshots and the values stream stay whole."""
    builder = StateGraph(LogState, **{keyword: Answer})
    builder.add_node("a", lambda s: {"log": ["a"], "verdict": "ok"})
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    assert await graph.ainvoke({"log": ["in"]}, config) == {"verdict": "ok"}
    assert (await graph.aget_state(config)).values == {"log": ["in", "a"], "verdict": "ok"}
    chunks = [c async for c in graph.astream({"log": ["x"]}, config, stream_mode="values")]
    assert chunks[-1] == {"log": ["in", "a", "x", "a"], "verdict": "ok"}


def test_compile_rejects_an_edge_to_an_unknown_node() -> None:
    builder = chain("a")
    builder.add_edge("a", "missing")
    with pytest.raises(GraphValidationError, match="missing"):
        builder.compile()


def test_compile_rejects_an_edge_from_an_unknown_node() -> None:
    builder = chain("a")
    builder.add_edge("ghost", "a")
    with pytest.raises(GraphValidationError, match="ghost"):
        builder.compile()


def test_compile_rejects_a_graph_without_an_entry_point() -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", appender("a"))
    builder.add_edge("a", END)
    with pytest.raises(GraphValidationError, match=r"(?i)entry"):
        builder.compile()


def test_compile_rejects_an_unknown_path_map_target() -> None:
    builder = chain("a")
    builder.add_conditional_edges("a", lambda s: "x", {"x": "nowhere"})
    with pytest.raises(GraphValidationError, match="nowhere"):
        builder.compile()


@pytest.mark.parametrize("option", ["interrupt_before", "interrupt_after"])
def test_compile_rejects_an_unknown_interrupt_node(option: str) -> None:
    with pytest.raises(GraphValidationError, match="nope"):
        chain("a").compile(**{option: ["nope"]})


def test_graph_validation_error_is_a_value_error() -> None:
    assert issubclass(GraphValidationError, ValueError)


# --- node kinds -------------------------------------------------------------------------


async def test_sync_and_async_nodes_mix(anyio_backend: str) -> None:
    async def b(state: LogState) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {"log": ["async-b"]}

    builder = StateGraph(LogState)
    builder.add_node("a", appender("sync-a"))
    builder.add_node("b", b)
    builder.add_node("c", appender("sync-c"))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    assert await builder.compile().ainvoke({"log": []}) == {"log": ["sync-a", "async-b", "sync-c"]}


async def test_node_returning_none_writes_nothing_but_still_triggers_edges(
    anyio_backend: str,
) -> None:
    builder = StateGraph(LogState)
    builder.add_node("a", lambda s: None)
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile()
    assert await graph.ainvoke({"log": ["x"], "verdict": "kept"}) == {
        "log": ["x", "b"],
        "verdict": "kept",
    }
    chunks = [c async for c in graph.astream({"log": ["x"]}, stream_mode="updates")]
    assert chunks == [{"a": None}, {"b": {"log": ["b"]}}]
