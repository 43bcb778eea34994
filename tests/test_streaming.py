"""Streaming: values, updates, custom, debug, several modes at once; async and sync.

Expected chunks were produced by the same programs on LangGraph 1.2.22 (twins in
/tmp/lgcheck). Ids and timestamps are the implementation's own: tests check that they
are present and consistent, never their format beyond ISO-8601 timestamps.
"""

import operator
import time
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import anyio.lowlevel
import pytest

from lograph.adapters.memory import MemorySaver
from lograph.runtime import (
    END,
    START,
    Command,
    Send,
    StateGraph,
    entrypoint,
    get_stream_writer,
    interrupt,
    task,
)
from tests._stores import open_saver


class LogState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    last: str
    items: list


def node_a(state: LogState) -> dict[str, Any]:
    write = get_stream_writer()
    write({"node": "a", "progress": 1})
    write("a-done")
    return {"log": ["a"], "last": "a"}


async def node_b(state: LogState) -> dict[str, Any]:
    await anyio.lowlevel.checkpoint()
    return {"log": ["b"], "last": "b"}


def sync_node_b(state: LogState) -> dict[str, Any]:
    return {"log": ["b"], "last": "b"}


def linear(*, async_b: bool = True) -> StateGraph:
    """START -> a (sync, writes custom chunks) -> b (async unless ``async_b=False``) -> END.

    The sync-facade tests use ``async_b=False`` only because LangGraph's sync ``stream``
    cannot run an async node (the twin must run there too); lograph's facade can.
    """
    builder = StateGraph(LogState)
    builder.add_node("a", node_a)
    builder.add_node("b", node_b if async_b else sync_node_b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder


async def collect(graph: Any, inp: Any, config: Any = None, **kwargs: Any) -> list[Any]:
    return [chunk async for chunk in graph.astream(inp, config, **kwargs)]


VALUES = [
    {"log": ["in"]},
    {"log": ["in", "a"], "last": "a"},
    {"log": ["in", "a", "b"], "last": "b"},
]
UPDATES = [
    {"a": {"log": ["a"], "last": "a"}},
    {"b": {"log": ["b"], "last": "b"}},
]
CUSTOM = [{"node": "a", "progress": 1}, "a-done"]


@pytest.mark.anyio
async def test_values_mode_yields_the_input_state_then_the_state_after_each_step(
    anyio_backend: str,
) -> None:
    assert await collect(linear().compile(), {"log": ["in"]}, stream_mode="values") == VALUES


@pytest.mark.anyio
async def test_updates_mode_yields_each_nodes_update(anyio_backend: str) -> None:
    assert await collect(linear().compile(), {"log": ["in"]}, stream_mode="updates") == UPDATES


@pytest.mark.anyio
async def test_default_stream_mode_is_updates(anyio_backend: str) -> None:
    assert await collect(linear().compile(), {"log": ["in"]}) == UPDATES


@pytest.mark.anyio
async def test_custom_mode_yields_what_nodes_write(anyio_backend: str) -> None:
    assert await collect(linear().compile(), {"log": ["in"]}, stream_mode="custom") == CUSTOM


@pytest.mark.anyio
async def test_several_modes_yield_mode_chunk_tuples_in_order(anyio_backend: str) -> None:
    graph = linear().compile()
    chunks = await collect(graph, {"log": ["in"]}, stream_mode=["values", "updates", "custom"])
    assert chunks == [
        ("values", VALUES[0]),
        ("custom", CUSTOM[0]),
        ("custom", CUSTOM[1]),
        ("updates", UPDATES[0]),
        ("values", VALUES[1]),
        ("updates", UPDATES[1]),
        ("values", VALUES[2]),
    ]
    chunks = await collect(graph, {"log": ["in"]}, stream_mode=["updates", "custom"])
    assert chunks == [
        ("custom", CUSTOM[0]),
        ("custom", CUSTOM[1]),
        ("updates", UPDATES[0]),
        ("updates", UPDATES[1]),
    ]


@pytest.mark.anyio
async def test_updates_of_parallel_and_sent_tasks(anyio_backend: str) -> None:
    async def worker(work: dict[str, Any]) -> dict[str, Any]:
        await anyio.sleep(0.001 * work["item"])
        return {"log": [f"w{work['item']}"]}

    builder = StateGraph(LogState)
    builder.add_node("split", lambda s: {"log": ["split"]})
    builder.add_node("worker", worker)
    builder.add_node("collect", lambda s: None)
    builder.add_edge(START, "split")
    builder.add_conditional_edges(
        "split", lambda s: [Send("worker", {"item": i}) for i in s["items"]]
    )
    builder.add_edge("worker", "collect")
    chunks = await collect(
        builder.compile(), {"log": [], "items": [3, 1, 2]}, stream_mode="updates"
    )
    assert chunks[0] == {"split": {"log": ["split"]}}
    # one chunk per Send task (emitted as each finishes, so compared without order)
    assert sorted(chunk["worker"]["log"][0] for chunk in chunks[1:4]) == ["w1", "w2", "w3"]
    assert chunks[4:] == [{"collect": None}]


def is_iso(ts: Any) -> bool:
    return datetime.fromisoformat(ts).tzinfo is not None


@pytest.mark.anyio
async def test_debug_mode_without_a_checkpointer_reports_tasks(anyio_backend: str) -> None:
    chunks = await collect(linear().compile(), {"log": ["in"]}, stream_mode="debug")
    assert all(set(c) == {"type", "step", "timestamp", "payload"} for c in chunks)
    assert all(is_iso(c["timestamp"]) for c in chunks)
    assert [(c["type"], c["step"], c["payload"]["name"]) for c in chunks] == [
        ("task", 1, "a"),
        ("task_result", 1, "a"),
        ("task", 2, "b"),
        ("task_result", 2, "b"),
    ]
    task_a, result_a, task_b, result_b = (c["payload"] for c in chunks)
    assert task_a["input"] == {"log": ["in"]}
    assert task_b["input"] == {"log": ["in", "a"], "last": "a"}
    assert result_a["result"] == {"log": ["a"], "last": "a"}
    assert result_b["result"] == {"log": ["b"], "last": "b"}
    assert result_a["error"] is None
    assert task_a["id"] == result_a["id"] != task_b["id"] == result_b["id"]


@pytest.mark.anyio
async def test_debug_mode_with_a_checkpointer_reports_checkpoints_and_tasks(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "dbg"}}
        chunks = await collect(graph, {"log": ["in"]}, config, stream_mode="debug")
        assert [(c["type"], c["step"]) for c in chunks] == [
            ("checkpoint", -1),
            ("checkpoint", 0),
            ("task", 1),
            ("task_result", 1),
            ("checkpoint", 1),
            ("task", 2),
            ("task_result", 2),
            ("checkpoint", 2),
        ]
        checkpoints = [c["payload"] for c in chunks if c["type"] == "checkpoint"]
        assert [p["values"] for p in checkpoints] == [
            {"log": []},
            {"log": ["in"]},
            {"log": ["in", "a"], "last": "a"},
            {"log": ["in", "a", "b"], "last": "b"},
        ]
        assert [(p["metadata"]["source"], p["metadata"]["step"]) for p in checkpoints] == [
            ("input", -1),
            ("loop", 0),
            ("loop", 1),
            ("loop", 2),
        ]
        assert [list(p["next"]) for p in checkpoints] == [["__start__"], ["a"], ["b"], []]


@pytest.mark.anyio
async def test_debug_checkpoint_payload_carries_its_config_and_parent(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "dbg"}}
        chunks = await collect(graph, {"log": ["in"]}, config, stream_mode="debug")
        checkpoints = [c["payload"] for c in chunks if c["type"] == "checkpoint"]
        assert len(checkpoints) == 4
        ids = [p["config"]["configurable"]["checkpoint_id"] for p in checkpoints]
        assert all(p["config"]["configurable"]["thread_id"] == "dbg" for p in checkpoints)
        # each checkpoint's parent is the previous one; the last is what get_state returns
        assert checkpoints[0]["parent_config"] is None
        parents = [p["parent_config"]["configurable"]["checkpoint_id"] for p in checkpoints[1:]]
        assert parents == ids[:-1]
        head = await graph.aget_state(config)
        assert ids[-1] == head.config["configurable"]["checkpoint_id"]
        history = [s async for s in graph.aget_state_history(config)]
        assert [s.config["configurable"]["checkpoint_id"] for s in history] == ids[::-1]


@pytest.mark.anyio
async def test_values_mode_on_a_thread_starts_from_the_saved_state(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "vals"}}
        assert await collect(graph, {"log": ["in"]}, config, stream_mode="values") == VALUES
        second = await collect(graph, {"log": ["in2"]}, config, stream_mode="values")
        assert second == [
            {"log": ["in", "a", "b", "in2"], "last": "b"},
            {"log": ["in", "a", "b", "in2", "a"], "last": "a"},
            {"log": ["in", "a", "b", "in2", "a", "b"], "last": "b"},
        ]


class X(TypedDict):
    x: int


def ask_node(state: X) -> dict[str, Any]:
    return {"x": interrupt("ok?")}


@pytest.mark.anyio
async def test_interrupts_and_resumes_in_the_stream(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """As LangGraph 1.2.22 streams them: a dynamic interrupt ends ``values`` with the state
    and ``__interrupt__``; a breakpoint ends ``updates`` with ``{"__interrupt__": ()}``;
    a resumed run starts ``values`` with the state it resumes from."""
    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(X)
        b.add_node("a", lambda s: {"x": s["x"] + 1})
        b.add_node("z", lambda s: {"x": s["x"] * 10})
        b.add_edge(START, "a")
        b.add_edge("a", "z")
        before = b.compile(checkpointer=saver, interrupt_before=["z"])
        assert await collect(before, {"x": 1}, cfg("b"), stream_mode="values") == [{"x": 1}, {"x": 2}]
        assert await collect(before, None, cfg("b"), stream_mode="values") == [{"x": 2}, {"x": 20}]
        after = b.compile(checkpointer=saver, interrupt_after=["a"])
        assert await collect(after, {"x": 1}, cfg("c"), stream_mode=["values", "updates"]) == [
            ("values", {"x": 1}), ("updates", {"a": {"x": 2}}), ("values", {"x": 2}),
            ("updates", {"__interrupt__": ()}),
        ]
        assert await after.ainvoke({"x": 1}, cfg("d")) == {"x": 2}

        asking = StateGraph(X)
        asking.add_node("ask", ask_node)
        asking.add_edge(START, "ask")
        graph = asking.compile(checkpointer=saver)
        chunks = await collect(graph, {"x": 1}, cfg("e"), stream_mode=["values", "updates"])
        (pending,) = (await graph.aget_state(cfg("e"))).interrupts
        assert pending.value == "ok?"
        assert chunks == [
            ("values", {"x": 1}), ("updates", {"__interrupt__": (pending,)}),
            ("values", {"x": 1, "__interrupt__": (pending,)}),
        ]
        resumed = await collect(graph, Command(resume=7), cfg("e"), stream_mode="values")
        assert resumed == [{"x": 1}, {"x": 7}]


@pytest.mark.anyio
async def test_an_interrupt_beside_a_finished_task_streams_its_writes_after(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """LangGraph 1.2.22, same program: when one task of a step interrupts and another
    finishes, values streams the interrupt, then the state with the finished task's
    writes (what invoke returns); the resumed run starts from the state before them."""
    class Xs(TypedDict, total=False):
        xs: Annotated[list, operator.add]

    b = StateGraph(Xs)
    b.add_node("ask", lambda s: {"xs": [interrupt("q")]})
    b.add_node("other", lambda s: {"xs": ["other"]})
    b.add_edge(START, "ask")
    b.add_edge(START, "other")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        chunks = await collect(graph, {"xs": ["in"]}, cfg("t"), stream_mode="values")
        (pending,) = (await graph.aget_state(cfg("t"))).interrupts
        assert chunks == [{"xs": ["in"]}, {"xs": ["in"], "__interrupt__": (pending,)}, {"xs": ["in", "other"]}]
        resumed = await collect(graph, Command(resume="r"), cfg("t"), stream_mode="values")
        assert resumed == [{"xs": ["in"]}, {"xs": ["in", "r", "other"]}]


class Nested(TypedDict, total=False):
    xs: Annotated[list, operator.add]
    ans: str


@pytest.mark.anyio
async def test_subgraphs_true_prefixes_each_chunk_with_its_namespace(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """LangGraph 1.2.22, same program (task ids aside): with subgraphs=True each chunk
    is (namespace, chunk), () for the graph itself and ("node:task_id",) for a subgraph;
    without it a subgraph's chunks stay inside (custom ones aside)."""
    inner = StateGraph(Nested)
    inner.add_node("sa", lambda s: {"xs": ["sa"]})
    inner.add_node("sask", lambda s: {"ans": interrupt("sub?")})
    inner.add_edge(START, "sa")
    inner.add_edge("sa", "sask")
    outer = StateGraph(Nested)
    outer.add_node("pre", lambda s: {"xs": ["pre"]})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "sub")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = outer.compile(checkpointer=saver)
        chunks = await collect(graph, {"xs": ["in"]}, cfg("t"), stream_mode="updates", subgraphs=True)
        (pending,) = (await graph.aget_state(cfg("t"))).interrupts
        spaces = [ns for ns, _ in chunks]
        assert [len(ns) for ns in spaces] == [0, 1, 1, 0] and spaces[1][0].startswith("sub:")
        assert [c for _, c in chunks] == [
            {"pre": {"xs": ["pre"]}}, {"sa": {"xs": ["sa"]}},
            {"__interrupt__": (pending,)}, {"__interrupt__": (pending,)},
        ]
        resumed = await collect(graph, Command(resume="ok"), cfg("t"), stream_mode="values", subgraphs=True)
        assert resumed == [
            ((), {"xs": ["in", "pre"]}), (spaces[1], {"xs": ["in", "pre", "sa"]}),
            (spaces[1], {"xs": ["in", "pre", "sa"], "ans": "ok"}),
            ((), {"xs": ["in", "pre", "in", "pre", "sa"], "ans": "ok"}),
        ]
        plain = await collect(graph, {"xs": []}, cfg("u"), stream_mode=["updates"])
        assert plain[0] == ("updates", {"pre": {"xs": ["pre"]}}) and len(plain) == 2


@pytest.mark.anyio
async def test_a_subgraph_ends_its_stream_at_its_interrupt(anyio_backend: str) -> None:
    """LangGraph 1.2.22, same program: only the top graph streams the state with a
    finished sibling's writes after an interrupt; a subgraph's namespace ends at it."""
    inner = StateGraph(Nested)
    inner.add_node("ask", lambda s: {"xs": [interrupt("q")]})
    inner.add_node("sib", lambda s: {"xs": ["sib"]})
    inner.add_edge(START, "ask")
    inner.add_edge(START, "sib")
    outer = StateGraph(Nested)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=MemorySaver())
    chunks = await collect(graph, {"xs": ["in"]}, cfg("t"), stream_mode="values", subgraphs=True)
    inside = [c for ns, c in chunks if ns]
    assert "__interrupt__" in inside[-1]
    assert [c for ns, c in chunks if not ns][-1]["xs"] == ["in"]


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@pytest.mark.anyio
async def test_an_entrypoint_shows_its_return_value_not_its_channels(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """As LangGraph 1.2.22 (same program): the state, the values stream and update_state
    of an @entrypoint are its return value; each @task result is an update."""

    @task
    async def double(x: int) -> int:
        return x * 2

    async with open_saver(store_kind, tmp_path) as saver:

        @entrypoint(checkpointer=saver)
        async def wf(inp: list[int]) -> list[int]:
            return [await double(i) for i in inp]

        assert await collect(wf, [1, 2], cfg("v"), stream_mode="values") == [[2, 4]]
        assert await collect(wf, [1, 2], cfg("u"), stream_mode="updates") == [
            {"double": 2}, {"double": 4}, {"wf": [2, 4]},
        ]
        state = await wf.aget_state(cfg("v"))
        assert state.values == [2, 4] and state.next == ()
        history = [s.values async for s in wf.aget_state_history(cfg("v"))]
        assert history[:1] == [[2, 4]]
        await wf.aupdate_state(cfg("v"), [9, 9])
        assert (await wf.aget_state(cfg("v"))).values == [9, 9]

        @entrypoint(checkpointer=saver)
        async def saving(inp: int, *, previous: Any = None) -> Any:
            return entrypoint.final(value=f"got {inp} after {previous}", save=inp)

        assert await saving.ainvoke(1, cfg("f")) == "got 1 after None"
        assert (await saving.aget_state(cfg("f"))).values == "got 1 after None"
        assert await saving.ainvoke(2, cfg("f")) == "got 2 after 1"




@pytest.mark.anyio
async def test_astream_with_a_checkpointer_and_several_modes(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "modes"}}
        chunks = await collect(graph, {"log": ["in"]}, config, stream_mode=["updates", "custom"])
        assert chunks == [
            ("custom", CUSTOM[0]),
            ("custom", CUSTOM[1]),
            ("updates", UPDATES[0]),
            ("updates", UPDATES[1]),
        ]
        assert (await graph.aget_state(config)).values == VALUES[2]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_closing_astream_early_leaves_the_thread_usable(
    anyio_backend: str, store_kind: str, tmp_path: Path, mode: str
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "early"}}
        try:
            async with aclosing(
                graph.astream({"log": ["in"]}, config, stream_mode="updates", durability=mode)
            ) as st:
                async for chunk in st:
                    assert chunk == UPDATES[0]
                    break
        except BaseExceptionGroup as group:
            # turned into a plain failure: a GeneratorExit escaping in a group otherwise
            # breaks the anyio test runner and the rest of the session
            pytest.fail(f"closing astream early raised {group!r}")
        # As LangGraph: the run stopped before its next step, so the head is step 1
        # ({"log": ["in", "a"]}, next ("b",)), and the next run gives ["in", "a", "x", "a", "b"].
        head = await graph.aget_state(config)
        assert (head.values, head.next) == ({"log": ["in", "a"], "last": "a"}, ("b",))
        out = await graph.ainvoke({"log": ["x"]}, config)
        assert out["log"] == ["in", "a", "x", "a", "b"]
        assert (await graph.aget_state(config)).next == ()


def test_sync_stream_facade() -> None:
    graph = linear(async_b=False).compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "sync"}}
    assert list(graph.stream({"log": ["in"]}, config, stream_mode="values")) == VALUES
    assert list(graph.stream({"log": ["x"]}, {"configurable": {"thread_id": "s2"}})) == UPDATES
    assert list(graph.stream({"log": ["in"]}, config, stream_mode="custom")) == CUSTOM
    assert graph.get_state(config).values == {
        "log": ["in", "a", "b", "in", "a", "b"],
        "last": "b",
    }


def test_sync_stream_closed_early_stops_before_the_next_step() -> None:
    ran: list[str] = []

    def step(name: str) -> Any:
        def node(state: LogState) -> dict[str, Any]:
            ran.append(name)
            return {"log": [name]}

        return node

    builder = StateGraph(LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    graph = builder.compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "early"}}
    for _ in range(20):  # a race would show within a few runs
        ran.clear()
        stream = graph.stream({"log": []}, config, stream_mode="updates")
        assert next(stream) == {"a": {"log": ["a"]}}
        stream.close()
        assert ran == ["a"]  # b never started: the run waits for its reader
        assert graph.get_state(config).next == ("b",)


def _paused_before_b(ran: list[str]) -> Any:
    """a -> b -> END, compiled to pause before b; ``ran`` records each node as it runs."""
    builder = StateGraph(LogState)
    for name in ("a", "b"):
        builder.add_node(name, lambda state, name=name: ran.append(name) or {"log": [name]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile(checkpointer=MemorySaver(), interrupt_before=["b"])


def test_a_resumed_sync_stream_runs_nothing_before_its_reader_asks() -> None:
    # As LangGraph's lazy generator: the state a resumed stream shows first reaches the
    # reader before the next step starts (a node's print never comes before that event).
    ran: list[str] = []
    graph = _paused_before_b(ran)
    for i in range(5):
        config = {"configurable": {"thread_id": f"r{i}"}}
        list(graph.stream({"log": []}, config))
        ran.clear()
        stream = graph.stream(None, config, stream_mode="values")
        assert next(stream) == {"log": ["a"]}
        time.sleep(0.02)  # time enough for a run that went on without its reader
        assert ran == []
        assert list(stream) == [{"log": ["a", "b"]}]
        assert ran == ["b"]


@pytest.mark.anyio
async def test_a_resumed_astream_runs_nothing_before_its_reader_asks(anyio_backend: str) -> None:
    ran: list[str] = []
    graph = _paused_before_b(ran)
    config = {"configurable": {"thread_id": "r"}}
    await graph.ainvoke({"log": []}, config)
    ran.clear()
    seen = []
    async for chunk in graph.astream(None, config, stream_mode="values"):
        await anyio.sleep(0.02)  # time enough for a run that went on without its reader
        seen.append((chunk, list(ran)))
    assert seen == [({"log": ["a"]}, []), ({"log": ["a", "b"]}, ["b"])]


def test_sync_stream_facade_without_a_checkpointer() -> None:
    graph = linear(async_b=False).compile()
    assert list(graph.stream({"log": ["in"]}, stream_mode=["values", "updates"])) == [
        ("values", VALUES[0]),
        ("updates", UPDATES[0]),
        ("values", VALUES[1]),
        ("updates", UPDATES[1]),
        ("values", VALUES[2]),
    ]


@pytest.mark.anyio
async def test_invoke_with_a_stream_mode_returns_that_streams_chunks(anyio_backend: str) -> None:
    """LangGraph 1.2.22: invoke(stream_mode=m) returns the list of what stream(m) yields,
    except "values" (the default), which returns the last state."""
    graph = linear().compile()
    assert await graph.ainvoke({"log": ["in"]}, stream_mode="updates") == UPDATES
    assert await graph.ainvoke({"log": ["in"]}, stream_mode="custom") == CUSTOM
    assert await graph.ainvoke({"log": ["in"]}, stream_mode="values") == VALUES[-1]
    both = await graph.ainvoke({"log": ["in"]}, stream_mode=["updates", "values"])
    assert [chunk for mode, chunk in both if mode == "updates"] == UPDATES
    assert [chunk for mode, chunk in both if mode == "values"] == VALUES
