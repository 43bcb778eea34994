"""``CompiledGraph``: the public run API, a thin facade over the modules that do the work.

- running: ``_invoke`` (a run's lifecycle), ``_streaming`` (``astream``/``stream``),
  ``_nesting`` (a graph run inside a node: a subgraph on its caller's log);
- reading: ``_history`` (the fold at the head or a checkpoint, history), ``_views``
  (a fold as a ``StateSnapshot``);
- writing by hand: ``_update`` (``update_state``).

The running and writing modules are imported by the methods that use them, on a graph's
first run: a process that only reads (a service answering "where is this thread?")
neither compiles nor runs them (no bytecode is cached where PYTHONDONTWRITEBYTECODE is
set). Async first; every sync method calls its async twin through the one blocking portal.
How a graph takes its input and shows its result is its ``GraphIO`` (``@entrypoint``
supplies its own), so no subclass overrides the API.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from anyio.from_thread import run as run_from_thread

from lograph.eventlog import Checkpoint

from ._cache import namespace
from ._channels import channel_views
from ._checkpointer import Checkpointer, target
from ._context import _current as _current_task
from ._history import head_state, history, last_of, locate, record_at
from ._introspect import context_schema, drawing, json_schema, subgraphs
from ._options import refuse_unimplemented
from ._pregel_nodes import PregelNode
from ._runnable import RunnableMethods, register_if_loaded
from ._step import recast
from ._sync import in_event_loop, run_sync
from ._types import StateSnapshot, StateUpdate
from ._views import graph_output, read_as, snapshot_of

if TYPE_CHECKING:
    from langchain_core.runnables.graph import Graph

    from ._structure import Structure


class GraphIO:
    """How a graph takes its input and shows its result: a StateGraph's, as they are."""

    #: whether ``__start__`` is a node of the graph, as a compiled StateGraph's is in
    #: LangGraph (an entrypoint's function reads the input itself): how it is drawn
    start_is_a_node = True

    def input(self, value: Any) -> Any:
        """An ``invoke``/``stream`` input as the graph's state input."""
        return value

    def update(self, values: Any) -> Any:
        """``update_state``'s values as the graph's state update."""
        return values

    def output(self, graph: CompiledGraph, cp: Checkpoint) -> Any:
        """What ``invoke`` returns at the fold ``cp``."""
        return graph_output(graph, cp)

    def json_schema(self, graph: CompiledGraph, schema: Any, name: str) -> dict[str, Any]:
        """``schema`` (``graph``'s input or output schema; None: its state's) as JSON Schema."""
        state = graph.structure.state
        return json_schema(state.schema if schema is None else schema, name, state)


_STATE_IO = GraphIO()


class CompiledGraph(RunnableMethods):
    """A compiled graph; a langchain-core ``Runnable`` (see ``_runnable``)."""

    def __init__(
        self, structure: Structure, checkpointer: Checkpointer | bool | None,
        interrupt_before: tuple[str, ...], interrupt_after: tuple[str, ...], *, name: str,
        io: GraphIO = _STATE_IO, store: Any = None, context_schema: Any = None,
    ) -> None:
        if checkpointer not in (None, True, False) and not isinstance(checkpointer, Checkpointer):
            raise TypeError(  # (LangGraph's wording first)
                "Invalid checkpointer provided. Expected an instance of `BaseCheckpointSaver`, "
                f"`True`, `False`, or `None`. Received {type(checkpointer).__name__}: a lograph "
                "saver (MemorySaver, SqliteSaver, PostgresSaver, ...), True, False or None")
        self.structure = structure
        self.checkpointer = checkpointer
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.name = name
        self.io = io
        self.store = store  # what nodes get as ``store`` (any object; lograph's stores or yours)
        self.context_schema = context_schema
        self.debug = False  # compile(debug=True): every run prints its updates and values
        # what get_input_jsonschema / get_output_jsonschema describe (None: the state's)
        self.schemas: tuple[Any, Any] = (None, None)
        self._defaults: dict[str, Any] = {}  # with_config's: under every call's config
        self.node_subgraphs: dict[str, CompiledGraph | None] = {}  # _views.subgraph_of's cache
        register_if_loaded()

    @property
    def checkpointer(self) -> Checkpointer | None:
        """The store its runs are kept in (None: in memory, for the run only)."""
        return self._saver

    @checkpointer.setter
    def checkpointer(self, value: Checkpointer | bool | None) -> None:
        self._saver = value if isinstance(value, Checkpointer) else None
        self.keeps = value is True  # nested: its state outlives the caller's step
        self.stateless = value is False  # nested: keeps nothing

    # -- configuration ----------------------------------------------------------------

    @property
    def step_timeout(self) -> float | None:
        """Seconds each step's tasks may take together (None: no limit); past it the run
        fails with ``TimeoutError`` (asyncio's), its running tasks cancelled, as LangGraph."""
        return self.structure.step_timeout

    @step_timeout.setter
    def step_timeout(self, seconds: float | None) -> None:
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                    or seconds <= 0):
            raise ValueError(f"step_timeout must be a positive number of seconds or None, got {seconds!r}")
        self.structure.step_timeout = seconds

    def with_config(self, config: dict[str, Any] | None = None, **kwargs: Any) -> CompiledGraph:
        """This graph with ``config`` (and ``kwargs``) under every call's config, as
        LangGraph's ``with_config``: ``configurable`` and ``metadata`` merge key by key,
        ``tags`` add up, the call's other keys win."""
        graph = copy.copy(self)
        graph._defaults = merge_configs(self._defaults, {**(config or {}), **kwargs})
        return graph

    def copy(self, update: dict[str, Any] | None = None) -> CompiledGraph:
        """A shallow copy, with the attributes ``update`` names set (as LangGraph's)."""
        graph = copy.copy(self)
        for key, value in (update or {}).items():
            setattr(graph, key, value)
        return graph

    @property
    def nodes(self) -> dict[str, PregelNode]:
        """Each node as LangGraph's ``PregelNode``: the state keys it reads, the channel
        that triggers it (``branch:to:<node>``, as LangGraph names it) and its function."""
        keys = list(self.structure.state.channels)
        return {name: PregelNode(channels=keys, triggers=[f"branch:to:{name}"], bound=spec.fn)
                for name, spec in self.structure.nodes.items()}

    @property
    def channels(self) -> dict[str, Any]:
        """Each state key as LangGraph's channel object: what it does with a step's writes."""
        return channel_views(self.structure.state)

    def _config(self, config: dict[str, Any] | None) -> dict[str, Any] | None:
        return merge_configs(self._defaults, config) if self._defaults else config

    async def abatch(
        self, inputs: Sequence[Any], config: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        *, return_exceptions: bool = False, **kwargs: Any,
    ) -> list[Any]:
        """``ainvoke`` each input at once (one config for all, or one per input); the
        outputs in input order. Every input runs to its end; then the first failure (in
        input order) is raised as it is, or with ``return_exceptions=True`` each failure
        is returned in its place."""
        configs = list(config) if isinstance(config, Sequence) else [config] * len(inputs)
        if len(configs) != len(inputs):
            raise ValueError(f"abatch got {len(inputs)} inputs and {len(configs)} configs")
        out: list[Any] = [None] * len(inputs)

        failed: list[int] = []

        async def one(i: int) -> None:
            try:
                out[i] = await self.ainvoke(inputs[i], configs[i], **kwargs)
            except Exception as e:  # noqa: BLE001 - returned, or raised below as it is
                out[i] = e
                failed.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(len(inputs)):
                tg.start_soon(one, i)
        if failed and not return_exceptions:
            raise out[min(failed)]
        return out

    def batch(self, inputs: Sequence[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        return run_sync(lambda: self.abatch(inputs, config, **kwargs), method="batch", amethod="abatch", store=self.checkpointer)

    # -- running ---------------------------------------------------------------------

    def output(self, cp: Checkpoint) -> Any:
        """What ``invoke`` returns at the fold ``cp`` (this graph's ``GraphIO`` decides)."""
        return self.io.output(self, cp)

    async def ainvoke(
        self, input: Any, config: dict[str, Any] | None = None, *, durability: str | None = None,
        interrupt_before: Any = None, interrupt_after: Any = None, stream_mode: Any = "values",
        context: Any = None, print_mode: Any = (), output_keys: Any = None, debug: Any = None,
        checkpoint_during: Any = None, subgraphs: bool = False, control: Any = None,
        multitask_strategy: str | None = None,
    ) -> Any:
        """Run to the end or a pause; what the graph returns (with a ``stream_mode``
        other than "values", the list of what ``astream`` yields, with ``subgraphs`` as
        there). ``multitask_strategy``: what this run does when its thread is busy in any
        process (``configurable["multitask_strategy"]``; see ``_place``)."""
        from ._engine import ignore
        from ._invoke import run_graph
        from ._place import with_strategy

        refuse_unimplemented("invoke", output_keys=output_keys, checkpoint_during=checkpoint_during)
        if debug or self.debug:  # as LangGraph: debug prints the updates and the values
            print_mode = ["updates", "values"]
        input = self.io.input(input)
        config = with_strategy(self._config(config), multitask_strategy)
        ctx = _current_task.get()
        if ctx is not None and _nests_in(ctx, config):
            return await self._nested(input, ctx)
        if control is None and ctx is not None:  # a run of its own inside a node: its caller's
            control = ctx.run.control
        if self.keeps:
            raise RuntimeError("checkpointer=True cannot be used for root graphs: it keeps a "
                               "subgraph's state in its caller's thread; call it inside a node")
        if stream_mode != "values":  # as LangGraph: the list of what that stream yields
            from ._streaming import run_collected

            return await run_collected(self, input, config, stream_mode=stream_mode,
                                       durability=durability, interrupt_before=interrupt_before,
                                       interrupt_after=interrupt_after, subgraphs=subgraphs,
                                       context=context, print_mode=print_mode,
                                       control=control)
        if print_mode:
            from ._streaming import run_printed

            return await run_printed(self, input, config, print_mode=print_mode, durability=durability,
                                     interrupt_before=interrupt_before,
                                     interrupt_after=interrupt_after, context=context,
                                     control=control)
        return await run_graph(self, input, config, durability=durability, emit=ignore,
                               interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                               context=context, control=control)

    def invoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        ctx = _current_task.get()
        if ctx is not None and not in_event_loop() and _nests_in(ctx, self._config(config)):
            # a sync node (in a worker thread) runs a subgraph: run it on the node's loop
            return run_from_thread(self._nested, self.io.input(input), ctx)
        if ctx is not None and not in_event_loop():  # a run of its own, on the node's loop
            return run_from_thread(functools.partial(self.ainvoke, input, config, **kwargs))
        return run_sync(lambda: self.ainvoke(input, config, **kwargs), method="invoke", amethod="ainvoke", store=self.checkpointer)

    async def _nested(self, input: Any, ctx: Any) -> Any:
        from ._nesting import run_nested

        limit = self._defaults.get("recursion_limit") or ctx.run.limit
        return await run_nested(self, input, ctx, self._config(ctx.run.config) or {}, limit)

    def astream(
        self, input: Any, config: dict[str, Any] | None = None, *, stream_mode: Any = "updates",
        durability: str | None = None, interrupt_before: Any = None, interrupt_after: Any = None,
        subgraphs: bool = False, context: Any = None, print_mode: Any = (),
        output_keys: Any = None, debug: Any = None, checkpoint_during: Any = None,
        control: Any = None, multitask_strategy: str | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Yield the run's chunks: ``chunk`` (one mode) or ``(mode, chunk)``; with
        ``subgraphs=True`` (as LangGraph) each is prefixed by the namespace of the graph
        it comes from, ``()`` for this one, ``("node:task_id", ...)`` for a subgraph."""
        from ._place import with_strategy
        from ._streaming import stream_run

        refuse_unimplemented("stream", output_keys=output_keys, checkpoint_during=checkpoint_during)
        if debug or self.debug:  # as LangGraph: debug prints the updates and the values
            print_mode = ["updates", "values"]
        config = with_strategy(self._config(config), multitask_strategy)
        return stream_run(self, self.io.input(input), config, stream_mode=stream_mode,
                          durability=durability, interrupt_before=interrupt_before,
                          interrupt_after=interrupt_after, subgraphs=subgraphs, context=context,
                          print_mode=print_mode, control=control)

    def stream(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Any]:
        from ._streaming import stream_sync

        return stream_sync(lambda: self.astream(input, config, **kwargs), store=self.checkpointer)

    def astream_events(
        self, input: Any, config: dict[str, Any] | None = None, *, version: str = "v2",
        include_names: Sequence[str] | None = None, include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None, exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None, exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """langchain-core's event stream of a run (``version`` "v2" or "v1"): the graph,
        its nodes and tasks and what they call, as ``on_*_start/stream/end`` events;
        ``kwargs`` go to ``astream`` (``stream_mode``, ``durability``, ``context``, ...).
        asyncio only (langchain-core's event stream needs it)."""
        filters = {"include_names": include_names, "include_types": include_types,
                   "include_tags": include_tags, "exclude_names": exclude_names,
                   "exclude_types": exclude_types, "exclude_tags": exclude_tags}
        from ._events import astream_events

        return astream_events(self, input, config, version=version, filters=filters, kwargs=kwargs)

    # -- the node cache ----------------------------------------------------------------

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Delete the cached writes of ``nodes`` (default: every node) from the graph's
        cache. ValueError when the graph was compiled without one."""
        cache = self.structure.cache
        if cache is None:
            raise ValueError("No cache is set for this graph. Cannot clear cache.")
        specs = self.structure.nodes
        await cache.aclear([namespace(specs[n].fn, n) for n in (nodes or specs) if n in specs])

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        run_sync(lambda: self.aclear_cache(nodes), method="clear_cache", amethod="aclear_cache")

    # -- reading state ---------------------------------------------------------------

    async def aget_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        config = self._config(config) or {}
        saver, thread, _ = target(self, config)
        configurable = config.get("configurable") or {}
        actor = saver.actor(thread)
        ns = configurable.get("checkpoint_ns") or ""
        graph, ns = self._graph_at(ns)
        if configurable.get("checkpoint_id"):
            cp = await record_at(actor, await locate(saver.log, thread, configurable["checkpoint_id"]), ns)
            live = False
        else:
            cp, live = await head_state(actor), True
            if ns and ns not in cp.children:  # its caller's step is over: where it ended
                cp = await last_of(actor, cp, ns) or cp
        if not cp.checkpoint and not ns:  # a thread with no checkpoint: the caller's config, as LangGraph
            return StateSnapshot({}, (), copy.deepcopy(config), None, None, None, (), ())
        if ns:  # a subgraph's state: in the top graph's fold, by its namespace
            child = cp.children.get(ns) or Checkpoint()
            if graph is None:  # a graph this one does not know: read with this one's channels
                graph, child = self, read_as(self, child)
            return snapshot_of(graph, thread, ns, child, live=live, subgraphs=subgraphs, root=cp)
        return snapshot_of(self, thread, ns, cp, live=live, subgraphs=subgraphs, root=cp)

    def _graph_at(self, ns: str) -> tuple[CompiledGraph | None, str]:
        """The compiled graph whose state lives at namespace ``ns`` (None: one this graph
        neither is nor calls, such as a graph a tool invokes), and the namespace its
        state is kept under (without task ids for one compiled with ``checkpointer=True``)."""
        if not ns:
            return self, ns
        found = next(subgraphs(self, namespace=recast(ns), recurse=True), None)
        if found is None:
            return None, ns
        graph = found[1]
        return graph, "|".join(p.split(":", 1)[0] for p in ns.split("|")) if graph.keeps else ns

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        return run_sync(lambda: self.aget_state(config, subgraphs=subgraphs), method="get_state", amethod="aget_state", store=self.checkpointer)

    async def aget_state_history(
        self, config: dict[str, Any], *, filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None, limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        config = self._config(config) or {}
        saver, thread, ns = target(self, config)
        # as LangGraph's savers list it: a config naming a checkpoint lists that one only
        only = (config.get("configurable") or {}).get("checkpoint_id")
        graph, ns = self._graph_at(ns)
        async for cp in history(saver.log, thread, only=only, filter=filter, before=before,
                                actor=saver.actor(thread),
                                limit=limit, seal=saver.seal, ns=ns):
            if graph is None:  # a graph this one does not know: read with this one's channels
                yield snapshot_of(self, thread, ns, read_as(self, cp), live=False)
            else:
                yield snapshot_of(graph, thread, ns, cp, live=False)

    def get_state_history(self, config: dict[str, Any], **kwargs: Any) -> Iterator[StateSnapshot]:
        async def collect() -> list[StateSnapshot]:
            return [s async for s in self.aget_state_history(config, **kwargs)]

        return iter(run_sync(collect, method="get_state_history", amethod="aget_state_history", store=self.checkpointer))

    # -- updating state --------------------------------------------------------------

    async def aupdate_state(
        self, config: dict[str, Any], values: Any, as_node: str | None = None,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        from ._update import update_state

        refuse_unimplemented("update_state", task_id=task_id)
        return await update_state(self, self._config(config) or {}, self.io.update(values), as_node)

    def update_state(self, config: dict[str, Any], values: Any, as_node: str | None = None, **kw: Any) -> dict[str, Any]:
        return run_sync(lambda: self.aupdate_state(config, values, as_node, **kw),
                        method="update_state", amethod="aupdate_state", store=self.checkpointer)


    async def abulk_update_state(
        self, config: dict[str, Any], supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]],
    ) -> dict[str, Any]:
        """Several ``update_state``s at once: each superstep's updates (``StateUpdate``)
        applied together as one checkpoint, on the one before; written in one commit or
        not at all. Returns the config of the last checkpoint."""
        steps = []
        for superstep in supersteps:
            updates = []
            for update in superstep:
                u = StateUpdate(*update)
                refuse_unimplemented("bulk_update_state", task_id=u.task_id)
                updates.append((self.io.update(u.values), u.as_node))
            steps.append(updates)
        from ._update import bulk_update

        return await bulk_update(self, self._config(config) or {}, steps)

    def bulk_update_state(
        self, config: dict[str, Any], supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]],
    ) -> dict[str, Any]:
        return run_sync(lambda: self.abulk_update_state(config, supersteps), method="bulk_update_state",
                        amethod="abulk_update_state", store=self.checkpointer)

    # -- describing the graph ----------------------------------------------------------

    def get_graph(self, config: dict[str, Any] | None = None, *, xray: int | bool = False) -> Graph:
        """The graph as langchain-core's ``Graph``: ``.draw_mermaid()``, ``.draw_ascii()``
        (needs ``grandalf``: the ``draw`` extra), ``.draw_mermaid_png()``. ``xray`` draws
        subgraphs inside their nodes (an int: that many levels)."""
        return drawing(self, xray=xray)

    async def aget_graph(self, config: dict[str, Any] | None = None, *, xray: int | bool = False) -> Graph:
        return drawing(self, xray=xray)

    def get_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False,
    ) -> Iterator[tuple[str, CompiledGraph]]:
        """``(namespace, graph)`` for each subgraph: a node that is a compiled graph or
        calls one (with ``recurse``, theirs too, as ``"node|inner"``; ``namespace``: only
        the one it names)."""
        return subgraphs(self, namespace=namespace, recurse=recurse)

    async def aget_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False,
    ) -> AsyncIterator[tuple[str, CompiledGraph]]:
        for item in subgraphs(self, namespace=namespace, recurse=recurse):
            yield item

    def get_input_jsonschema(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``invoke`` takes, as JSON Schema (the input schema, else the state's)."""
        return self.io.json_schema(self, self.schemas[0], f"{self.name}Input")

    def get_context_jsonschema(self) -> dict[str, Any] | None:
        """The ``context_schema`` as JSON Schema (None without one); ValueError for a
        schema that is not a pydantic model, a TypedDict or a dataclass."""
        return None if self.context_schema is None else context_schema(self.context_schema)

    def get_output_jsonschema(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``invoke`` returns, as JSON Schema (the output schema, else the state's)."""
        return self.io.json_schema(self, self.schemas[1], f"{self.name}Output")


def _nests_in(ctx: Any, config: dict[str, Any] | None) -> bool:
    """``_nesting.nests_in``: whether a call inside a node's task runs as its subgraph."""
    from ._nesting import nests_in

    return nests_in(ctx, config)


CompiledStateGraph = CompiledGraph  # LangGraph's name (langgraph.graph.state), for type hints


def merge_configs(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """``override`` over ``base`` as LangGraph merges run configs."""
    out = dict(base)
    for key, value in (override or {}).items():
        if value is None and key in out:  # as LangGraph: None leaves the value as it was
            continue
        if key in ("configurable", "metadata") and isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        elif key == "tags" and isinstance(value, list):
            out[key] = [*(out.get(key) or []), *value]
        else:
            out[key] = value
    return out
