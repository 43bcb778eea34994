"""What code inside a node or task can reach: ``interrupt()``, the stream writer, tasks.

Each running node or task has a :class:`TaskContext` in a context variable (copied
into worker threads for sync functions). ``interrupt()`` is control flow the user sees
as data: it unwinds the node with :class:`GraphInterrupt` (a BaseException, so an
``except Exception`` in user code cannot swallow it) and the engine records it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._resume import schema_adapter, shown_schema, validated
from ._step import interrupt_id
from ._sync import in_event_loop
from ._types import Interrupt

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from lograph.eventlog.bodies import TaskResult

    from ._lone import LoneGroup
    from ._structure import Structure


class TaskRuntime(Protocol):
    """What code inside a running node or task reaches of its run (the engine's ``Run``
    implements it). ``interrupt()``, ``@task``, ``@entrypoint``, the stream writer and a
    graph nested in a node use this and nothing else of the engine."""

    run_id: str
    ns: str
    config: dict[str, Any]
    limit: int  # the run's recursion limit (a nested graph inherits it)
    metadata: Mapping[str, Any]
    checkpointed: bool
    stateless: bool  # in a subgraph compiled with checkpointer=False: nothing to resume
    context: Any  # invoke's context= (coerced to the graph's context_schema)
    store: Any  # the store the graph was compiled with (or its caller's), or None
    slots: Any  # config["max_concurrency"]: a semaphore its tasks and calls hold while they run
    control: Any  # the run's RunControl: asked to drain, the run stops before its next step

    def emit(self, mode: str, chunk: Any, ns: str = "") -> None:
        """Send ``chunk`` to the run's ``mode`` stream (from a subgraph: under ``ns``)."""
        ...

    def task_config(self, ctx: TaskContext) -> dict[str, Any]:
        """The ``RunnableConfig`` of the node or task running as ``ctx`` (built once)."""
        ...

    def task_runtime(self, ctx: TaskContext, previous: Any = None) -> Any:
        """The ``Runtime`` of the node or task running as ``ctx`` (built once)."""
        ...

    def recorded_call(self, call: str) -> TaskResult | None:
        """The recorded outcome of the ``@task`` call with id ``call``, if the log has one."""
        ...

    def resume_value(self, interrupt: str) -> tuple[bool, Any]:
        """``(True, answer)`` when the interrupt with this id has been answered."""
        ...

    async def call_with(
        self, fn: Callable[..., Any], is_async: bool, args: tuple[Any, ...],
        kwargs: dict[str, Any], ctx: TaskContext,
    ) -> Any:
        """Call user code with ``ctx`` current: async inline, sync in a worker thread."""
        ...

    async def run_call(
        self, parent: TaskContext, call: str, name: str, fn: Callable[..., Any], is_async: bool,
        args: tuple[Any, ...], kwargs: dict[str, Any], retry: Any, limit: Any = None,
        inject: tuple[str, ...] = (), index: int = 0, cache_policy: Any = None,
    ) -> tuple[bool, Any, dict[str, Any] | None]:
        """Run a ``@task`` call, record its outcome (and its failed attempts), make it
        durable as the run's durability says; ``(True, value, its updates chunk)`` or
        ``(False, error, None)``. The caller streams the chunk after handing the value
        over."""
        ...

    async def run_subgraph(
        self, structure: Structure, ctx: TaskContext, input: Any, *, name: str,
        interrupt_before: tuple[str, ...], interrupt_after: tuple[str, ...],
        config: dict[str, Any], limit: int, keep: bool = False, stateless: bool = False,
    ) -> Any:
        """Run a graph inside the task ``ctx``, on this run's log (see ``_nesting``);
        returns the fold the subgraph ended at. ``keep``: its state outlives the caller's
        step (``checkpointer=True``); ``stateless``: nothing is written (``False``)."""
        ...

    def node_error(self, task: str) -> Any:
        """The ``NodeError`` the error handler task ``task`` handles."""
        ...


class GraphInterrupt(BaseException):  # noqa: N818 - LangGraph's name
    """Raised by ``interrupt()`` to pause the node; caught by the engine, never by users.

    A subgraph that pauses raises it in its caller's task with the subgraph's pending
    interrupts (none when it stopped at an ``interrupt_before``/``_after`` breakpoint).
    """

    def __init__(self, interrupts: list[Interrupt]) -> None:
        super().__init__(interrupts)
        self.interrupts = interrupts


@dataclass(slots=True)
class TaskContext:
    run: TaskRuntime
    task_id: str
    name: str
    tg: TaskGroup | LoneGroup  # where the calls it makes run (its step's group)
    calls: int = 0
    interrupts: int = 0
    subgraphs: int = 0  # graphs invoked from this task so far (each gets its own namespace)
    clock: Any = None  # the running attempt's timeout clock (``_timeout.Clock``), if it has one
    started: float | None = None  # when the task's first attempt started (time.time())
    step: int = 0
    path: tuple[Any, ...] = ()  # the task's path: ("pull", node), ("push", i), or a @task call's
    attempt: int = 1
    config: dict[str, Any] | None = None  # its RunnableConfig, built when first asked for
    runtime: Any = None  # its Runtime, built when first asked for
    previous: Any = None  # an entrypoint's previous return value
    slotted: bool = False  # it holds one of the run's max_concurrency slots now
    span: Any = None  # its OpenTelemetry span, while it runs in one (``_otel``)

    def set_clock(self, clock: Any) -> None:
        self.clock = clock


_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "lograph_task", default=None
)


def current(what: str) -> TaskContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError(f"{what} can only be called inside a running node, entrypoint or task")
    return ctx


def enter(ctx: TaskContext) -> contextvars.Token[TaskContext | None]:
    return _current.set(ctx)


def leave(token: contextvars.Token[TaskContext | None]) -> None:
    _current.reset(token)




def interrupt(value: Any, *, response_schema: Any = None) -> Any:
    """Pause for a human. Returns the resume value once ``Command(resume=...)`` answers it.

    The k-th ``interrupt()`` of a task gets the k-th answer; the node restarts from its
    top on resume, so code before an answered interrupt runs again (put side effects in
    tasks). ``response_schema``: a JSON Schema dict shown with the interrupt, or a type
    (pydantic model, TypedDict, dataclass) shown as its JSON Schema that the answer is
    validated with; the validated object is returned, and an answer it refuses raises
    pydantic's ``ValidationError`` and leaves the interrupt pending (``_resume``).
    """
    ctx = current("interrupt()")
    if ctx.run.stateless:
        raise RuntimeError(
            f"interrupt() in node {ctx.name!r} of a subgraph compiled with checkpointer=False: "
            "it keeps nothing, so it could not be resumed; compile it without a checkpointer "
            "(it then keeps its state for its caller's step) or with checkpointer=True")
    adapter = None if response_schema is None else schema_adapter(response_schema)
    index = ctx.interrupts
    ctx.interrupts += 1
    iid = interrupt_id(ctx.task_id, index)
    answered, answer = ctx.run.resume_value(iid)
    if answered:
        if adapter is None:
            return answer

        def pending() -> Interrupt:  # the interrupt an answer the schema refuses leaves pending
            return Interrupt(value, iid, response_schema=shown_schema(response_schema, adapter))

        return validated(adapter, answer, pending)
    if response_schema is None:
        raise GraphInterrupt([Interrupt(value, iid)])
    raise GraphInterrupt([Interrupt(value, iid, response_schema=shown_schema(response_schema, adapter))])


def get_stream_writer() -> Callable[[Any], None]:
    """A function that sends a value to ``stream_mode="custom"`` consumers."""
    ctx = _current.get()
    if ctx is None:
        return lambda _value: None
    run = ctx.run

    def write(value: Any) -> None:
        if ctx.clock is not None:  # a write is progress (for an idle timeout)
            ctx.clock.progress()
        run.emit("custom", value)

    if in_event_loop():
        return write
    from anyio.from_thread import run_sync

    return lambda value: run_sync(write, value)
