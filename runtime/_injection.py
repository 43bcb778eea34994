"""What a node, task or entrypoint receives by parameter, and what it can ask for.

Rules (LangGraph 1.2's, so its programs run unchanged):
- The parameters a function takes are read once, when it becomes a node, task or
  entrypoint (``injected``), never per call; a function that asks for nothing is
  called with its input alone and pays nothing.
- ``config`` is given when the parameter is unannotated or annotated
  ``RunnableConfig`` (optional or not); another annotation is a warning and no
  injection. ``writer`` when unannotated or a ``StreamWriter``; ``store`` when
  unannotated or a ``BaseStore`` (optional or not, of any module); ``runtime`` and
  ``previous`` whatever their annotation. Only positional-or-keyword and
  keyword-only parameters count; a keyword the caller passes itself wins.
- ``get_config()``, ``get_runtime()`` and ``get_store()`` answer inside a running node,
  task or entrypoint, from any thread it runs on.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, get_args

from typing_extensions import TypeVar

from ._context import _current

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from ._context import TaskContext

__all__ = ["DEFAULT_RUNTIME", "ExecutionInfo", "RunControl", "Runtime", "StreamWriter", "get_config", "get_runtime", "get_store", "injected"]

ContextT = TypeVar("ContextT", default=None)

StreamWriter = Callable[[Any], None]  # LangGraph's name for the custom-stream writer

_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_EMPTY = inspect.Parameter.empty
_CONFIG_NAMES = {"RunnableConfig", "Optional[RunnableConfig]", "RunnableConfig | None",
                 "Union[RunnableConfig, None]"}
_STORE_NAMES = {"BaseStore", "Optional[BaseStore]", "BaseStore | None", "Union[BaseStore, None]"}
_WRITER_NAMES = {"StreamWriter"}


def _names_type(annotation: Any, names: set[str], *types: Any) -> bool:
    """``annotation`` is one of ``types`` (or ``X | None`` of one), by value or by name."""
    if annotation is _EMPTY:
        return True
    if isinstance(annotation, str):
        return annotation.strip("'\"").replace("typing.", "") in names
    if any(annotation == t for t in types):
        return True
    if getattr(annotation, "__name__", None) in names:  # a BaseStore of any module
        return True
    args = [a for a in get_args(annotation) if a is not type(None)]
    return len(args) == 1 and len(get_args(annotation)) == 2 and _names_type(args[0], names, *types)


def injected(fn: Any, *, previous: bool = False) -> tuple[str, ...]:
    """The parameters ``fn`` receives from the run, in LangGraph's order (``previous``
    only for an entrypoint's function). Read once, when ``fn`` joins a graph."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or an object without a signature
        return ()
    out = []
    p = params.get("config")
    if p is not None and p.kind in _KINDS:
        if _names_type(p.annotation, _CONFIG_NAMES):  # (by name: langchain-core loads lazily)
            out.append("config")
        else:
            warnings.warn(
                f"The 'config' parameter should be typed as 'RunnableConfig' or "
                f"'RunnableConfig | None', not '{p.annotation}'. ",
                UserWarning, stacklevel=4,
            )
    p = params.get("writer")
    if p is not None and p.kind in _KINDS and _names_type(p.annotation, _WRITER_NAMES, StreamWriter):
        out.append("writer")
    p = params.get("store")
    if p is not None and p.kind in _KINDS and _names_type(p.annotation, _STORE_NAMES):
        out.append("store")
    if previous and (p := params.get("previous")) is not None and p.kind in _KINDS:
        out.append("previous")
    p = params.get("runtime")
    if p is not None and p.kind in _KINDS:
        out.append("runtime")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Where the running node or task is: read-only, as LangGraph's."""

    checkpoint_id: str | None
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None  # when its first attempt started (time.time())

    def patch(self, **overrides: Any) -> ExecutionInfo:
        return replace(self, **overrides)


def _no_op_writer(_: Any) -> None:
    return None


class RunControl:
    """Asks a run to stop at its next step boundary (LangGraph's cooperative drain).

    Give one to ``invoke``/``stream`` (``control=``); any thread may call
    ``request_drain``. The steps under way finish (their ``@task`` calls too), then the
    run stops before starting another and raises ``GraphDrained``; ``invoke(None,
    config)`` continues it. Meant for one run: once drained it stays drained."""

    __slots__ = ("_reason",)

    def __init__(self) -> None:
        self._reason: str | None = None  # (one attribute write: no lock needed)

    def request_drain(self, reason: str = "shutdown") -> None:
        self._reason = reason

    @property
    def drain_requested(self) -> bool:
        return self._reason is not None

    @property
    def drain_reason(self) -> str | None:
        return self._reason


@dataclass(frozen=True, slots=True)
class Runtime(Generic[ContextT]):
    """What a run gives its nodes besides the state: the run's ``context`` (as
    ``invoke(..., context=...)`` gave it, coerced to ``context_schema``), the ``store``
    the graph was compiled with, the custom-stream ``stream_writer``, an entrypoint's
    ``previous`` return value, and where the node runs (``execution_info``)."""

    context: ContextT = field(default=None)  # type: ignore[assignment]
    store: Any = None
    stream_writer: StreamWriter = field(default=_no_op_writer)
    previous: Any = None
    execution_info: ExecutionInfo | None = None
    control: RunControl | None = None
    """The run's drain control (a run without ``control=`` has one of its own)."""

    @property
    def drain_requested(self) -> bool:
        return self.control is not None and self.control.drain_requested

    @property
    def drain_reason(self) -> str | None:
        return None if self.control is None else self.control.drain_reason

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """``other``'s values where it has them, this runtime's elsewhere."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not _no_op_writer else self.stream_writer,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            control=other.control or self.control,
        )

    def heartbeat(self) -> None:
        """Tell the running attempt it makes progress: refreshes its idle timeout (a
        ``TimeoutPolicy``), in either ``refresh_on`` mode; nothing outside one."""
        ctx = _current.get()
        if ctx is not None and ctx.clock is not None:
            ctx.clock.heartbeat()

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        return replace(self, **overrides)


DEFAULT_RUNTIME: Runtime[Any] = Runtime()
"""The runtime of code that runs outside a node (LangGraph's ``DEFAULT_RUNTIME``)."""


def coerce_context(schema: Any, context: Any) -> Any:
    """``invoke``'s ``context=`` as the graph's ``context_schema`` says: a dict becomes
    the dataclass or pydantic model; anything else is given as it is."""
    if context is None or schema is None or not isinstance(context, dict):
        return context
    if (isinstance(schema, type) and is_dataclass(schema)) or hasattr(schema, "model_fields"):
        return schema(**context)
    return context


def _task(what: str) -> TaskContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError(f"Called {what} outside of a runnable context (a running node, "
                           "task or entrypoint)")
    return ctx


def get_config() -> RunnableConfig:
    """The running node's or task's ``RunnableConfig`` (inside a runnable the node
    calls, that runnable's own, as LangChain sets it)."""
    from langchain_core.runnables.config import var_child_runnable_config

    ctx = _current.get()
    inner = var_child_runnable_config.get()
    if ctx is None:
        if inner:
            return inner
        raise RuntimeError("Called get_config outside of a runnable context")
    if inner and (inner.get("configurable") or {}).get("__pregel_task_id") == ctx.task_id:
        return inner
    return ctx.run.task_config(ctx)  # type: ignore[return-value]


def get_runtime(context_schema: Any = None) -> Runtime[Any]:
    """The running node's ``Runtime`` (``context_schema`` is for type checkers only)."""
    ctx = _task("get_runtime()")
    runtime: Runtime[Any] = ctx.run.task_runtime(ctx)
    return runtime


def get_store() -> Any:
    """The store the graph (or entrypoint) was compiled with; None without one."""
    return _task("get_store()").run.store


def writer_for(ctx: TaskContext) -> StreamWriter:
    """The custom-stream writer a function running as ``ctx`` is given: usable from the
    event loop and from the worker thread a sync function runs in."""
    from anyio.from_thread import run_sync

    from ._sync import in_event_loop

    emit = ctx.run.emit

    def write(value: Any) -> None:
        if in_event_loop():
            emit("custom", value)
        else:
            run_sync(emit, "custom", value)

    return write


def kwargs_for(ctx: TaskContext, names: tuple[str, ...], previous: Any = None) -> dict[str, Any]:
    """The keyword arguments ``names`` (from ``injected``) for a call running as ``ctx``."""
    run = ctx.run
    out: dict[str, Any] = {}
    for name in names:
        if name == "config":
            out[name] = run.task_config(ctx)
        elif name == "writer":
            out[name] = writer_for(ctx)
        elif name == "store":
            out[name] = run.store
        elif name == "previous":
            out[name] = previous
        else:
            out[name] = run.task_runtime(ctx, previous)
    return out

