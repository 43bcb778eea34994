"""The functional API: ``@task`` (memoized, durable calls) and ``@entrypoint``.

A task call gets a deterministic id from its caller's task id and its call index. On
replay a recorded successful result is returned without running the task; a recorded
failure runs it again (as LangGraph). A recorded call under another task name means
the code changed under the thread: NonDeterminismError, naming both.
In ``sync`` mode a task's result is committed before its caller continues.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import typing
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

import anyio
import sniffio
from anyio.from_thread import run as run_from_thread
from anyio.from_thread import run_sync as run_sync_from_thread

from ._cache import BaseCache, CachePolicy, namespace
from ._checkpointer import Checkpointer
from ._compiled import CompiledGraph, GraphIO
from ._context import TaskContext, current
from ._context import _current as _current_task
from ._errors import NonDeterminismError
from ._graph import StateGraph, _cache, _cache_policy, deprecated_context
from ._injection import injected, kwargs_for
from ._introspect import value_schema
from ._lone import LoneGroup, StepFailed
from ._retry import Retry, retry_policies
from ._step import call_id
from ._sync import in_event_loop
from ._timeout import TimeoutPolicy, sync_timeout_unsupported
from ._tracing import is_runnable, runnable_call
from ._types import START, Command


class TaskFuture:
    """The pending result of a task call: ``await`` it, or ``.result()`` in sync code.

    ``cancel()`` stops the task if it has not finished (its result is not recorded, so
    a replay calls it again); awaiting a cancelled future raises ``asyncio.CancelledError``
    on asyncio (as LangGraph's futures do) and ``concurrent.futures.CancelledError`` on
    trio (an ordinary exception there: trio's own is only for its cancel scopes)."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._handle: Any = None  # its anyio TaskHandle (each has its own cancel scope)
        self._started = False
        self._cancelled = False

    def _set(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error
        self._cancelled = False  # (it finished before a cancel reached it)
        self._done.set()

    async def _wait(self) -> Any:
        ctx = _current_task.get()
        if ctx is not None and ctx.slotted and not self._done.is_set():
            await _lend_slot(ctx, self._done)  # max_concurrency: the call may need the slot
        await self._done.wait()
        if self._cancelled:
            raise _cancelled_error()
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    def result(self, timeout: float | None = None) -> Any:
        if in_event_loop():
            raise RuntimeError("TaskFuture.result() blocks; inside async code use `await future`")
        return run_from_thread(self._wait)

    def done(self) -> bool:
        """The task finished, failed or was cancelled."""
        return self._done.is_set()

    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> bool:
        """Stop the task; False when it had already finished (as ``asyncio.Future``)."""
        if self._done.is_set():
            return False
        if in_event_loop():
            self._cancel()
        else:  # a sync node's worker thread: the task runs on the loop's
            run_sync_from_thread(self._cancel)
        return True

    def _cancel(self) -> None:
        if self._done.is_set():
            return
        self._cancelled = True
        self._handle.cancel()
        if not self._started:  # it never will (a running one sets the future once stopped)
            self._done.set()


async def _lend_slot(ctx: TaskContext, done: anyio.Event) -> None:
    """Wait for ``done`` without holding ``ctx``'s max_concurrency slot, then take one
    back (shielded: the task's ``async with`` gives it back however it ends)."""
    slots = ctx.run.slots
    slots.release()
    ctx.slotted = False
    try:
        await done.wait()
    finally:
        with anyio.CancelScope(shield=True):
            await slots.acquire()
        ctx.slotted = True


def _cancelled_error() -> BaseException:
    if sniffio.current_async_library() == "asyncio":
        return anyio.get_cancelled_exc_class()()  # asyncio.CancelledError
    return concurrent.futures.CancelledError()


class Task:
    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, retry: Retry | None = None,
                 timeout: TimeoutPolicy | None = None) -> None:
        self.fn = fn
        self.is_async: bool
        self.inject: tuple[str, ...]
        if is_runnable(fn):  # a langchain-core Runnable: called with the task's config
            self.name: str = name or fn.get_name()
            self.fn, self.is_async, self.inject = runnable_call(fn), True, ("config",)
        else:
            # (as LangGraph: a partial is named by its function, a callable object by its class)
            self.name = name or getattr(fn, "__name__", None) or getattr(
                getattr(fn, "func", None), "__name__", None) or type(fn).__name__
            self.is_async = inspect.iscoroutinefunction(fn)
            self.inject = injected(fn)  # read once: config, writer, store, runtime
            functools.update_wrapper(self, fn)
        self.retry = retry_policies(retry, f"task {self.name!r}")
        if timeout is not None and not self.is_async:
            raise sync_timeout_unsupported(self.name, kind="Task")
        self.timeout = timeout
        self.cache_policy: CachePolicy[Any] | None = None

    async def aclear_cache(self, cache: BaseCache[Any]) -> None:
        """Delete this task's entries from ``cache`` (the one its graph was given)."""
        await cache.aclear([namespace(self.fn, self.name)])

    def clear_cache(self, cache: BaseCache[Any]) -> None:
        cache.clear([namespace(self.fn, self.name)])

    def __call__(self, *args: Any, **kwargs: Any) -> TaskFuture:
        ctx = current(f"task {self.name!r}")
        if ctx.clock is not None:  # starting a task is progress (for an idle timeout)
            ctx.clock.progress()
        index = ctx.calls
        ctx.calls += 1
        tid = call_id(ctx.task_id, index)
        future = TaskFuture()
        record = ctx.run.recorded_call(tid)
        if record is not None and record.name != self.name:
            raise NonDeterminismError(
                f"replay of {ctx.name!r}: call #{index} was recorded as task {record.name!r}, "
                f"but the code now calls task {self.name!r}"
            )
        if record is not None and record.ok:
            future._set(record.value)
            return future
        # (named: anyio then skips working out a name from the function)
        if in_event_loop():
            future._handle = ctx.tg.start_soon(self._run, ctx, tid, index, args, kwargs, future,
                                               name=self.name)
        else:
            future._handle = run_sync_from_thread(functools.partial(
                ctx.tg.start_soon, self._run, ctx, tid, index, args, kwargs, future, name=self.name))
        return future

    async def _run(self, parent: TaskContext, tid: str, index: int, args: tuple[Any, ...],
                   kwargs: dict[str, Any], future: TaskFuture) -> None:
        if future._cancelled:  # cancelled before it started
            return
        future._started = True
        try:
            ok, value, chunk = await parent.run.run_call(
                parent, tid, self.name, self.fn, self.is_async, args, kwargs, self.retry,
                self.timeout, self.inject, index, self.cache_policy)
        except BaseException as e:
            if future._cancelled and isinstance(e, anyio.get_cancelled_exc_class()):
                future._done.set()  # future.cancel(): nothing recorded, nothing set; the
                # task's own cancel scope (its TaskHandle's) ends it
            elif type(parent.tg) is LoneGroup and (
                    parent.tg.error is not None or not isinstance(e, anyio.get_cancelled_exc_class())):
                future._set(error=StepFailed(e))  # its caller has no group to cancel it: this ends it
            raise
        if ok:
            future._set(value)
            if chunk is not None:
                parent.run.emit("updates", chunk)
        else:
            future._set(error=value)


def task(fn: Callable[..., Any] | None = None, *, name: str | None = None,
         retry: Retry | None = None, retry_policy: Retry | None = None,
         cache_policy: Any = None, timeout: Any = None) -> Any:
    """Decorate a function whose calls are recorded and replayed (side effects go here).
    ``timeout`` (seconds, a timedelta or a TimeoutPolicy) limits each attempt of an
    async task."""
    limit = TimeoutPolicy.coerce(timeout)
    policy = _cache_policy(cache_policy, "task")

    def make(f: Callable[..., Any]) -> Task:
        made = Task(f, name=name, retry=retry or retry_policy, timeout=limit)
        made.cache_policy = policy
        return made

    return make if fn is None else make(fn)


class _EntryState(TypedDict, total=False):
    __input__: Any
    __end__: Any
    __previous__: Any


R = TypeVar("R")  # what the entrypoint returns
S = TypeVar("S")  # what it saves as the next call's ``previous``


@dataclass(frozen=True, slots=True)
class _Final(Generic[R, S]):
    """``entrypoint.final(value=, save=)``: return ``value``, keep ``save`` for next time
    (``entrypoint.final[R, S]`` as the function's return annotation, as in LangGraph)."""

    value: R
    save: S


class EntrypointIO(GraphIO):
    """An entrypoint's input and output: the function's argument in, its return value
    out; ``update_state`` values are what the function returned (LangGraph: they become
    both the thread's state and the next call's ``previous``)."""

    run_name = "LangGraph"  # its callbacks run's name, as LangGraph's entrypoint has no other
    start_is_a_node = False

    def input(self, value: Any) -> Any:
        if value is None or isinstance(value, Command):
            return value
        return {"__input__": value}

    def update(self, values: Any) -> Any:
        if values is not None and not isinstance(values, Command):
            return {"__end__": values, "__previous__": values}
        return values

    def output(self, graph: CompiledGraph, cp: Any) -> Any:
        out = super().output(graph, cp)
        if "__interrupt__" in out:  # as LangGraph: with the last return value, if a dict
            last = out.get("__end__")
            return {**(last if isinstance(last, dict) else {}), "__interrupt__": out["__interrupt__"]}
        return out.get("__end__")

    def json_schema(self, graph: CompiledGraph, schema: Any, name: str) -> dict[str, Any]:
        """The function's argument or return value (its annotation) as JSON Schema."""
        return value_schema(schema, name)


_ENTRY_IO = EntrypointIO()


class entrypoint:  # noqa: N801 - LangGraph's name
    """Turn a function into a durable workflow: ``@entrypoint(checkpointer=saver)``."""

    final = _Final

    def __init__(self, checkpointer: Checkpointer | None = None, store: Any = None,
                 cache: Any = None, context_schema: Any = None, cache_policy: Any = None, *,
                 retry: Retry | None = None, retry_policy: Retry | None = None,
                 timeout: Any = None, config_schema: Any = None) -> None:
        self.checkpointer = checkpointer
        self.cache = _cache(cache)
        self.cache_policy = _cache_policy(cache_policy, "entrypoint")
        self.store = store
        self.context_schema = context_schema if context_schema is not None else deprecated_context(config_schema)
        self.retry = retry or retry_policy
        self.timeout = TimeoutPolicy.coerce(timeout)

    def __call__(self, fn: Callable[..., Any]) -> CompiledGraph:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise NotImplementedError(
                f"@entrypoint on the generator function {getattr(fn, '__name__', fn)!r}: an "
                "entrypoint returns its result (use a StreamWriter, the `writer` parameter, "
                "to stream values while it runs)")
        inject = injected(fn, previous=True)  # read once: previous, config, writer, store, runtime
        is_async = inspect.iscoroutinefunction(fn)

        async def node(state: dict[str, Any]) -> dict[str, Any]:
            ctx = current("entrypoint")
            ctx.previous = previous = state.get("__previous__")
            kwargs = kwargs_for(ctx, inject, previous) if inject else {}
            value = await ctx.run.call_with(fn, is_async, (state.get("__input__"),), kwargs, ctx)
            if isinstance(value, _Final):
                return {"__end__": value.value, "__previous__": value.save}
            return {"__end__": value, "__previous__": value}

        # what its callbacks run shows (LangGraph's): the function's input and return value
        node.traced_io = (_entry_input, _entry_output)  # type: ignore[attr-defined]

        builder = StateGraph(_EntryState)
        builder._state.output_key = "__end__"  # users see the return value, as in LangGraph
        name = getattr(fn, "__name__", "entrypoint")
        if self.timeout is not None and not is_async:
            raise sync_timeout_unsupported(name)
        builder.add_node(name, node, retry=self.retry, timeout=self.timeout, cache_policy=self.cache_policy)
        builder.add_edge(START, name)
        structure = builder.validate()
        structure.direct_input = True  # the input checkpoint plans the function, as LangGraph's
        structure.retry = retry_policies(self.retry, f"entrypoint {name!r}")  # its tasks' default
        structure.cache, structure.cache_policy = self.cache, self.cache_policy  # (likewise)
        # named as LangGraph names an entrypoint's graph (its schemas' titles say so)
        graph = CompiledGraph(structure, self.checkpointer, (), (), name="LangGraph", io=_ENTRY_IO,
                              store=self.store, context_schema=self.context_schema)
        graph.schemas = _annotations(fn)
        functools.update_wrapper(graph, fn)  # type: ignore[arg-type]
        return graph


def _entry_input(state: dict[str, Any]) -> Any:
    return state.get("__input__")


def _entry_output(update: dict[str, Any]) -> Any:
    return update.get("__end__")


def _annotations(fn: Callable[..., Any]) -> tuple[Any, Any]:
    """An entrypoint's input and output types: its first parameter's and its return
    annotation (``entrypoint.final[R, S]``: ``R``; a bare ``entrypoint.final``: ``Any``);
    ``Any`` where there is none."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - one does not resolve: those that are not strings
        hints = {name: p.annotation for name, p in sig.parameters.items()}
        hints["return"] = sig.return_annotation
        hints = {k: v for k, v in hints.items() if v is not inspect.Signature.empty and not isinstance(v, str)}
    params = list(sig.parameters)
    given = hints.get(params[0], Any) if params else Any
    returned = hints.get("return", Any)
    if returned is _Final:
        returned = Any
    elif typing.get_origin(returned) is _Final:
        returned = typing.get_args(returned)[0]
    return given, returned
