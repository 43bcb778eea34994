"""A node's or task's ``RunnableConfig``, and LangChain callbacks around the run's code.

Rules:
- Built only when asked: a run builds a callback manager only when the caller gave
  callbacks (or LangSmith tracing is on by its environment variables or
  ``tracing_v2_enabled()``, or the stream shows ``messages``), and a task
  builds its ``RunnableConfig`` only when its function takes ``config``, calls
  ``get_config()``, or callbacks are on. A graph that asks for none of this pays one
  attribute test per task.
- The callback tree is LangGraph's: the graph run (named by ``run_name`` or the
  graph's name) -> one run per node or task, named by it, child of the graph run
  (a ``@task`` is the child of its caller) -> whatever the node calls with the
  config it is given or inherits (LangChain's context variable, which reaches the
  worker thread a sync node runs in) -> ... A subgraph's run is the child of the node
  that runs it.
- The engine's own events go through LangChain's sync ``CallbackManager`` from the
  event loop's thread, so they work on trio too (LangChain's async managers need
  asyncio).
- A node's metadata holds LangGraph's keys: ``langgraph_step``, ``langgraph_node``,
  ``langgraph_triggers``, ``langgraph_path``, ``langgraph_checkpoint_ns``, and the
  configurable values LangGraph copies into metadata (``thread_id``, ...).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

import sniffio

from ._injection import ExecutionInfo, Runtime, kwargs_for, writer_for

if TYPE_CHECKING:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.callbacks.manager import CallbackManagerForChainRun
    from langchain_core.runnables import Runnable

    from ._context import TaskContext

__all__ = [
    "graph_run",
    "is_runnable",
    "runnable_call",
    "task_config",
    "task_ns",
    "task_runtime",
    "traced",
    "wants_callbacks",
]

# configurable values LangGraph copies into a run's metadata (what tracers group by)
_TO_METADATA = ("thread_id", "checkpoint_id", "checkpoint_ns", "task_id", "run_id",
                "assistant_id", "graph_id")


def wants_callbacks(config: dict[str, Any] | None, handlers: Sequence[BaseCallbackHandler]) -> bool:
    """A run builds callback managers: the caller gave callbacks, lograph streams through
    one (``handlers``), or LangSmith tracing is on (its environment variables, or inside
    ``tracing_v2_enabled()``). Cheap: a run without any of these pays a few lookups."""
    if handlers or (config and config.get("callbacks")):
        return True
    tracers = sys.modules.get("langchain_core.tracers.context")  # not loaded: none set
    if tracers is not None and tracers.tracing_v2_callback_var.get() is not None:
        return True
    if not _ENV_TRACING:  # read once, as langsmith itself caches its environment
        _ENV_TRACING.append(any(
            os.environ.get(f"{prefix}_{name}", "").lower() == "true"
            for prefix in ("LANGSMITH", "LANGCHAIN") for name in ("TRACING_V2", "TRACING")))
    return _ENV_TRACING[0]


_ENV_TRACING: list[bool] = []


def is_runnable(obj: Any) -> TypeGuard[Runnable[Any, Any]]:
    """``obj`` is a langchain-core ``Runnable`` (without loading langchain-core's
    runnables for a program that has none)."""
    base = sys.modules.get("langchain_core.runnables.base")
    return base is not None and isinstance(obj, base.Runnable)


def run_metadata(config: dict[str, Any]) -> dict[str, Any]:
    """The caller's metadata with the configurable values LangGraph adds to it."""
    metadata = dict(config.get("metadata") or {})
    configurable = config.get("configurable") or {}
    for key in _TO_METADATA:
        value = configurable.get(key)
        if value and key not in metadata:
            metadata[key] = value
    return metadata


def graph_run(
    config: dict[str, Any] | None, input: Any, name: str, handlers: Sequence[BaseCallbackHandler] = (),
    parent: Any = None,
) -> CallbackManagerForChainRun:
    """Start the graph's run in the callbacks (``parent``: the callbacks of the node a
    subgraph runs in; else the caller's, or those of the runnable the graph is called
    in)."""
    from langchain_core.callbacks import CallbackManager
    from langchain_core.runnables.config import var_child_runnable_config

    config = config or {}
    callbacks = parent if parent is not None else config.get("callbacks")
    if callbacks is None:
        outer = var_child_runnable_config.get()  # invoked inside a runnable: its child
        callbacks = outer.get("callbacks") if outer else None
    manager = CallbackManager.configure(
        inheritable_callbacks=callbacks,
        inheritable_tags=None if parent is not None else config.get("tags"),
        inheritable_metadata=None if parent is not None else run_metadata(config),
    )
    if "ls_integration" not in manager.metadata:  # as LangGraph marks its runs for LangSmith
        manager.add_metadata({"ls_integration": "langgraph"})
    for handler in handlers:
        manager.add_handler(handler, inherit=True)
    return manager.on_chain_start(
        None, input, name=(None if parent is not None else config.get("run_name")) or name,
        run_id=None if parent is not None else config.get("run_id"),
    )


def task_ns(run: Any, ctx: TaskContext) -> str:
    """The namespace a node or task running as ``ctx`` names in its config."""
    part = f"{ctx.name}:{ctx.task_id}"
    return f"{run.ns}|{part}" if run.ns else part


def langgraph_path(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """A task's path in LangGraph's words: ``("__pregel_pull", node)``, a ``Send``'s
    ``("__pregel_push", i, False)``, a ``@task`` call's ``("__pregel_push", caller's
    path, i, True)``."""
    if not path:
        return ()
    if path[0] == "pull":
        return ("__pregel_pull", *path[1:])
    shown = ("__pregel_push", *(langgraph_path(p) if isinstance(p, tuple) else p for p in path[1:]))
    return (*shown, False) if len(path) == 2 else shown  # (a Send: not a call, as LangGraph marks it)


def task_config(run: Any, ctx: TaskContext, callbacks: Any = None) -> dict[str, Any]:
    """The ``RunnableConfig`` a node or task running as ``ctx`` sees (as LangGraph fills it)."""
    config = run.config
    ns = task_ns(run, ctx)
    path = ctx.path
    triggers = ("__pregel_push",) if not path or path[0] != "pull" else \
        ("__start__",) if run.structure.direct_input else (f"branch:to:{ctx.name}",)
    lg_path = langgraph_path(path)
    metadata = run.base_metadata()
    metadata.update(langgraph_step=ctx.step, langgraph_node=ctx.name, langgraph_triggers=triggers,
                    langgraph_path=lg_path, langgraph_checkpoint_ns=ns)
    out = {
        **config,
        "tags": list(config.get("tags") or ()),
        "metadata": metadata,
        "callbacks": callbacks if callbacks is not None else config.get("callbacks"),
        "recursion_limit": run.limit,
        "configurable": {**(config.get("configurable") or {}), "checkpoint_ns": ns,
                         "checkpoint_id": None, "__pregel_task_id": ctx.task_id},
    }
    out.pop("run_name", None)  # they named the graph's run; what the node calls names its own
    out.pop("run_id", None)
    return out


def task_runtime(run: Any, ctx: TaskContext) -> Runtime[Any]:
    """The ``Runtime`` a node or task running as ``ctx`` is given."""
    configurable = run.config.get("configurable") or {}
    thread = configurable.get("thread_id")
    info = ExecutionInfo(
        checkpoint_id=run.journal.cp.id or None, checkpoint_ns=task_ns(run, ctx), task_id=ctx.task_id,
        thread_id=None if thread is None else str(thread), run_id=run.config.get("run_id"),
        node_attempt=ctx.attempt, node_first_attempt_time=ctx.started,
    )
    return Runtime(context=run.context, store=run.store, stream_writer=writer_for(ctx),
                   previous=ctx.previous, execution_info=info, control=run.control)


async def traced(
    run: Any, ctx: TaskContext, fn: Callable[..., Any], is_async: bool, args: tuple[Any, ...],
    kwargs: dict[str, Any], inject: tuple[str, ...], parent: Any,
) -> Any:
    """Call ``fn`` as ``ctx`` (with the parameters ``inject`` names, unless ``kwargs``
    has them) in its own callbacks run, a child of ``parent`` (the run's step when
    None), with its config current (LangChain's context variable, which the worker
    thread of a sync function inherits)."""
    from langchain_core.callbacks import CallbackManager
    from langchain_core.runnables.config import var_child_runnable_config

    from ._stream_messages import StreamMessagesHandler, with_ids

    if parent is None:
        parent = run.tracer.get_child(f"graph:step:{ctx.step}")
    config = task_config(run, ctx)
    cm = CallbackManager.configure(inheritable_callbacks=parent, inheritable_tags=config["tags"],
                                   inheritable_metadata=config["metadata"])
    if ctx.clock is not None:  # an idle timeout: any callback under this run is progress
        cm.add_handler(_progress_handler(ctx.clock), inherit=True)
    shown = getattr(fn, "traced_io", None)  # (an entrypoint shows its function's input, output)
    manager = cm.on_chain_start(None, shown[0](args[0]) if shown else _inputs(fn, ctx, args, kwargs),
                                name=ctx.name)
    config["callbacks"] = manager.get_child("seq:step:1")  # as LangGraph's node sequence tags it
    ctx.config = config
    if inject:
        kwargs = {**kwargs_for(ctx, tuple(n for n in inject if n not in kwargs)), **kwargs}
    token = var_child_runnable_config.set(config)  # type: ignore[arg-type]
    try:
        output = await run.call_with(fn, is_async, args, kwargs, ctx)
    except BaseException as e:
        manager.on_chain_error(e)
        raise
    finally:
        var_child_runnable_config.reset(token)
    if any(type(h) is StreamMessagesHandler for h in manager.handlers):  # the same ids streamed and kept
        output = with_ids(output, ctx.task_id)
    if any(hasattr(h, "tap_output_aiter") and getattr(h, "taps_outputs", True) for h in manager.handlers):
        from ._events import tap_output

        await tap_output(manager, shown[1](output) if shown else output)  # astream_events
    manager.on_chain_end(shown[1](output) if shown else output)
    return output


def _progress_handler(clock: Any) -> BaseCallbackHandler:
    """A handler that counts every LangChain callback event as the attempt's progress
    (tokens streaming in keep a node with an idle timeout alive, as in LangGraph)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Progress(BaseCallbackHandler):
        run_inline = True

        def __getattribute__(self, name: str) -> Any:
            if name.startswith("on_"):
                return _touch
            return super().__getattribute__(name)

    def _touch(*args: Any, **kwargs: Any) -> None:
        clock.progress()

    return Progress()


def _inputs(fn: Callable[..., Any], ctx: TaskContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What a run's ``on_chain_start`` shows as its inputs: a node's state; a ``@task``
    call's arguments by parameter name (as LangGraph traces them)."""
    path = ctx.path
    if len(path) == 4 and path[-1] is True:  # a @task call: ("push", caller, index, True)
        try:
            bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        except (TypeError, ValueError):  # no signature, or arguments it does not take
            return {"args": args, "kwargs": kwargs}
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name, param in bound.signature.parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD and name in arguments:
                arguments.update(arguments.pop(name))
        arguments.pop("self", None)
        return arguments
    return args[0] if len(args) == 1 and not kwargs else {"args": args, "kwargs": kwargs}


def runnable_call(runnable: Runnable[Any, Any]) -> Callable[..., Any]:
    """A langchain-core ``Runnable`` as a node or task function: ``ainvoke`` on asyncio;
    on trio (LangChain's async machinery needs asyncio) ``invoke`` in a worker thread."""
    import anyio

    async def call(input: Any, config: Any) -> Any:
        if sniffio.current_async_library() == "asyncio":
            return await runnable.ainvoke(input, config)
        return await anyio.to_thread.run_sync(runnable.invoke, input, config)

    call.__name__ = runnable.get_name()
    call.runnable = runnable  # type: ignore[attr-defined]  # (what get_graph shows as the node)
    return call


# what langchain-core's asyncio-only machinery raises when it meets trio
_ASYNCIO_ONLY = ("trio.run received unrecognized yield message", "no running event loop",
                 "There is no current event loop",
                 "Cannot invoke a coroutine function synchronously")


def asyncio_only(error: BaseException) -> RuntimeError | None:
    """The clear error for user code that used langchain-core's async API on trio, or None."""
    if not isinstance(error, TypeError | RuntimeError) or not any(s in str(error) for s in _ASYNCIO_ONLY):
        return None
    try:
        if sniffio.current_async_library() != "trio":
            return None
    except sniffio.AsyncLibraryNotFoundError:
        return None
    return RuntimeError(
        "langchain-core's async API (ainvoke, astream, abatch, async callback handlers, a "
        "RunnableLambda of an async function) needs asyncio, and this graph runs on trio: "
        "call the sync methods (model.invoke, tool.invoke) in a sync node or task, which "
        "lograph runs in a worker thread, or run the graph on asyncio"
    )
