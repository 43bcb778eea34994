"""OpenTelemetry: the spans of in-process and worker runs, a worker's metrics, and
nothing at all without an SDK. On asyncio and trio; what touches a store on every store.

The SDK's tracer and meter providers are put in place for one test at a time (the API
allows setting them once per process), so the rest of the suite runs without an SDK.
"""

from __future__ import annotations

import itertools
import operator
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from lograph.runtime import (
    END,
    START,
    Command,
    GraphDrained,
    RetryPolicy,
    RunControl,
    RunError,
    Runs,
    StateGraph,
    Worker,
    _otel,
    interrupt,
    task,
)
from tests._stores import open_saver

pytestmark = pytest.mark.anyio

FAST = {"lease": 1.0, "poll": 0.01}


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def _provider(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)  # (restored after the test)
    return exporter


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    return _provider(monkeypatch)


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryMetricReader]:
    found = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[found])
    monkeypatch.setattr(metrics._internal, "_METER_PROVIDER", provider)
    yield found
    provider.shutdown()


class Tree:
    """The finished spans, by name and by parent."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.spans: list[ReadableSpan] = list(exporter.get_finished_spans())
        self.by_id = {s.context.span_id: s for s in self.spans}

    def named(self, name: str, **attributes: Any) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name
                and all((s.attributes or {}).get(f"lograph.{k}") == v for k, v in attributes.items())]

    def one(self, name: str, **attributes: Any) -> ReadableSpan:
        [found] = self.named(name, **attributes)
        return found

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return None if span.parent is None else self.by_id.get(span.parent.span_id)

    def children(self, span: ReadableSpan, name: str) -> list[ReadableSpan]:
        return [s for s in self.named(name) if self.parent(s) is span]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def chain(saver: Any, *names: str, fail: str = "", ask: str = "", retry: Any = None) -> Any:
    g = StateGraph(S)
    for name in names:
        def node(state: S, name: str = name) -> dict[str, Any]:
            if name == fail:
                raise ValueError(f"{name} failed")
            if name == ask:
                return {"log": [f"{name}:{interrupt('ok?')}"]}
            return {"log": [name]}
        g.add_node(name, node, retry_policy=retry)
    g.add_edge(START, names[0])
    for x, y in itertools.pairwise(names):
        g.add_edge(x, y)
    g.add_edge(names[-1], END)
    return g.compile(checkpointer=saver)


async def test_a_graph_with_a_subgraph_and_a_task_makes_one_tree(
    exporter: InMemorySpanExporter, store_kind: str, tmp_path: Path,
) -> None:
    me = trace.get_tracer("test")

    @task
    async def double(x: str) -> str:
        return x + x

    async def prep(state: S) -> dict[str, Any]:
        return {"log": [await double("p")]}

    def inner(state: S) -> dict[str, Any]:  # sync: runs in a worker thread
        with me.start_as_current_span("model call"):
            return {"log": ["inner"]}

    sub = StateGraph(S)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    async with open_saver(store_kind, tmp_path) as saver:
        b = StateGraph(S)
        b.add_node("prep", prep)
        b.add_node("nested", sub.compile(name="sub"))
        b.add_edge(START, "prep")
        b.add_edge("prep", "nested")
        graph = b.compile(checkpointer=saver, name="outer")
        config = {"configurable": {"thread_id": "t"}}
        with me.start_as_current_span("request") as request:
            out = await graph.ainvoke({"log": []}, config, durability="sync")
        assert out == {"log": ["pp", "pp", "inner"]}  # (the subgraph returns its whole state)
        history = [s.config["configurable"]["checkpoint_id"] async for s in graph.aget_state_history(config)]
    tree = Tree(exporter)
    run = tree.one("lograph.run", graph="outer")
    assert run.parent is not None and run.parent.span_id == request.get_span_context().span_id
    common = {"lograph.thread_id": "t", "lograph.durability": "sync"}
    run_id = attrs(run)["lograph.run_id"]
    assert attrs(run) | common == attrs(run) and attrs(run)["lograph.outcome"] == "done"
    assert attrs(run)["lograph.checkpoint_id"] == history[0]  # where it ended
    # every span of the run names its thread, run and durability, and ended done
    mine = [s for s in tree.spans if s.name.startswith("lograph.")]
    assert len(mine) >= 9 and all(
        attrs(s)["lograph.run_id"] == run_id and attrs(s) | common == attrs(s)
        and attrs(s)["lograph.outcome"] == "done" and s.status.status_code is StatusCode.UNSET
        for s in mine)
    steps = tree.children(run, "lograph.step")
    # one per step that runs tasks (numbered as langgraph_step): prep's, nested's
    assert [attrs(s)["lograph.step"] for s in steps] == [1, 2]
    assert all(attrs(s)["lograph.checkpoint_id"] in history for s in steps)
    [prep_span] = tree.children(steps[0], "lograph.node")
    assert (attrs(prep_span)["lograph.node"], attrs(prep_span)["lograph.attempt"]) == ("prep", 1)
    assert attrs(prep_span)["lograph.checkpoint_id"] == attrs(steps[0])["lograph.checkpoint_id"]
    [double_span] = tree.children(prep_span, "lograph.task")
    assert attrs(double_span)["lograph.task"] == "double"
    [nested_span] = tree.children(steps[1], "lograph.node")
    [sub_run] = tree.children(nested_span, "lograph.run")  # the subgraph nests under its node
    assert attrs(sub_run)["lograph.graph"] == "sub"
    assert str(attrs(sub_run)["lograph.checkpoint_ns"]).startswith("nested:")
    inner_span = tree.one("lograph.node", node="inner")
    assert tree.parent(tree.parent(inner_span)) is sub_run  # (its step in between)
    # the span a sync node makes in its worker thread is the node span's child
    assert tree.parent(tree.one("model call")) is inner_span


async def test_astream_and_sync_invoke_trace_their_runs(
    exporter: InMemorySpanExporter, anyio_backend: str,
) -> None:
    graph = chain(None, "a", "b")
    assert [c async for c in graph.astream({"log": []}, {"configurable": {"thread_id": "t"}})] == [
        {"a": {"log": ["a"]}}, {"b": {"log": ["b"]}}]
    tree = Tree(exporter)
    run = tree.one("lograph.run")
    assert attrs(run)["lograph.outcome"] == "done" and attrs(run)["lograph.durability"] == "exit"
    assert sorted(attrs(s)["lograph.node"] for s in tree.named("lograph.node")) == ["a", "b"]
    exporter.clear()
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        assert graph.invoke({"log": []}) == {"log": ["a", "b"]}
    run = Tree(exporter).one("lograph.run")
    assert run.parent is not None and run.parent.span_id == caller.get_span_context().span_id


async def test_an_interrupted_run_and_its_resume(
    exporter: InMemorySpanExporter, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver, "a", "b", ask="b")
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"log": []}, config)
        tree = Tree(exporter)
        run = tree.one("lograph.run")
        asking = tree.one("lograph.node", node="b")
        assert attrs(asking)["lograph.outcome"] == "interrupted"
        assert attrs(tree.parent(asking))["lograph.outcome"] == "interrupted"  # its step
        assert attrs(run)["lograph.outcome"] == "interrupted"
        assert all(s.status.status_code is StatusCode.UNSET for s in tree.spans)  # not errors
        assert attrs(run)["lograph.checkpoint_id"] == (
            await graph.aget_state(config)).config["configurable"]["checkpoint_id"]
        exporter.clear()
        assert await graph.ainvoke(Command(resume="yes"), config) == {"log": ["a", "b:yes"]}
        tree = Tree(exporter)
        assert attrs(tree.one("lograph.run"))["lograph.outcome"] == "done"
        assert attrs(tree.one("lograph.node", node="b"))["lograph.outcome"] == "done"
        assert attrs(tree.one("lograph.run"))["lograph.run_id"] != attrs(run)["lograph.run_id"]


async def test_a_drained_run_is_cancelled_not_failed(
    exporter: InMemorySpanExporter, anyio_backend: str,
) -> None:
    control = RunControl()

    def a(state: S) -> dict[str, Any]:
        control.request_drain("deploying")
        return {"log": ["a"]}

    b = StateGraph(S)
    b.add_node("a", a)
    b.add_node("b", lambda s: {"log": ["b"]})
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    with pytest.raises(GraphDrained):
        await b.compile().ainvoke({"log": []}, control=control)
    tree = Tree(exporter)
    run = tree.one("lograph.run")
    assert attrs(run)["lograph.outcome"] == "cancelled" and run.status.status_code is StatusCode.UNSET
    assert [attrs(s)["lograph.node"] for s in tree.named("lograph.node")] == ["a"]


async def test_a_failed_run_records_the_error_on_each_attempt(
    exporter: InMemorySpanExporter, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver, "a", "b", fail="b",
                      retry=RetryPolicy(max_attempts=2, initial_interval=0.01, jitter=False,
                                        retry_on=ValueError))
        with pytest.raises(ValueError, match="b failed"):
            await graph.ainvoke({"log": []}, {"configurable": {"thread_id": "t"}})
    tree = Tree(exporter)
    attempts = tree.named("lograph.node", node="b")
    assert sorted(attrs(s)["lograph.attempt"] for s in attempts) == [1, 2]
    for span in [*attempts, tree.one("lograph.run"), tree.parent(attempts[0])]:
        assert span is not None and attrs(span)["lograph.outcome"] == "failed"
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ValueError: b failed"
    assert [e.name for e in attempts[0].events] == ["exception"]
    assert attrs(tree.one("lograph.node", node="a"))["lograph.outcome"] == "done"


async def test_a_worker_run_and_its_metrics(
    exporter: InMemorySpanExporter, reader: InMemoryMetricReader, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver, "a", "b")
        runs = Runs(saver)
        done = await runs.submit("t", {"log": []}, durability="sync")
        async with Worker(graph, name="w1", **FAST):
            assert await done.join() == {"log": ["a", "b"]}
        broken = await runs.submit("u", {"log": []})
        async with Worker(chain(saver, "a", "b", fail="a"), name="w2", **FAST):
            with pytest.raises(RunError):
                await broken.join()
    tree = Tree(exporter)
    worker = tree.one("lograph.worker.run", run_id=done.run_id)
    assert attrs(worker) == {
        "lograph.thread_id": "t", "lograph.run_id": done.run_id, "lograph.durability": "sync",
        "lograph.worker": "w1", "lograph.attempt": 1, "lograph.outcome": "success"}
    [run] = tree.children(worker, "lograph.run")  # named by the submitted run's id
    assert attrs(run)["lograph.run_id"] == done.run_id and attrs(run)["lograph.durability"] == "sync"
    assert len(tree.named("lograph.node", run_id=done.run_id)) == 2
    failed = tree.one("lograph.worker.run", run_id=broken.run_id)
    assert attrs(failed)["lograph.outcome"] == "error"
    assert failed.status.status_code is StatusCode.ERROR and "a failed" in str(failed.status.description)

    data = reader.get_metrics_data()
    assert data is not None
    found = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    duration = {p.attributes["lograph.outcome"]: p.count for p in found["lograph.run.duration"].data.data_points}
    assert duration == {"success": 1, "error": 1}
    [latency] = found["lograph.run.claim_latency"].data.data_points
    assert latency.count == 2 and latency.min >= 0
    [depth] = found["lograph.queue.depth"].data.data_points
    assert depth.value in (0, 1)


async def test_a_worker_run_links_to_the_submit_it_came_from(
    exporter: InMemorySpanExporter, store_kind: str, tmp_path: Path,
) -> None:
    """The submitter's trace context travels with the run: its worker's span links to
    the ``lograph.submit`` span, a child of the caller's span."""
    from lograph.eventlog import decode
    from lograph.runtime._runs import run_config

    async with open_saver(store_kind, tmp_path) as saver:
        graph = chain(saver, "a")
        runs = Runs(saver)
        with trace.get_tracer("the web app").start_as_current_span("POST /runs"):
            handle = await runs.submit("t", {"log": []}, config={"tags": ["x"]})
            again = await runs.submit("t", {"log": []})
        stored = decode(handle.record.config)
        assert set(stored[_otel.TRACE_KEY]) >= {"traceparent"}
        assert _otel.TRACE_KEY not in run_config(handle.record)  # not the graph's to see
        async with Worker(graph, name="w1", **FAST):
            assert await handle.join() == {"log": ["a"]}
            await again.join()
    tree = Tree(exporter)
    request = tree.one("POST /runs")
    submit = tree.one("lograph.submit", run_id=handle.run_id)
    assert tree.parent(submit) is request
    assert attrs(submit) == {"lograph.thread_id": "t", "lograph.durability": "async",
                             "lograph.run_id": handle.run_id, "lograph.created": True,
                             "lograph.outcome": "done"}
    worker = tree.one("lograph.worker.run", run_id=handle.run_id)
    assert worker.parent is None  # a trace of its own, linked to where it was asked for
    [link] = worker.links
    assert (link.context.trace_id, link.context.span_id) == (
        submit.context.trace_id, submit.context.span_id)
    [other] = tree.one("lograph.worker.run", run_id=again.run_id).links
    assert other.context.span_id == tree.one("lograph.submit", run_id=again.run_id).context.span_id


async def test_without_an_sdk_nothing_is_built(
    monkeypatch: pytest.MonkeyPatch, anyio_backend: str,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a span was built")

    monkeypatch.setattr(_otel.RunSpans, "__init__", refuse)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert _otel.tracer() is None and _otel.meter() is None
    assert await chain(None, "a").ainvoke({"log": []}) == {"log": ["a"]}
    from lograph.adapters.memory import MemorySaver
    from lograph.eventlog import decode

    submitted = await Runs(MemorySaver()).submit("t", {"log": []})
    assert _otel.TRACE_KEY not in decode(submitted.record.config)  # no context to carry
    # an SDK that samples nothing: the run's span is not recording, so nothing under it
    exporter = _provider(monkeypatch, sampler=ALWAYS_OFF)
    assert await chain(None, "a").ainvoke({"log": []}) == {"log": ["a"]}
    assert exporter.get_finished_spans() == ()


def test_a_program_that_never_imports_opentelemetry_never_loads_it() -> None:
    program = (
        "import sys, asyncio\n"
        "from lograph.runtime import END, START, MessagesState, Runs, StateGraph, Worker\n"
        "g = StateGraph(MessagesState)\n"
        "g.add_node('a', lambda s: {'messages': [('ai', 'hi')]})\n"
        "g.add_edge(START, 'a')\n"
        "g.add_edge('a', END)\n"
        "asyncio.run(g.compile().ainvoke({'messages': []}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    shown = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parent.parent)
    assert shown.stdout.strip() == "[]"
