"""The low-level ``Pregel`` API: nodes made with ``NodeBuilder`` over named channels.

A Pregel graph runs on the same engine and log as a StateGraph, so what is checked here
is what is its own: which nodes a channel update runs, what each channel class does with
a step's writes, what the input, the result and the streams are, and that its threads
are stored, resumed, forked and verified like any other. Store tests run on every
store; async tests on asyncio and trio.
"""

from __future__ import annotations

import itertools
import operator
from pathlib import Path
from typing import Annotated, Any, NotRequired, Required, TypedDict

import pytest

from lograph.eventlog import Checkpoint
from lograph.eventlog.lowlevel import DELETE, SET, dump_snapshot, load_snapshot
from lograph.runtime import (
    Command,
    EmptyInputError,
    GraphRecursionError,
    InvalidUpdateError,
    NodeBuilder,
    Pregel,
    StateGraph,
    TimeoutPolicy,
    interrupt,
    verify_thread,
)
from lograph.runtime.channels import (
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    LastValueAfterFinish,
    NamedBarrierValue,
    Topic,
    UntrackedValue,
)
from lograph.runtime.lowlevel import ChannelWriteEntry
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


def chain(*steps: str) -> Pregel:
    """A pipeline: node ``i`` reads channel ``steps[i]``, adds one, writes ``steps[i+1]``."""
    nodes = {
        f"n{i}": NodeBuilder().subscribe_only(src).do(lambda x: x + 1).write_to(dst)
        for i, (src, dst) in enumerate(itertools.pairwise(steps))
    }
    return Pregel(nodes=nodes, channels={s: LastValue(int) for s in steps},
                  input_channels=steps[0], output_channels=steps[-1])


async def test_a_pipeline_runs_each_node_once_in_its_own_step() -> None:
    graph = chain("a", "b", "c", "d")
    assert await graph.ainvoke(10) == 13
    assert await graph.ainvoke(0, output_keys=["b", "d"]) == {"b": 1, "d": 3}
    assert await graph.abatch([1, 2]) == [4, 5]
    with pytest.raises(GraphRecursionError):
        await graph.ainvoke(1, {"recursion_limit": 2})


async def test_nodes_triggered_together_fan_into_a_topic() -> None:
    left = NodeBuilder().subscribe_only("x").do(lambda x: x * 2).write_to("bag")
    right = NodeBuilder().subscribe_only("x").do(lambda x: [x, x]).write_to("bag")  # a list adds items
    total = NodeBuilder().subscribe_only("bag").do(sum).write_to("sum")
    graph = Pregel(nodes={"left": left, "right": right, "total": total},
                   channels={"x": LastValue(int), "bag": Topic(int), "sum": LastValue(int)},
                   input_channels="x", output_channels=["bag", "sum"])
    # the topic is emptied by the step after the one that filled it: only "sum" is left
    assert await graph.ainvoke(3) == {"sum": 12}
    steps = [c async for c in graph.astream(3, stream_mode="updates")]  # one chunk per node
    assert sorted(steps[:2], key=str) == [{"left": {"bag": 6}}, {"right": {"bag": [3, 3]}}]
    assert steps[2:] == [{"total": {"sum": 12}}]


async def test_two_writes_to_a_last_value_in_one_step_are_refused() -> None:
    a = NodeBuilder().subscribe_only("x").write_to("y")
    b = NodeBuilder().subscribe_only("x").write_to("y")
    graph = Pregel(nodes={"a": a, "b": b}, channels={"x": LastValue(int), "y": LastValue(int)},
                   input_channels="x", output_channels="y")
    with pytest.raises(InvalidUpdateError, match="one value per step"):
        await graph.ainvoke(1)


async def test_write_entries_skip_none_and_keyword_writes_loop_until_done() -> None:
    grow = (NodeBuilder().subscribe_only("word")
            .do(lambda w: w + w if len(w) < 8 else None)
            .write_to(ChannelWriteEntry("word", skip_none=True), seen=lambda w: w is not None, fixed=7))
    graph = Pregel(nodes={"grow": grow},
                   channels={"word": EphemeralValue(str), "seen": Topic(bool, accumulate=True),
                             "fixed": LastValue(int)},
                   input_channels=["word"], output_channels=["word", "seen", "fixed"])
    # "ab" -> "abab" -> "abababab" -> None (not written: the ephemeral word clears, the loop ends)
    assert await graph.ainvoke({"word": "ab"}) == {"seen": [True, True, False], "fixed": 7}


async def test_values_stream_shows_the_stream_channels_after_each_step_that_changed_them() -> None:
    one = NodeBuilder().subscribe_only("inp").do(lambda x: x + 1).write_to("out", "mid")
    two = NodeBuilder().subscribe_only("mid").do(lambda x: x * 10).write_to("out")
    graph = Pregel(nodes={"one": one, "two": two},
                   channels={"inp": LastValue(int), "mid": LastValue(int), "out": LastValue(int)},
                   input_channels="inp", output_channels="out", stream_channels=["out", "mid"])
    assert [c async for c in graph.astream(1)] == [{"out": 2, "mid": 2}, {"out": 20, "mid": 2}]
    assert await graph.ainvoke(1) == 20


async def test_a_node_that_reads_several_channels_gets_those_holding_a_value() -> None:
    seen: list[Any] = []

    def look(x: dict[str, Any]) -> str:
        seen.append(x)
        return "ok"

    node = NodeBuilder().subscribe_to("a").read_from("b", "c").do(look).write_to("out")
    graph = Pregel(nodes={"n": node},
                   channels={"a": LastValue(int), "b": LastValue(int), "c": LastValue(int), "out": LastValue(str)},
                   input_channels=["a", "b"], output_channels="out")
    assert await graph.ainvoke({"a": 1, "b": 2}) == "ok"
    assert seen == [{"a": 1, "b": 2}]


async def test_after_finish_channels_wait_until_nothing_else_runs() -> None:
    order: list[str] = []

    def step(name: str, out: Any) -> Any:
        def run(x: Any) -> Any:
            order.append(name)
            return out
        return run

    nodes = {
        "start": NodeBuilder().subscribe_only("go").do(step("start", 1)).write_to("work", "late"),
        "work": NodeBuilder().subscribe_only("work").do(step("work", None)),
        "late": NodeBuilder().subscribe_only("late").do(step("late", "done")).write_to("out"),
    }
    graph = Pregel(nodes=nodes, channels={"go": LastValue(int), "work": LastValue(int),
                                          "late": LastValueAfterFinish(int), "out": LastValue(str)},
                   input_channels="go", output_channels="out")
    assert await graph.ainvoke(1) == "done"
    assert order == ["start", "work", "late"]


async def test_a_named_barrier_runs_its_node_once_every_name_arrived() -> None:
    nodes = {
        "a": NodeBuilder().subscribe_only("go").do(lambda _: "a").write_to("gate"),
        "b": NodeBuilder().subscribe_only("go").do(lambda _: "b").write_to("gate", "b_again"),
        "c": NodeBuilder().subscribe_only("b_again").do(lambda _: "c").write_to("gate"),
        "join": NodeBuilder().subscribe_to("gate", read=False).do(lambda _: "joined").write_to("out"),
    }
    graph = Pregel(nodes=nodes, channels={"go": LastValue(int), "b_again": LastValue(str),
                                          "gate": NamedBarrierValue(str, {"a", "b", "c"}), "out": LastValue(str)},
                   input_channels="go", output_channels="out")
    steps = [c async for c in graph.astream(1, stream_mode="updates", output_keys=["out"])]
    assert sorted(n for s in steps[:2] for n in s) == ["a", "b"]
    assert [list(s) for s in steps[2:]] == [["c"], ["join"]]
    assert steps[-1] == {"join": {"out": "joined"}}


def test_the_graph_is_checked_when_it_is_made() -> None:
    ok = NodeBuilder().subscribe_only("x").write_to("y")
    channels = {"x": LastValue(int), "y": LastValue(int)}
    with pytest.raises(TypeError):
        Pregel(nodes={"n": ok})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Invalid node type"):
        Pregel(nodes={"n": lambda x: x}, channels=channels, input_channels="x", output_channels="y")  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="reads channel 'z' not in known channels"):
        Pregel(nodes={"n": NodeBuilder().subscribe_only("z")}, channels=channels,
               input_channels="x", output_channels="y")
    with pytest.raises(ValueError, match="not subscribed to by any node"):
        Pregel(nodes={"n": ok}, channels=channels, input_channels="y", output_channels="y")
    with pytest.raises(ValueError, match="Output channel 'w'"):
        Pregel(nodes={"n": ok}, channels=channels, input_channels="x", output_channels="w")
    with pytest.raises(ValueError, match="reserved"):
        Pregel(nodes={"n": ok}, channels={**channels, "__start__": LastValue(int)},
               input_channels="x", output_channels="y")
    with pytest.raises(ValueError, match="Node missing not in nodes"):
        Pregel(nodes={"n": ok}, channels=channels, input_channels="x", output_channels="y",
               interrupt_before_nodes=["missing"])


def test_what_lograph_does_not_implement_is_refused_by_name() -> None:
    ok = NodeBuilder().subscribe_only("x").write_to("y")
    channels = {"x": LastValue(int), "y": LastValue(int)}
    for option in ({"stream_eager": True},
                   {"node_error_handler_map": {"n": "h"}}, {"auto_validate": False}):
        with pytest.raises(NotImplementedError, match=next(iter(option))):
            Pregel(nodes={"n": ok}, channels=channels, input_channels="x", output_channels="y", **option)
    with pytest.raises(NotImplementedError, match="UntrackedValue"):
        Pregel(nodes={"n": ok}, channels={**channels, "u": UntrackedValue(int)},
               input_channels="x", output_channels="y")
    with pytest.raises(NotImplementedError, match="metadata"):
        NodeBuilder().meta(owner="me")
    with pytest.raises(ValueError, match="only supported for async nodes"):
        Pregel(nodes={"n": NodeBuilder().subscribe_only("x").do(lambda v: v).set_timeout(TimeoutPolicy(run_timeout=1))},
               channels=channels, input_channels="x", output_channels="y")


async def test_input_keys_and_emptiness_are_checked_before_anything_is_written(
    store_kind: str, tmp_path: Path,
) -> None:
    node = NodeBuilder().subscribe_only("x").write_to("y")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Pregel(nodes={"n": node}, channels={"x": LastValue(int), "y": LastValue(int)},
                       input_channels=["x"], output_channels="y", checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        with pytest.raises(InvalidUpdateError, match="'y'"):
            await graph.ainvoke({"y": 1}, config)
        with pytest.raises(EmptyInputError):
            await graph.ainvoke({}, config)
        assert await saver.log.read("t") == []
        assert await graph.ainvoke({"x": 5}, config) == 5


def accumulator(saver: Any) -> Pregel:
    """``total`` adds up every input; the node fails on a sum above 10."""
    def add(x: dict[str, int]) -> int:
        return x["total"] + x["inp"]

    def guard(v: int) -> int:
        if v > 10:
            raise ValueError("too large")
        return v

    node = NodeBuilder().subscribe_to("inp").read_from("total").do(add).do(guard).write_to("out", "total")
    return Pregel(nodes={"acc": node},
                  channels={"inp": LastValue(int), "out": LastValue(int),
                            "total": BinaryOperatorAggregate(int, operator.add)},
                  input_channels="inp", output_channels="out", checkpointer=saver)


async def test_a_thread_keeps_its_channels_across_runs_and_recovers_from_a_failure(
    store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = accumulator(saver)
        config = {"configurable": {"thread_id": "acc"}}
        assert await graph.ainvoke(2, config) == 2
        assert await graph.ainvoke(3, config, durability="sync") == 5
        with pytest.raises(ValueError, match="too large"):
            await graph.ainvoke(6, config)
        state = await graph.aget_state(config)
        assert state.values == {"inp": 6, "out": 5, "total": 7}
        assert state.next == ("acc",)
        assert await graph.ainvoke(1, config, durability="exit") == 8
        history = [s async for s in graph.aget_state_history(config)]
        assert [s.metadata["source"] for s in history] == ["loop", "input", "input", "loop", "input", "loop", "input"]
        assert history[0].values["total"] == 15
        assert (await verify_thread(saver, "acc", graph=graph)).ok
        # update_state on a graph of one node: written as that node's result
        forked = await graph.aupdate_state(history[1].config, 4)
        state = await graph.aget_state(forked)
        assert state.values["total"] == 11 and state.values["out"] == 4
        assert state.parent_config == history[1].config


async def test_an_ephemeral_channel_is_cleared_in_the_log_too(store_kind: str, tmp_path: Path) -> None:
    nodes = {
        "a": NodeBuilder().subscribe_only("inp").do(lambda x: x + 1).write_to("flash"),
        "b": NodeBuilder().subscribe_only("flash").do(lambda x: x * 2).write_to("out"),
    }
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Pregel(nodes=nodes, channels={"inp": LastValue(int), "flash": EphemeralValue(int),
                                              "out": LastValue(int)},
                       input_channels="inp", output_channels="out", checkpointer=saver)
        config = {"configurable": {"thread_id": "e"}}
        assert await graph.ainvoke(1, config) == 4
        history = [s.values async for s in graph.aget_state_history(config)]
        assert history == [{"inp": 1, "out": 4}, {"inp": 1, "flash": 2}, {"inp": 1}]
        stored = await saver.aget_tuple(config)
        assert stored.checkpoint["channel_values"] == {"inp": 1, "out": 4}
        assert (await verify_thread(saver, "e", graph=graph)).ok


async def test_a_node_interrupts_and_resumes_on_the_thread(store_kind: str, tmp_path: Path) -> None:
    def ask(x: int) -> str:
        answer = interrupt(f"approve {x}?")
        return f"{x}:{answer}"

    node = NodeBuilder().subscribe_only("inp").do(ask).write_to("out")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Pregel(nodes={"ask": node}, channels={"inp": LastValue(int), "out": LastValue(str)},
                       input_channels="inp", output_channels=["out"], checkpointer=saver)
        config = {"configurable": {"thread_id": "i"}}
        paused = await graph.ainvoke(7, config)
        assert paused["__interrupt__"][0].value == "approve 7?"
        assert (await graph.aget_state(config)).next == ("ask",)
        assert await graph.ainvoke(Command(resume="yes"), config) == {"out": "7:yes"}
        assert (await verify_thread(saver, "i", graph=graph)).ok


async def test_breakpoints_stop_before_a_node() -> None:
    from lograph.adapters.memory import InMemorySaver

    graph = chain("a", "b", "c")
    graph = Pregel(nodes=graph.nodes, channels=graph.channels, input_channels="a", output_channels="c",
                   interrupt_before_nodes=["n1"], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "bp"}}
    assert await graph.ainvoke(1, config) is None
    assert (await graph.aget_state(config)).next == ("n1",)
    assert await graph.ainvoke(None, config) == 3


def test_a_state_graph_shows_its_keys_as_channels() -> None:
    class State(TypedDict):
        items: Annotated[list, operator.add]
        name: str

    graph = StateGraph(State).add_node("n", lambda s: s).add_edge("__start__", "n").compile()
    assert isinstance(graph.channels["items"], BinaryOperatorAggregate)
    assert isinstance(graph.channels["name"], LastValue)
    assert graph.copy({"name": "other"}).name == "other" and graph.name == "LangGraph"


def test_snapshots_keep_a_cleared_channel_cleared() -> None:
    base = Checkpoint(values={"a": 1, "b": 2})
    later = Checkpoint(values={"a": 3})
    data = dump_snapshot(later, (5, base.values))
    assert load_snapshot(data, base).values == {"a": 3}
    assert DELETE != SET


async def test_a_node_runs_another_pregel_over_a_list(store_kind: str, tmp_path: Path) -> None:
    inner = chain("x", "y")  # adds one
    nodes = {
        "spread": NodeBuilder().subscribe_only("inp").do(lambda xs: [x * 10 for x in xs]).write_to("items"),
        "each": NodeBuilder().subscribe_only("items").do(inner.map()).write_to("done"),
        "sum": NodeBuilder().subscribe_only("done").do(sum).write_to("out"),
    }
    channels = {"inp": LastValue(list), "items": Topic(int), "done": LastValue(list), "out": LastValue(int)}
    graph = Pregel(nodes=nodes, channels=channels, input_channels="inp", output_channels="out")
    assert await graph.ainvoke([1, 2]) == 32
    async with open_saver(store_kind, tmp_path) as saver:
        graph.checkpointer = saver  # set after it was made, as LangGraph allows
        config = {"configurable": {"thread_id": "m"}}
        assert await graph.ainvoke([1, 2], config) == 32
        assert (await verify_thread(saver, "m", graph=graph)).ok
        inner.checkpointer = False  # the inner runs keep nothing
        assert await graph.ainvoke([3], config) == 31


def test_a_compiled_graph_lists_its_nodes_and_copies() -> None:
    class State(TypedDict):
        name: str

    graph = StateGraph(State).add_node("n", lambda s: s).add_edge("__start__", "n").compile()
    node = graph.nodes["n"]
    assert node.triggers == ["branch:to:n"] and node.channels == ["name"]
    assert node.copy({"triggers": ["other"]}).triggers == ["other"]


def test_a_channel_class_in_a_state_schema_is_refused_not_taken_for_a_reducer() -> None:
    class State(TypedDict):
        flash: Annotated[str, EphemeralValue]

    with pytest.raises(NotImplementedError, match="EphemeralValue channel in a StateGraph"):
        StateGraph(State)


class Handle:
    """Something a log could never store (a lock)."""

    def __init__(self, name: str) -> None:
        import threading

        self.name, self.lock = name, threading.Lock()


class Session(TypedDict):
    log: Annotated[list, operator.add]
    handle: Annotated[Handle, UntrackedValue]


def session_graph(saver: Any) -> Any:
    from lograph.runtime import Send

    def open_it(state: Session) -> dict[str, Any]:
        return {"log": ["opened"], "handle": Handle("first")}

    def fan_out(state: Session) -> list[Any]:
        return [Send("use", state), Send("use", {**state, "log": ["second"]})]

    def use(state: Session) -> dict[str, Any]:
        return {"log": [f"used {state['handle'].name}"]}

    def close(state: Session) -> dict[str, Any]:
        return {"log": [f"closing {state['handle'].name}"], "handle": Handle("last")}

    b = StateGraph(Session).add_node("open", open_it).add_node("use", use).add_node("close", close)
    b.add_edge("__start__", "open").add_conditional_edges("open", fan_out).add_edge("use", "close")
    return b.compile(checkpointer=saver)


async def test_an_untracked_value_lives_in_the_run_and_never_in_the_log(store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = session_graph(saver)
        config = {"configurable": {"thread_id": "u"}}
        out = await graph.ainvoke({"log": []}, config)
        assert out["log"] == ["opened", "used first", "used first", "closing first"]
        assert out["handle"].name == "last"  # the run's value, returned
        state = await graph.aget_state(config)
        assert "handle" not in state.values and state.values["log"] == out["log"]
        for event in await saver.log.read("u"):  # stored without it: a Send's arg too
            assert b"Handle" not in event.body
        assert (await verify_thread(saver, "u", graph=graph)).ok


async def test_two_writes_to_a_guarded_untracked_key_in_a_step_are_refused() -> None:
    class State(TypedDict):
        n: int
        handle: Annotated[str, UntrackedValue]

    b = StateGraph(State).add_node("a", lambda s: {"handle": "a"}).add_node("b", lambda s: {"handle": "b"})
    b.add_edge("__start__", "a").add_edge("__start__", "b")
    with pytest.raises(InvalidUpdateError, match="UntrackedValue"):
        await b.compile().ainvoke({"n": 1})


async def test_a_reducer_under_required_is_the_keys_reducer() -> None:
    class State(TypedDict, total=False):
        tags: Required[Annotated[dict, operator.or_]]
        seen: NotRequired[Annotated[list, operator.add]]

    def node(state: State) -> dict[str, Any]:
        return {"tags": {"b": 2}, "seen": ["n"]}

    graph = StateGraph(State).add_node("n", node).add_edge("__start__", "n").compile()
    assert isinstance(graph.channels["tags"], BinaryOperatorAggregate)
    assert await graph.ainvoke({"tags": {"a": 1}}) == {"tags": {"a": 1, "b": 2}, "seen": ["n"]}


async def test_a_step_timeout_bounds_each_step() -> None:
    import anyio

    async def slow(x: int) -> int:
        await anyio.sleep(5)
        return x

    node = NodeBuilder().subscribe_only("x").do(slow).write_to("y")
    graph = Pregel(nodes={"n": node}, channels={"x": LastValue(int), "y": LastValue(int)},
                   input_channels="x", output_channels="y", step_timeout=0.05)
    assert graph.step_timeout == 0.05
    with pytest.raises(TimeoutError):
        await graph.ainvoke(1)


async def test_invoke_returns_what_the_run_last_showed_of_its_output() -> None:
    # the loop ends with a step that writes nothing: the ephemeral "word" empties then,
    # and the result is its last value, as LangGraph's (the state keeps it empty)
    grow = (NodeBuilder().subscribe_only("word").do(lambda w: w + w if len(w) < 8 else None)
            .write_to(ChannelWriteEntry("word", skip_none=True)))
    graph = Pregel(nodes={"grow": grow}, channels={"word": EphemeralValue(str)},
                   input_channels=["word"], output_channels=["word"])
    assert await graph.ainvoke({"word": "ab"}) == {"word": "abababab"}
    assert [c async for c in graph.astream({"word": "ab"})] == [{"word": "abab"}, {"word": "abababab"}]
    assert await graph.ainvoke({"word": "abababab"}) is None  # nothing shown: no output


async def test_a_node_that_returns_a_command_or_a_send_writes_it_as_its_value(
    store_kind: str, tmp_path: Path,
) -> None:
    """A Pregel node has no state schema to route by: what it returns is what its writers
    write, a ``Command`` or a ``Send`` as any other value (as LangGraph's Pregel does);
    the value is stored and read back as it was."""
    from lograph.runtime import Send

    make = NodeBuilder().subscribe_only("inp").do(lambda v: Command(update={"out": v}, goto="elsewhere"))
    post = NodeBuilder().subscribe_only("inp").do(lambda v: Send("nowhere", v))
    async with open_saver(store_kind, tmp_path) as saver:
        graph = Pregel(nodes={"make": make.write_to("cmd"), "post": post.write_to("send")},
                       channels={"inp": EphemeralValue(str), "cmd": LastValue(object),
                                 "send": LastValue(object)},
                       input_channels="inp", output_channels=["cmd", "send"], checkpointer=saver)
        config = {"configurable": {"thread_id": "values"}}
        out = await graph.ainvoke("hi", config)
        assert out == {"cmd": Command(update={"out": "hi"}, goto="elsewhere"), "send": Send("nowhere", "hi")}
        assert (await graph.aget_state(config)).values == out
        chunks = [c async for c in graph.astream("again", {"configurable": {"thread_id": "streamed"}},
                                               stream_mode="updates")]
        assert {"make": {"cmd": Command(update={"out": "again"}, goto="elsewhere")}} in chunks
        assert (await verify_thread(saver, "values", graph=graph)).ok
