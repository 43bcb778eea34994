"""OpenTelemetry: spans for runs, steps, nodes and tasks; metrics of durable runs.

Rules:
- Built only when asked, as the LangChain callbacks are (``_tracing``): a run decides
  once, at its start, whether it is traced: a tracer provider other than the API's own
  (its default proxy, or its no-op one) is set, so an SDK is configured, and the run's
  span is recording (sampled). An untraced run keeps ``Run.otel`` None and pays one
  attribute test per step and per task. Nothing here imports ``opentelemetry`` before
  the program has (an SDK cannot be set without importing it), so a program that never
  touches OpenTelemetry never loads it.
- The tree: ``lograph.run`` (a child of the caller's current span; a subgraph's run is
  a child of the ``lograph.node`` span that runs it) -> ``lograph.step`` (a superstep
  that runs tasks) -> ``lograph.node`` (one attempt of a node) -> ``lograph.task`` (one
  attempt of a ``@task`` call, a child of its caller's span). A worker's run is
  ``lograph.worker.run``, the parent of the run's ``lograph.run``.
- ``Runs.submit`` is ``lograph.submit`` (a child of the caller's current span); its
  W3C trace context (``traceparent``, ``tracestate``, through the global propagator)
  is stored in the run's config under ``TRACE_KEY``, and each worker's
  ``lograph.worker.run`` of that run links to it (a link, not a child: a run may be
  taken over long after, by another worker). Untraced, nothing is stored.
- A node's or task's span is the current span while its code runs: the spans that code
  makes (a model call, an HTTP client) are its children, in a sync node's worker thread
  too. Everything else is parented explicitly, never through the current context, so a
  span left open by an error cannot become the parent of the caller's next spans.
- Every span carries ``lograph.thread_id`` (when the run has a thread),
  ``lograph.run_id`` (a worker's run: the submitted run's id; else the id the run's
  events carry in the log) and ``lograph.durability``; runs, steps, nodes and tasks
  carry ``lograph.checkpoint_id`` (a step's, node's or task's: the checkpoint the step
  started from; a run's: the one it ended at). Each span ends with ``lograph.outcome``; a failed one also has status ERROR
  and the exception recorded as an event.
- Metrics of durable runs, recorded by workers when a meter provider is set:
  ``lograph.queue.depth`` (pending runs, read once a second by each serving worker),
  ``lograph.run.claim_latency`` (submit to first claim, seconds) and
  ``lograph.run.duration`` (claim to outcome, seconds, by ``lograph.outcome``).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio

from lograph.eventlog import LogError, decode

from ._commit import RUN_LEASE
from ._context import GraphInterrupt
from ._errors import GraphDrained, ParentCommand

if TYPE_CHECKING:
    from lograph.eventlog import RunQueue, RunRecord

    from ._context import TaskContext

__all__ = ["TRACE_KEY", "RunSpans", "meter", "report_queue_depth", "run_spans", "submitting",
           "tracer", "worker_run"]

#: the key of a submitted run's stored config that carries its submitter's trace context
TRACE_KEY = "lograph_trace"

_SCOPE = "lograph"
_DEPTH_EVERY = 1.0  # seconds between two readings of the queue's depth by a worker


def _provider(module: str, getter: str, variable: str) -> Any | None:
    """The global provider of ``module`` (``opentelemetry.trace`` or ``.metrics``), or None
    while it is the API's own default (no SDK configured)."""
    api = sys.modules.get(module)
    if api is None:  # nobody imported it: no provider can have been set in code
        named = _NAMED.get(variable)
        if named is None:  # read once, as the LangSmith variables are (``_tracing``)
            named = _NAMED[variable] = variable in os.environ
        if not named:  # (nor named in the environment, for the API to load)
            return None
        api = importlib.import_module(module)
    provider = getattr(api, getter)()
    if type(provider).__module__.startswith(module):  # the API's proxy or no-op provider
        return None
    return provider


_NAMED: dict[str, bool] = {}  # OTEL_PYTHON_TRACER_PROVIDER, ..._METER_PROVIDER: set?
_tracer: list[Any] = []  # [provider, its tracer]: the last one asked for
_meter: list[Any] = []  # [provider, Instruments]


def tracer() -> Any | None:
    """lograph's tracer when an SDK's tracer provider is set, else None."""
    provider = _provider("opentelemetry.trace", "get_tracer_provider", "OTEL_PYTHON_TRACER_PROVIDER")
    if provider is None:
        return None
    if not _tracer or _tracer[0] is not provider:
        _tracer[:] = [provider, provider.get_tracer(_SCOPE)]
    return _tracer[1]


class Instruments:
    """The metric instruments of one meter provider."""

    def __init__(self, provider: Any) -> None:
        m = provider.get_meter(_SCOPE)
        self.depth = m.create_gauge(
            "lograph.queue.depth", unit="{run}", description="runs submitted and not yet claimed")
        self.claim_latency = m.create_histogram(
            "lograph.run.claim_latency", unit="s",
            description="from a run's submission to a worker's first claim of it")
        self.duration = m.create_histogram(
            "lograph.run.duration", unit="s",
            description="from a worker's claim of a run to its outcome, by lograph.outcome")


def meter() -> Instruments | None:
    """lograph's instruments when an SDK's meter provider is set, else None."""
    provider = _provider("opentelemetry.metrics", "get_meter_provider", "OTEL_PYTHON_METER_PROVIDER")
    if provider is None:
        return None
    if not _meter or _meter[0] is not provider:
        _meter[:] = [provider, Instruments(provider)]
    return _meter[1]  # type: ignore[no-any-return]


# -- spans ---------------------------------------------------------------------------


def outcome_of(error: BaseException | None) -> str:
    """A span's ``lograph.outcome`` when its work raised ``error`` (None: it returned)."""
    if error is None:
        return "done"
    if isinstance(error, GraphInterrupt):
        return "interrupted"
    if isinstance(error, GraphDrained) or isinstance(error, anyio.get_cancelled_exc_class()):
        return "cancelled"  # (a drained run is recorded as cancelled, and resumable)
    if isinstance(error, ParentCommand):  # a Command for the parent graph: done
        return "done"
    return "failed"


def _end(span: Any, error: BaseException | None, outcome: str | None = None) -> None:
    span.set_attribute("lograph.outcome", outcome or outcome_of(error))
    if error is not None and outcome_of(error) == "failed":
        from opentelemetry.trace import Status, StatusCode

        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


def _under(span: Any) -> Any:
    from opentelemetry.trace import set_span_in_context

    return set_span_in_context(span)


class RunSpans:
    """A traced run's spans: the run's own, the step running now, and the attributes
    every span of the run carries."""

    __slots__ = ("checkpoint", "common", "span", "step_span", "tracer")

    def __init__(self, tracer: Any, span: Any, common: dict[str, Any]) -> None:
        self.tracer = tracer
        self.span = span
        self.common = common
        self.step_span: Any = None
        self.checkpoint: str | None = None  # the running step's checkpoint id

    def step_started(self, step: int, checkpoint: str | None, tasks: int) -> None:
        self.checkpoint = checkpoint
        attributes = {**self.common, "lograph.step": step, "lograph.tasks": tasks}
        if checkpoint:
            attributes["lograph.checkpoint_id"] = checkpoint
        self.step_span = self.tracer.start_span("lograph.step", context=_under(self.span),
                                                attributes=attributes)

    def step_ended(self, failure: BaseException | None, interrupted: bool) -> None:
        span, self.step_span = self.step_span, None
        if span is not None:
            _end(span, failure, None if failure is not None or not interrupted else "interrupted")

    def finish(self, checkpoint: str | None, error: BaseException | None = None,
               status: str | None = None) -> None:
        """End the run's span (and a step's left open by ``error``)."""
        self.step_ended(error, False)
        if checkpoint:
            self.span.set_attribute("lograph.checkpoint_id", checkpoint)
        _end(self.span, error, status)

    async def around(self, kind: str, ctx: TaskContext, parent: Any,
                     call: Callable[[], Awaitable[Any]], **attributes: Any) -> Any:
        """Run ``call`` (an attempt of the node or task ``ctx``) in its span, current while
        it runs; ``parent``: the span it is a child of."""
        from opentelemetry import context

        attributes.update(self.common)
        attributes.update({f"lograph.{kind}": ctx.name, "lograph.task_id": ctx.task_id,
                           "lograph.step": ctx.step, "lograph.attempt": ctx.attempt})
        if self.checkpoint:
            attributes["lograph.checkpoint_id"] = self.checkpoint
        span = self.tracer.start_span(f"lograph.{kind}", context=_under(parent), attributes=attributes)
        ctx.span = span
        token = context.attach(_under(span))
        try:
            output = await call()
        except BaseException as e:
            _end(span, e)
            raise
        finally:
            context.detach(token)
        _end(span, None)
        return output

    async def node(self, ctx: TaskContext, call: Callable[[], Awaitable[Any]]) -> Any:
        return await self.around("node", ctx, self.step_span or self.span, call)

    async def task(self, ctx: TaskContext, parent: TaskContext,
                   call: Callable[[], Awaitable[Any]]) -> Any:
        return await self.around("task", ctx, parent.span or self.step_span or self.span, call)

    def subgraph(self, ctx: TaskContext, ns: str, name: str) -> RunSpans | None:
        """The spans of a subgraph's run in the task ``ctx`` (namespace ``ns``)."""
        common = {**self.common, "lograph.checkpoint_ns": ns}
        span = self.tracer.start_span("lograph.run", context=_under(ctx.span or self.span),
                                      attributes={**common, "lograph.graph": name})
        return RunSpans(self.tracer, span, common)


def run_spans(graph: str, thread: str, run_id: str, durability: str) -> RunSpans | None:
    """The spans of a top-level run starting now, or None when it is not traced (no SDK,
    or its span is not sampled)."""
    traces = tracer()
    if traces is None:
        return None
    lease = RUN_LEASE.get()  # a worker's run: named by the submitted run's id
    common = {"lograph.run_id": lease.run_id if lease else run_id, "lograph.durability": durability}
    if thread:  # (a graph compiled without a checkpointer runs on no thread)
        common["lograph.thread_id"] = thread
    span = traces.start_span("lograph.run", attributes={**common, "lograph.graph": graph})
    if not span.is_recording():
        span.end()
        return None
    return RunSpans(traces, span, common)


# -- submitted runs and a worker's runs -------------------------------------------------


class Submitting:
    """A traced ``submit``: its span, and the trace context to store with the run."""

    def __init__(self, span: Any = None, carrier: dict[str, str] | None = None) -> None:
        self.span = span
        self.carrier = carrier

    def recorded(self, record: RunRecord, created: bool) -> None:
        if self.span is not None:
            self.span.set_attribute("lograph.run_id", record.run_id)
            self.span.set_attribute("lograph.created", created)


@contextmanager
def submitting(thread: str, durability: str) -> Iterator[Submitting]:
    """Around ``submit``: its ``lograph.submit`` span when traced, and the W3C trace
    context of that span (``carrier``, None when not traced)."""
    traces = tracer()
    if traces is None:
        yield Submitting()
        return
    from opentelemetry import propagate

    span = traces.start_span("lograph.submit", attributes={
        "lograph.thread_id": thread, "lograph.durability": durability})
    if not span.is_recording():
        span.end()
        yield Submitting()
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=_under(span))
    try:
        yield Submitting(span, carrier or None)
    except BaseException as e:
        _end(span, e)
        raise
    _end(span, None)


def _submitted_link(record: RunRecord) -> list[Any]:
    """The link to the ``lograph.submit`` span whose context ``record`` carries, if any."""
    carrier = decode(record.config).get(TRACE_KEY) if record.config else None
    if not carrier:
        return []
    from opentelemetry import propagate
    from opentelemetry.trace import Link, get_current_span

    submitted = get_current_span(propagate.extract(carrier)).get_span_context()
    return [Link(submitted)] if submitted.is_valid else []


class WorkerRun:
    """What a worker records of one claimed run: its span and its metrics."""

    def __init__(self, span: Any, instruments: Instruments | None) -> None:
        self.span = span
        self.instruments = instruments
        self.started = time.monotonic()

    def ended(self, final: RunRecord | None) -> None:
        """The run's final record (None: the lease was lost, another worker has it)."""
        status = "lost" if final is None else final.status
        if self.instruments is not None:
            self.instruments.duration.record(time.monotonic() - self.started,
                                             {"lograph.outcome": status})
        if self.span is not None:
            self.span.set_attribute("lograph.outcome", status)
            if final is not None and final.status in ("error", "timeout"):
                from opentelemetry.trace import Status, StatusCode

                self.span.set_status(Status(StatusCode.ERROR, final.error))


@contextmanager
def worker_run(record: RunRecord, worker: str) -> Iterator[WorkerRun]:
    """Around a worker's execution of the claimed run ``record``: its ``lograph.worker.run``
    span (current meanwhile, so the run's spans are its children) and its metrics."""
    instruments = meter()
    if instruments is not None and record.attempts == 1 and record.started is not None:
        instruments.claim_latency.record(max(0.0, record.started - record.created))
    traces = tracer()
    if traces is None:
        yield WorkerRun(None, instruments)
        return
    from opentelemetry import context

    span = traces.start_span("lograph.worker.run", attributes={
        "lograph.thread_id": record.thread, "lograph.run_id": record.run_id,
        "lograph.durability": record.durability, "lograph.worker": worker,
        "lograph.attempt": record.attempts}, links=_submitted_link(record))
    token = context.attach(_under(span))
    try:
        yield WorkerRun(span, instruments)
    except BaseException as e:
        context.detach(token)
        _end(span, e)
        raise
    context.detach(token)
    span.end()


async def report_queue_depth(queue: RunQueue) -> None:
    """A serving worker's task: record the queue's depth once a second while an SDK's
    meter provider is set (one reading of the run counts each time; none without)."""
    while True:
        instruments = meter()
        if instruments is not None:
            try:
                counts = await queue.run_counts()
            except LogError:  # the store is unreachable for now: the next reading tries again
                pass
            else:
                instruments.depth.set(counts.get("pending", 0))
        await anyio.sleep(_DEPTH_EVERY)
