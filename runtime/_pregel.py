"""``Pregel``: LangGraph's low-level graph of nodes over named channels, on lograph's engine.

A ``Pregel`` is a ``CompiledGraph`` whose structure has no edges: its state is a
``PregelState`` (the channels) and its ``triggers`` say which nodes a channel update
runs. Everything else is the engine's, unchanged: the log, durability modes, replay,
interrupts, history, forks, ``update_state``, streaming, retries, timeouts and the node
cache work on a Pregel graph as on a ``StateGraph``.

What LangGraph's ``Pregel`` accepts and lograph does not implement yet is refused by
name (NotImplementedError) when the graph is made, before anything runs.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import typing
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio

from lograph.eventlog import Checkpoint

from ._compiled import CompiledGraph, GraphIO
from ._context import _current as current_task
from ._graph import _cache, node_spec
from ._invoke import run_graph
from ._nesting import nests_in
from ._place import with_strategy
from ._pregel_nodes import NodeBuilder, PregelNode, Steps
from ._pregel_state import PregelState
from ._retry import RetryPolicy, retry_policies
from ._step import live_values
from ._structure import NodeSpec, Structure
from ._timeout import sync_timeout_unsupported
from ._tracing import is_runnable
from ._types import Interrupt
from .channels import BaseChannel, UntrackedValue

__all__ = ["Pregel"]

_RESERVED = frozenset({"__start__", "__end__", "__input__", "__copy__", "__interrupt__", "__resume__",
                       "__error__", "__pregel_tasks", "__pregel_push", "__pregel_pull", "__root__"})

_FEATURES = {
    "stream_eager": "stream_eager=True (lograph streams each chunk as it is made)",
    "trigger_to_nodes": "trigger_to_nodes (lograph computes it from the nodes' triggers)",
    "node_error_handler_map": "error handler nodes in a Pregel graph (node_error_handler_map=...)",
    "stream_transformers": "stream_transformers (stream_events v3)",
    "config_type": "config_type (LangGraph's deprecated name of context_schema)",
    "auto_validate": "auto_validate=False (a lograph Pregel is checked when it is made)",
}


def _refuse(**given: Any) -> None:
    for name, value in given.items():
        if value is None or value is False or (isinstance(value, tuple | list | dict) and not value):
            continue
        raise NotImplementedError(f"Pregel({name}=...): {_FEATURES[name]} is not implemented in lograph yet; "
                                  "leave it out")


class PregelIO(GraphIO):
    """A Pregel graph's result: its output channels (one name: that channel's value)."""

    def __init__(self, keys: str | Sequence[str]) -> None:
        self.keys = keys

    def output(self, graph: CompiledGraph, cp: Checkpoint) -> Any:
        state = graph.structure.state
        assert isinstance(state, PregelState)
        out = state.read(live_values(graph.structure, cp), self.keys)
        if cp.interrupts and isinstance(out, dict):
            out["__interrupt__"] = [Interrupt(v["value"], iid) for iid, v in cp.interrupts.items()]
        return out


class Pregel(CompiledGraph):
    """A graph of nodes that read and write channels, run in supersteps (LangGraph's
    ``Pregel``): a node runs in the step after one of its trigger channels was updated;
    its writes are applied to the channels together at the step's end."""

    def __init__(
        self, *, nodes: Mapping[str, PregelNode | NodeBuilder], channels: Mapping[str, BaseChannel[Any]] | None,
        auto_validate: bool = True, stream_mode: Any = "values", stream_eager: bool = False,
        output_channels: str | Sequence[str], stream_channels: str | Sequence[str] | None = None,
        interrupt_after_nodes: str | Sequence[str] = (), interrupt_before_nodes: str | Sequence[str] = (),
        input_channels: str | Sequence[str], step_timeout: float | None = None, debug: bool | None = None,
        checkpointer: Any = None, store: Any = None, cache: Any = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] = (), cache_policy: Any = None,
        context_schema: Any = None, config: dict[str, Any] | None = None,
        trigger_to_nodes: Mapping[str, Sequence[str]] | None = None,
        node_error_handler_map: Mapping[str, str] | None = None, name: str = "LangGraph",
        stream_transformers: Sequence[Any] | None = None, config_type: Any = None,
    ) -> None:
        _refuse(stream_eager=stream_eager,
                trigger_to_nodes=trigger_to_nodes, node_error_handler_map=node_error_handler_map,
                stream_transformers=stream_transformers, config_type=config_type,
                auto_validate=not auto_validate)
        built: dict[str, PregelNode] = {}
        for key, node in nodes.items():
            if isinstance(node, NodeBuilder):
                node = node.build()
            if not isinstance(node, PregelNode):
                raise TypeError(f"Invalid node type {type(node)}, expected PregelNode or NodeBuilder")
            built[key] = node
        specs = _channels(channels or {})
        streamed = stream_channels if stream_channels is not None else list(specs)
        before, after = _interrupts(interrupt_before_nodes), _interrupts(interrupt_after_nodes)
        _validate(built, specs, input_channels, output_channels, stream_channels, before + after)
        state = PregelState(specs, built, input_channels, streamed)
        defaults = retry_policies(retry_policy, "Pregel") if retry_policy else ()
        specs_of = {}
        for key, node in built.items():
            spec = node_spec_of(key, node)
            spec.input_schema = node  # what it reads (``PregelState.to_node``)
            spec.retry = spec.retry or defaults
            spec.cache_policy = spec.cache_policy or cache_policy
            specs_of[key] = spec
        structure = Structure(state, specs_of, triggers=state.triggers)  # type: ignore[arg-type]
        structure.cache = _cache(cache)
        super().__init__(structure, checkpointer, before, after, name=name, io=PregelIO(output_channels),
                         store=store, context_schema=context_schema)
        if config:
            self._defaults = dict(config)
        self.debug = bool(debug)  # every run prints its updates and values
        self.step_timeout = step_timeout
        self._nodes = built
        self._channels = specs
        self.input_channels = input_channels
        self.output_channels = output_channels
        self.stream_channels = stream_channels
        self.stream_mode = stream_mode
        self.interrupt_before_nodes = interrupt_before_nodes
        self.interrupt_after_nodes = interrupt_after_nodes
        self.retry_policy = defaults
        self.cache_policy = cache_policy
        self.cache = cache
        self.trigger_to_nodes = {k: list(v) for k, v in state.triggers.items()}

    @property
    def nodes(self) -> dict[str, PregelNode]:
        return self._nodes

    @property
    def channels(self) -> dict[str, BaseChannel[Any]]:
        return self._channels

    @property
    def stream_channels_asis(self) -> str | Sequence[str]:
        return self.stream_channels if self.stream_channels is not None else list(self._channels)

    def _reading(self, keys: str | Sequence[str]) -> Pregel:
        """This graph with ``keys`` as what its values stream and result show."""
        for key in [keys] if isinstance(keys, str) else keys:
            if key not in self._channels:
                raise ValueError(f"Key {key} not in channels")
        state = self.structure.state
        assert isinstance(state, PregelState)
        graph = copy.copy(self)
        graph.structure = dataclasses.replace(
            self.structure, state=PregelState(state.specs, state.nodes, state.input_channels, keys))  # type: ignore[arg-type]
        graph.io = PregelIO(keys)
        return graph

    async def ainvoke(self, input: Any, config: dict[str, Any] | None = None, *,
                      output_keys: str | Sequence[str] | None = None, **kwargs: Any) -> Any:
        """As LangGraph's: the last ``values`` chunk of the output channels the run
        showed (None if it showed none), so an output channel that empties at the end
        still gives the value it had (with ``stream_mode``, ``print_mode``, ``debug`` or
        inside a node: the compiled graph's ``ainvoke``)."""
        graph = self._reading(self.output_channels if output_keys is None else output_keys)
        config = with_strategy(graph._config(config), kwargs.pop("multitask_strategy", None))
        ctx = current_task.get()
        plain = not any(kwargs.get(k) for k in ("print_mode", "debug", "subgraphs", "control",
                                                   "checkpoint_during"))
        if (kwargs.get("stream_mode", "values") != "values" or not plain or self.debug or self.keeps
                or (ctx is not None and nests_in(ctx, config))):
            return await CompiledGraph.ainvoke(graph, input, config, **kwargs)
        shown: list[Any] = [None]

        def keep(mode: str, chunk: Any, ns: str = "") -> None:
            if mode == "values" and not ns:
                shown[0] = chunk

        kwargs.pop("stream_mode", None)
        for unused in ("print_mode", "debug", "subgraphs", "control", "checkpoint_during"):
            kwargs.pop(unused, None)  # (all falsy here)
        final = await run_graph(graph, graph.io.input(input), config, emit=keep,
                                durability=kwargs.pop("durability", None), **kwargs)
        latest = shown[0]
        if isinstance(final, dict) and "__interrupt__" in final and isinstance(latest, dict):
            latest = {**latest, "__interrupt__": final["__interrupt__"]}
        return latest

    def astream(self, input: Any, config: dict[str, Any] | None = None, *, stream_mode: Any = None,
                output_keys: str | Sequence[str] | None = None, **kwargs: Any) -> AsyncGenerator[Any, None]:
        graph = self if output_keys is None else self._reading(output_keys)
        return CompiledGraph.astream(graph, input, config, stream_mode=stream_mode or self.stream_mode, **kwargs)

    async def aupdate_state(self, config: dict[str, Any], values: Any, as_node: str | None = None,
                            task_id: str | None = None) -> dict[str, Any]:
        """As a StateGraph's; a graph of one node takes ``values`` as that node's result
        when ``as_node`` is left out (as LangGraph)."""
        if as_node is None and len(self.nodes) == 1:
            as_node = next(iter(self.nodes))
        return await CompiledGraph.aupdate_state(self, config, values, as_node, task_id)

    def map(self) -> Callable[[Sequence[Any]], Awaitable[list[Any]]]:
        """A node step that runs this graph on each item of a list in turn, and returns
        their results (LangGraph's ``Runnable.map``); inside a node each run is a
        subgraph of the node's task."""
        async def each(inputs: Sequence[Any]) -> list[Any]:
            return [await self.ainvoke(item) for item in inputs]

        each.__name__ = f"{self.name}.map"
        return each

    # -- describing the graph ----------------------------------------------------------

    @property
    def input_schema(self) -> Any:
        return _model(f"{self.name}Input", self.input_channels, self._channels)

    @property
    def output_schema(self) -> Any:
        return _model(f"{self.name}Output", self.output_channels, self._channels)

    def get_input_schema(self, config: dict[str, Any] | None = None) -> Any:
        return self.input_schema

    def get_output_schema(self, config: dict[str, Any] | None = None) -> Any:
        return self.output_schema

    def get_input_jsonschema(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = self.input_schema.model_json_schema()
        return schema

    def get_output_jsonschema(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = self.output_schema.model_json_schema()
        return schema

    def __repr__(self) -> str:
        nodes, channels = getattr(self, "nodes", {}), getattr(self, "_channels", {})
        return f"Pregel(name={getattr(self, 'name', None)!r}, nodes={list(nodes)}, channels={list(channels)})"


def node_spec_of(name: str, node: PregelNode) -> NodeSpec:
    """How the engine runs ``node``: its bound (a function, a Runnable, a compiled graph,
    or several ``do()`` steps in turn); identity when it has none."""
    steps = node.bound if isinstance(node.bound, Steps) else [node.bound] if node.bound is not None else []
    if not steps:
        spec = NodeSpec(name, _async_identity, True)
    elif len(steps) == 1:
        spec = node_spec(name, steps[0], ())
    else:
        parts = [node_spec(name, s, ()) for s in steps]
        spec = _chained(name, parts)
    if node.timeout is not None:  # only what a cancellation can stop
        parts = [node_spec(name, s, ()) for s in steps]
        if not all(p.is_async and _really_async(s) for p, s in zip(parts, steps, strict=True)):
            raise sync_timeout_unsupported(name)
    spec.retry = node.retry_policy
    spec.timeout = node.timeout
    spec.cache_policy = node.cache_policy
    return spec


async def _async_identity(value: Any) -> Any:
    return value


def _chained(name: str, specs: list[NodeSpec]) -> NodeSpec:
    inject = tuple(dict.fromkeys(n for s in specs for n in s.inject))

    async def chained(value: Any, **kwargs: Any) -> Any:
        for s in specs:
            given = {n: kwargs[n] for n in s.inject}
            if s.is_async:
                value = await s.fn(value, **given)
            else:
                value = await anyio.to_thread.run_sync(functools.partial(s.fn, value, **given))
        return value

    chained.__name__ = name
    return NodeSpec(name, chained, True, inject=inject)


def _really_async(step: Any) -> bool:
    """Whether a Runnable step can be cancelled by a timeout: its parts are all async (a
    sync ``RunnableLambda`` inside is not). A function: node_spec's ``is_async`` says."""
    return _runnable_async(step) if is_runnable(step) else True


def _runnable_async(r: Any) -> bool:
    from langchain_core.runnables import (
        RunnableBinding,
        RunnableLambda,
        RunnableParallel,
        RunnableSequence,
    )

    if isinstance(r, RunnableLambda):
        return hasattr(r, "afunc")
    if isinstance(r, RunnableBinding):
        return _runnable_async(r.bound)
    if isinstance(r, RunnableParallel):
        return all(_runnable_async(s) for s in r.steps__.values())
    if isinstance(r, RunnableSequence):
        return all(_runnable_async(s) for s in r.steps)
    afunc, func = getattr(r, "afunc", None), getattr(r, "func", None)
    if func is not None or afunc is not None:  # a callable pair (LangGraph's RunnableCallable)
        return afunc is not None
    return True


def _model(name: str, keys: str | Sequence[str], specs: Mapping[str, BaseChannel[Any]]) -> Any:
    """A pydantic model of channels ``keys`` (one name: a root model of its type)."""
    from pydantic import RootModel, create_model

    if isinstance(keys, str):
        root: Any = typing.cast(Any, RootModel)[specs[keys].UpdateType]
        return type(name, (root,), {"__module__": __name__})
    fields: dict[str, Any] = {k: (specs[k].UpdateType, None) for k in keys}
    return create_model(name, **fields)


def _channels(given: Mapping[str, Any]) -> dict[str, BaseChannel[Any]]:
    out: dict[str, BaseChannel[Any]] = {}
    for key, spec in given.items():
        if key in _RESERVED:
            raise ValueError(f"Channel name '{key}' is reserved")
        if isinstance(spec, UntrackedValue):
            raise NotImplementedError(
                f"channel {key!r}: UntrackedValue channels are not implemented in lograph's Pregel yet")
        if not isinstance(spec, BaseChannel):
            raise NotImplementedError(
                f"channel {key!r}: {type(spec).__name__} is not a lograph channel (managed values in a "
                "Pregel graph are not implemented yet); use the classes of lograph.runtime.channels")
        spec.key = key
        out[key] = spec
    return out


def _interrupts(value: str | Sequence[str]) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    return (value,) if isinstance(value, str) else tuple(value)


def _validate(
    nodes: Mapping[str, PregelNode], specs: Mapping[str, Any], input_channels: str | Sequence[str],
    output_channels: str | Sequence[str], stream_channels: str | Sequence[str] | None,
    interrupts: tuple[str, ...],
) -> None:
    """LangGraph's checks of a Pregel graph, with its messages (ValueError)."""
    known = repr(sorted(specs))[:100]
    subscribed: set[str] = set()
    for name, node in nodes.items():
        if name in _RESERVED:
            raise ValueError(f"Node name '{name}' is reserved")
        subscribed.update(node.triggers)
        for chan in [node.channels] if isinstance(node.channels, str) else node.channels:
            if chan not in specs:
                raise ValueError(f"Node {name} reads channel '{chan}' not in known channels: '{known}'")
    for chan in sorted(subscribed):
        if chan not in specs:
            raise ValueError(f"Subscribed channel '{chan}' not in known channels: '{known}'")
    inputs = [input_channels] if isinstance(input_channels, str) else list(input_channels)
    for chan in inputs:
        if chan not in specs:
            raise ValueError(f"Input channel '{chan}' not in known channels: '{known}'")
    if isinstance(input_channels, str) and input_channels not in subscribed:
        raise ValueError(f"Input channel {input_channels} is not subscribed to by any node")
    if all(chan not in subscribed for chan in inputs):
        raise ValueError(f"None of the input channels {input_channels} are subscribed to by any node")
    outputs = [output_channels] if isinstance(output_channels, str) else list(output_channels)
    if stream_channels is not None:
        outputs += [stream_channels] if isinstance(stream_channels, str) else list(stream_channels)
    for chan in outputs:
        if chan not in specs:
            raise ValueError(f"Output channel '{chan}' not in known channels: '{known}'")
    for n in interrupts:
        if n != "*" and n not in nodes:
            raise ValueError(f"Node {n} not in nodes")
