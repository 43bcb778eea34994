"""What nodes, tasks and entrypoints receive by parameter, and get_config/get_runtime/get_store.

The parameters and their annotations follow LangGraph 1.2: ``config`` (unannotated or a
``RunnableConfig``), ``writer``, ``store``, ``runtime`` (a ``Runtime`` with ``context``,
``store``, ``stream_writer``, ``previous``); ``context_schema=`` with ``invoke(context=)``.
Each is checked on asyncio and trio; what meets the checkpointer on every store.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from lograph.adapters.memory import MemorySaver
from lograph.runtime import (
    START,
    Runtime,
    StateGraph,
    StreamWriter,
    entrypoint,
    get_config,
    get_runtime,
    get_store,
    task,
)
from tests._stores import open_saver


class Log(TypedDict):
    log: Annotated[list, operator.add]


@dataclass
class UserContext:
    user: str
    lang: str = "en"


class BaseStore:
    """Stands in for a store: lograph gives nodes whatever object the graph was compiled with."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}, **extra}


def one_node(fn: Any, **compile_kw: Any) -> StateGraph:
    b = StateGraph(Log, context_schema=UserContext)
    b.add_node("n", fn)
    b.add_edge(START, "n")
    return b


# -- each parameter, sync and async --------------------------------------------------

def report(origin: str, config: RunnableConfig, writer: StreamWriter, store: BaseStore,
           runtime: Runtime[UserContext]) -> dict[str, Any]:
    """What a node saw of its parameters, and whether get_config/... agree with them."""
    writer({"from": origin})
    runtime.stream_writer({"via": "runtime"})
    store.items["seen"] = config["configurable"]["thread_id"]
    return {"log": [config["metadata"]["langgraph_node"], config["configurable"]["thread_id"],
                    runtime.context.user, store is runtime.store, get_config() is config,
                    get_runtime() is runtime, get_store() is store]}


def sync_all(state: Log, config: RunnableConfig, writer: StreamWriter, store: BaseStore,
             runtime: Runtime[UserContext]) -> dict[str, Any]:
    return report("sync", config, writer, store, runtime)  # in the node's worker thread


async def async_all(state: Log, *, config: RunnableConfig, writer: StreamWriter, store: BaseStore,
                    runtime: Runtime[UserContext]) -> dict[str, Any]:
    return report("async", config, writer, store, runtime)


@pytest.mark.anyio
@pytest.mark.parametrize("fn", [sync_all, async_all])
async def test_a_node_receives_config_writer_store_and_runtime(
    anyio_backend: str, store_kind: str, tmp_path: Path, fn: Any,
) -> None:
    store = BaseStore()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = one_node(fn).compile(checkpointer=saver, store=store)
        chunks = [c async for c in graph.astream({"log": []}, cfg("t1"), context={"user": "ada"},
                                                 stream_mode=["custom", "values"])]
        assert [c for mode, c in chunks if mode == "custom"] == [
            {"from": "sync" if fn is sync_all else "async"}, {"via": "runtime"}]
        assert chunks[-1] == ("values", {"log": ["n", "t1", "ada", True, True, True, True]})
        assert store.items == {"seen": "t1"}
        assert (await graph.aget_state(cfg("t1"))).values["log"][2] == "ada"


@pytest.mark.anyio
async def test_the_config_a_node_sees_is_langgraphs(anyio_backend: str) -> None:
    seen: list[RunnableConfig] = []

    def node(state: Log, config: RunnableConfig) -> dict[str, Any]:
        seen.append(config)
        return {"log": ["n"]}

    b = StateGraph(Log)
    b.add_node("first", node)
    b.add_node("second", node)
    b.add_edge(START, "first")
    b.add_edge("first", "second")
    graph = b.compile(checkpointer=MemorySaver())
    given = cfg("t", tags=["mine"], metadata={"who": "me"}, recursion_limit=9, run_name="r")
    given["configurable"]["user_key"] = "v"
    await graph.ainvoke({"log": []}, given)
    first, second = seen
    assert first["tags"] == ["mine"]
    assert first["recursion_limit"] == 9
    assert "run_name" not in first  # the node's own calls name their runs
    assert first["configurable"]["thread_id"] == "t"
    assert first["configurable"]["user_key"] == "v"
    meta = first["metadata"]
    assert meta["who"] == "me" and meta["thread_id"] == "t"
    assert meta["langgraph_node"] == "first" and meta["langgraph_step"] == 1
    assert meta["langgraph_triggers"] == ("branch:to:first",)
    assert meta["langgraph_path"] == ("__pregel_pull", "first")
    assert meta["langgraph_checkpoint_ns"].startswith("first:")
    assert first["configurable"]["checkpoint_ns"] == meta["langgraph_checkpoint_ns"]
    assert second["metadata"]["langgraph_step"] == 2
    assert second["metadata"]["langgraph_checkpoint_ns"] != meta["langgraph_checkpoint_ns"]
    assert given == cfg("t", tags=["mine"], metadata={"who": "me"}, recursion_limit=9, run_name="r") | {
        "configurable": {"thread_id": "t", "user_key": "v"}}  # the caller's config is untouched


def test_parameters_are_injected_by_langgraphs_rules() -> None:
    from lograph.runtime._injection import injected

    def untyped(state, config, writer, store, runtime): ...  # type: ignore[no-untyped-def]
    def typed(state: Log, config: RunnableConfig | None, runtime: Runtime[UserContext],
              store: BaseStore | None) -> None: ...
    def by_name(state: Log, config: RunnableConfig) -> None: ...
    def positional_only(state, config, /): ...  # type: ignore[no-untyped-def]
    def var_kw(state, **config): ...  # type: ignore[no-untyped-def]
    def other_writer(state: Log, writer: int) -> None: ...

    assert injected(untyped) == ("config", "writer", "store", "runtime")
    assert injected(typed) == ("config", "store", "runtime")
    assert injected(by_name) == ("config",)
    assert injected(positional_only) == ()
    assert injected(var_kw) == ()
    assert injected(other_writer) == ()
    assert injected(lambda state, config=1: None) == ("config",)  # unannotated: given

    def wrongly_typed(state: Log, config: dict) -> None: ...  # type: ignore[type-arg]
    with pytest.warns(UserWarning, match="should be typed as 'RunnableConfig'"):
        assert injected(wrongly_typed) == ()


@pytest.mark.anyio
async def test_a_config_parameter_typed_otherwise_is_not_given(anyio_backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        def node(state: Log, config: int = 7) -> dict[str, Any]:
            return {"log": [config]}

        graph = one_node(node).compile()
    assert await graph.ainvoke({"log": []}) == {"log": [7]}


# -- context ----------------------------------------------------------------------------

class PydanticContext(BaseModel):
    user: str


@pytest.mark.anyio
@pytest.mark.parametrize(("schema", "given", "expected"), [
    (UserContext, {"user": "bo"}, UserContext("bo")),
    (UserContext, UserContext("al", "fr"), UserContext("al", "fr")),
    (PydanticContext, {"user": "cy"}, PydanticContext(user="cy")),
    (dict, {"user": "di"}, {"user": "di"}),
    (None, "anything", "anything"),
])
async def test_context_is_made_by_the_context_schema(
    anyio_backend: str, schema: Any, given: Any, expected: Any,
) -> None:
    def node(state: Log, runtime: Runtime[Any]) -> dict[str, Any]:
        return {"log": [runtime.context == expected, type(runtime.context).__name__]}

    b = StateGraph(Log, context_schema=schema)
    b.add_node("n", node)
    b.add_edge(START, "n")
    out = await b.compile().ainvoke({"log": []}, context=given)
    assert out == {"log": [True, type(expected).__name__]}


@pytest.mark.anyio
async def test_the_context_schema_as_second_argument_or_deprecated_config_schema(anyio_backend: str) -> None:
    """LangGraph 1.x: ``StateGraph(State, Context)``; ``config_schema=`` is its old
    name, taken with a DeprecationWarning (also by ``@entrypoint``)."""
    def node(state: Log, runtime: Runtime[UserContext]) -> dict[str, Any]:
        return {"log": [runtime.context.user]}

    positional = StateGraph(Log, UserContext)
    with pytest.warns(DeprecationWarning, match="config_schema"):
        keyword = StateGraph(Log, config_schema=UserContext)
    for b in (positional, keyword):
        assert b.context_schema is UserContext
        b.add_node("n", node)
        b.add_edge(START, "n")
        assert await b.compile().ainvoke({"log": []}, context={"user": "ed"}) == {"log": ["ed"]}
    assert positional.compile().get_context_jsonschema() == keyword.compile().get_context_jsonschema()
    with pytest.warns(DeprecationWarning, match="config_schema"):
        @entrypoint(config_schema=UserContext)
        def work(x: int, *, runtime: Runtime[UserContext]) -> str:
            return runtime.context.user

    assert await work.ainvoke(1, context={"user": "fi"}) == "fi"


@pytest.mark.anyio
async def test_without_context_or_store_a_runtime_holds_none(anyio_backend: str) -> None:
    def node(state: Log, runtime: Runtime, store: BaseStore) -> dict[str, Any]:
        info = runtime.execution_info
        assert info is not None
        return {"log": [runtime.context, runtime.store, store, runtime.previous, info.thread_id,
                        info.checkpoint_ns.startswith("n:"), info.task_id in info.checkpoint_ns,
                        info.node_attempt]}

    graph = one_node(node).compile(checkpointer=MemorySaver())
    assert await graph.ainvoke({"log": []}, cfg("x")) == {
        "log": [None, None, None, None, "x", True, True, 1]}


def test_context_in_the_sync_facade_and_the_stream() -> None:
    def node(state: Log, runtime: Runtime[UserContext]) -> dict[str, Any]:
        return {"log": [runtime.context.lang]}

    graph = one_node(node).compile(checkpointer=MemorySaver())
    assert graph.invoke({"log": []}, cfg("s"), context={"user": "u", "lang": "de"}) == {"log": ["de"]}
    assert list(graph.stream({"log": []}, cfg("s2"), context=UserContext("u", "it"),
                             stream_mode="updates")) == [{"n": {"log": ["it"]}}]


# -- tasks and entrypoints ----------------------------------------------------------------

@task
def sync_task(x: int, *, config: RunnableConfig, runtime: Runtime[UserContext]) -> list[Any]:
    return [x, config["metadata"]["langgraph_node"], runtime.context.user,
            get_runtime().context.user, get_config()["configurable"]["thread_id"], get_store() is not None]


@task
async def async_task(x: int, config: RunnableConfig, writer: StreamWriter, store: BaseStore) -> list[Any]:
    writer(f"task {x}")
    return [x, config["metadata"]["langgraph_node"], type(store).__name__,
            get_runtime().context.user, get_config()["configurable"]["thread_id"]]


@task
def given_config(x: int, config=None):  # type: ignore[no-untyped-def]
    return config


@pytest.mark.anyio
async def test_tasks_and_entrypoints_receive_them_too(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    store = BaseStore()
    async with open_saver(store_kind, tmp_path) as saver:

        @entrypoint(checkpointer=saver, store=store, context_schema=UserContext)
        async def flow(x: int, *, previous: Any, config: RunnableConfig, store: BaseStore,
                       runtime: Runtime[UserContext], writer: StreamWriter) -> Any:
            writer("flow")
            a = await sync_task(x)
            b = await async_task(x)
            mine = await given_config(x, config="my own")  # a keyword the caller gives wins
            return entrypoint.final(
                value=[a, b, mine, previous, runtime.previous == previous,
                       config["configurable"]["thread_id"], store is runtime.store,
                       runtime.context.user],
                save=x,
            )

        chunks = [c async for c in flow.astream(1, cfg("e"), context={"user": "eve"},
                                               stream_mode="custom")]
        assert chunks == ["flow", "task 1"]
        first = await flow.ainvoke(2, cfg("e"), context={"user": "eve"})
        assert first == [
            [2, "sync_task", "eve", "eve", "e", True],
            [2, "async_task", "BaseStore", "eve", "e"],
            "my own", 1, True, "e", True, "eve",
        ]


@pytest.mark.anyio
async def test_a_sync_entrypoint_gets_previous_by_name_and_through_its_runtime(anyio_backend: str) -> None:
    @entrypoint(checkpointer=MemorySaver())
    def counter(x: int, previous: int | None = None) -> int:
        assert get_runtime().previous == previous
        return (previous or 0) + x

    assert await counter.ainvoke(3, cfg("c")) == 3
    assert await counter.ainvoke(4, cfg("c")) == 7


# -- asked for outside a run ----------------------------------------------------------------

def test_outside_a_run_they_say_so() -> None:
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        get_config()
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        get_runtime()
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        get_store()


# -- nodes that are not hashable ----------------------------------------------------------------

@dataclass
class Appender:  # a dataclass with eq=True: not hashable
    word: str

    def __call__(self, state: Log, config: RunnableConfig) -> dict[str, Any]:
        return {"log": [self.word, config["metadata"]["langgraph_node"]]}


class Comparable:
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Comparable)

    async def __call__(self, state: Log) -> dict[str, Any]:
        return {"log": ["eq"]}


@pytest.mark.anyio
async def test_an_unhashable_node_runs(anyio_backend: str) -> None:
    b = StateGraph(Log)
    b.add_node("dc", Appender("hi"))
    b.add_node("eq", Comparable())
    b.add_edge(START, "dc")
    b.add_edge("dc", "eq")
    graph = b.compile(checkpointer=MemorySaver())
    assert await graph.ainvoke({"log": []}, cfg("u")) == {"log": ["hi", "dc", "eq"]}
    assert b.nodes["dc"].inject == ("config",)  # read once, when it was added


def test_a_signature_is_read_once_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    calls: list[Any] = []
    real = inspect.signature

    def counting(fn: Any, *a: Any, **k: Any) -> inspect.Signature:
        calls.append(fn)
        return real(fn, *a, **k)

    def node(state: Log, config: RunnableConfig) -> dict[str, Any]:
        return {"log": ["x"]}

    graph = one_node(node).compile(checkpointer=MemorySaver())
    monkeypatch.setattr(inspect, "signature", counting)
    for i in range(3):
        graph.invoke({"log": []}, cfg(f"t{i}"))
    assert node not in calls


# -- lograph's own long-term stores, given to nodes, tasks and entrypoints ------------------

@pytest.mark.anyio
async def test_lograph_stores_reach_nodes_tasks_and_entrypoints(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    from tests.test_longterm_store import open_store

    # (annotated by the name BaseStore, which is what LangGraph matches: lograph's
    # lograph.runtime.store.BaseStore in a program, this file's stand-in here)

    async def remember(state: Log, *, store: BaseStore, config: RunnableConfig) -> dict[str, Any]:
        user = config["configurable"]["user"]
        await store.aput(("memories", user), "fact", {"text": state["log"][-1]})
        return {"log": ["stored"]}

    def recall(state: Log, runtime: Runtime[Any]) -> dict[str, Any]:  # a worker thread
        item = get_store().get(("memories", runtime.context["user"]), "fact")
        return {"log": [item.value["text"] if item else None, runtime.store is get_store()]}

    @task
    async def look(user: str, store: BaseStore) -> Any:
        item = await store.aget(("memories", user), "fact")
        return item.value["text"] if item else None

    async with open_store(store_kind, tmp_path) as store, open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(Log)
        b.add_node("remember", remember)
        b.add_node("recall", recall)
        b.add_edge(START, "remember")
        b.add_edge("remember", "recall")
        graph = b.compile(checkpointer=saver, store=store)
        config = {"configurable": {"thread_id": "a", "user": "u1"}}
        out = await graph.ainvoke({"log": ["likes tea"]}, config, context={"user": "u1"})
        assert out == {"log": ["likes tea", "stored", "likes tea", True]}

        @entrypoint(checkpointer=saver, store=store)
        async def other_thread(user: str, *, store: BaseStore) -> list[Any]:
            return [await look(user), (await store.aget(("memories", user), "fact")) is not None]

        assert await other_thread.ainvoke("u1", cfg("b")) == ["likes tea", True]  # across threads
