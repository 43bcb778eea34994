"""The graph model: ``StateGraph`` (the builder) and its validated, compiled structure."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import typing
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self

from typing_extensions import TypeVar

from lograph.eventlog.bodies import COPY, GOTO, INPUT

from ._cache import BaseCache, CachePolicy
from ._channels import StateCodec, channels_of, hints_of
from ._compiled import CompiledGraph
from ._errors import GraphValidationError
from ._handlers import DEFAULT_HANDLER, HANDLER_PREFIX, with_node_error
from ._injection import injected
from ._options import refuse_unimplemented
from ._retry import Retry, retry_policies
from ._structure import Branch, Join, NodeSpec, Structure
from ._timeout import TimeoutPolicy, sync_timeout_unsupported
from ._tracing import is_runnable, runnable_call
from ._types import END, START

# node names with a meaning of their own in the log, in update_state and in the stream
# (any other name, ``__``-prefixed too, is a node's, as in LangGraph)
_RESERVED = frozenset({START, END, INPUT, COPY, GOTO, "__interrupt__"})

if TYPE_CHECKING:
    from ._checkpointer import Checkpointer


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.isroutine(fn) or not callable(fn):
        return inspect.iscoroutinefunction(fn)
    # a callable object: its class's __call__ decides
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


StateT = TypeVar("StateT", default=Any)
ContextT = TypeVar("ContextT", default=None)
InputT = TypeVar("InputT", default=StateT)
OutputT = TypeVar("OutputT", default=StateT)


class StateGraph(Generic[StateT, ContextT, InputT, OutputT]):
    """Build a graph of nodes over a typed state; ``compile()`` it to run it."""

    def __init__(
        self, state_schema: Any, context_schema: Any = None, *, input_schema: Any = None,
        output_schema: Any = None, input: Any = None, output: Any = None,
        config_schema: Any = None,
    ) -> None:
        """``context_schema`` (also the second argument): what ``invoke(context=...)``
        takes. ``config_schema=`` is LangGraph's deprecated name for it (a
        DeprecationWarning, as in LangGraph)."""
        self._state = StateCodec(state_schema)
        self.context_schema = context_schema if context_schema is not None else deprecated_context(config_schema)
        given = input_schema if input_schema is not None else input
        if self._state.kind != "root":
            self._state.inputs = frozenset(channels_of(given if given is not None else state_schema))
        # as LangGraph: the keys of the input and output schemas are channels too
        self._state.add_schema(input_schema if input_schema is not None else input, managed=False)
        returned = output_schema if output_schema is not None else output
        self._schemas = (given, returned)  # what get_input/output_jsonschema describe
        if returned is not None:  # what invoke returns; the state and its streams stay whole
            self._state.add_schema(returned, managed=False)
            self._state.returns = tuple(channels_of(returned))
        self.nodes: dict[str, NodeSpec] = {}
        self._edges: list[tuple[str, str]] = []
        self._joins: list[tuple[tuple[str, ...], str]] = []
        self._branches: dict[str, list[Branch]] = {}
        self._handlers: dict[str, Callable[..., Any]] = {}  # node -> its error handler
        self._defaults: dict[str, Any] = {}  # set_node_defaults's, applied when compiled

    @property
    def channels(self) -> dict[str, Any]:
        """The state's channels by key (every schema's keys; managed values are not
        channels), as LangGraph's builder has them."""
        return dict(self._state.channels)

    def set_node_defaults(
        self, *, retry_policy: Retry | None = None, cache_policy: Any = None,
        error_handler: Callable[..., Any] | None = None, timeout: Any = None,
    ) -> Self:
        """Policies for every node that has none of its own, applied when the graph is
        compiled (as LangGraph): ``retry_policy`` and ``timeout`` for error handlers too,
        ``error_handler`` for the other nodes. Not inherited by subgraphs."""
        if cache_policy is not None:
            self._defaults["cache"] = _cache_policy(cache_policy, "set_node_defaults")
        if retry_policy is not None:
            self._defaults["retry"] = retry_policies(retry_policy, "set_node_defaults")
        if error_handler is not None:
            self._defaults["handler"] = error_handler
        if timeout is not None:
            self._defaults["timeout"] = TimeoutPolicy.coerce(timeout)
        return self

    def add_node(
        self,
        node: str | Callable[..., Any],
        action: Callable[..., Any] | None = None,
        *,
        retry: Retry | None = None,
        retry_policy: Retry | None = None,
        input: Any = None,
        input_schema: Any = None,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        destinations: Any = None,
        cache_policy: Any = None,
        error_handler: Callable[..., Any] | None = None,
        timeout: Any = None,
    ) -> Self:
        refuse_unimplemented("add_node", metadata=metadata)
        limit = TimeoutPolicy.coerce(timeout)  # (a limit that is not above zero: ValueError now)
        if action is None:
            if isinstance(node, str):
                raise GraphValidationError(f"add_node({node!r}) needs a function to run")
            action, node = node, _node_name(node)
        if not isinstance(node, str) or not node:
            raise GraphValidationError(f"a node's name must be a non-empty string, got {node!r}")
        if node in _RESERVED:
            raise GraphValidationError(f"node name {node!r} is reserved")
        for character in "|:":  # (what separates a subgraph's namespace, as in LangGraph)
            if character in node:
                raise GraphValidationError(
                    f"'{character}' is a reserved character and is not allowed in the node names "
                    f"(node {node!r})")
        if node in self.nodes:
            raise GraphValidationError(f"node {node!r} is already in the graph")
        given = input_schema or input
        input_schema = given or _annotated_input(action)
        if input_schema is self._state.schema:
            input_schema = None
        # (a node's input schema adds its keys as channels)
        self._state.add_schema(input_schema, strict=given is not None)
        self.nodes[node] = node_spec(node, action, retry_policies(retry or retry_policy, f"node {node!r}"),
                                     input_schema, bool(defer), limit)
        self.nodes[node].destinations = _destinations(node, destinations)
        if cache_policy is not None:
            self.nodes[node].cache_policy = _cache_policy(cache_policy, f"node {node!r}")
        if error_handler is not None:
            self._handlers[node] = error_handler
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> Self:
        if isinstance(start_key, str):
            if start_key == END:
                raise GraphValidationError("END cannot be the start of an edge")
            if end_key == START:
                raise GraphValidationError("START cannot be the end of an edge")
            self._edges.append((start_key, end_key))
        else:
            sources = tuple(start_key)
            if not sources:
                raise GraphValidationError(f"a join into {end_key!r} needs at least one source")
            self._joins.append((sources, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> Self:
        mapping: dict[Hashable, str] | None = (
            {p: p for p in path_map} if isinstance(path_map, list) else path_map)
        schema = _annotated_input(path)  # (as LangGraph: a router reads the schema it names)
        if schema is self._state.schema:
            schema = None
        self._state.add_schema(schema, strict=False)
        self._branches.setdefault(source, []).append(Branch(path, mapping, _is_async(path), schema))
        return self

    def add_sequence(self, nodes: Sequence[Any]) -> Self:
        """Add ``nodes`` (functions, or ``(name, function)`` pairs) and an edge from each
        to the next. ValueError, with the builder unchanged, for no nodes or a name used
        twice (name two lambdas with pairs)."""
        if not nodes:
            raise GraphValidationError("Sequence requires at least one node: add_sequence got none")
        pairs = [item if isinstance(item, tuple) else (_node_name(item), item) for item in nodes]
        names = [name for name, _ in pairs]
        for name in names:
            if name in self.nodes or names.count(name) > 1:
                raise GraphValidationError(
                    f"Node names must be unique: node with the name {name!r} already exists; give "
                    "two functions of one name (lambdas) their own as (name, function) pairs")
        for name, fn in pairs:
            self.add_node(name, fn)
        for a, b in itertools.pairwise(names):
            self.add_edge(a, b)
        return self

    def set_entry_point(self, key: str) -> Self:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: dict[Hashable, str] | list[str] | None = None
    ) -> Self:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> Self:
        return self.add_edge(key, END)

    def validate(self, interrupts: Sequence[str] = ()) -> Structure:
        """The compiled structure; GraphValidationError naming the first offending node."""
        nodes = self._effective_nodes()
        known = set(self.nodes)
        self._check_edges(known)
        self._check_branches(known)
        if not any(a == START for a, _ in self._edges) and START not in self._branches:
            raise GraphValidationError(
                "the graph has no entry point: add_edge(START, node) or set_entry_point(node)"
            )
        for name in interrupts:
            if name != "*" and name not in nodes:
                raise GraphValidationError(f"interrupt list names unknown node {name!r}")
        edges: dict[str, list[str]] = {}
        for a, b in self._edges:
            if b not in edges.setdefault(a, []):
                edges[a].append(b)
        joins = [Join(f"join:{'+'.join(s)}:{t}", s, t) for s, t in self._joins]
        deferred = frozenset(n for n, spec in nodes.items() if spec.defer)
        return Structure(self._state, nodes, edges, joins, dict(self._branches), deferred)

    def _effective_nodes(self) -> dict[str, NodeSpec]:
        """The nodes with the defaults of ``set_node_defaults`` applied and the error
        handler nodes added (the builder's own specs stay as added). ValueError for a
        timeout on a sync node, which could not be cancelled."""
        defaults = self._defaults
        nodes = {}
        for name, spec in self.nodes.items():
            handler = self._handlers.get(name) or defaults.get("handler")
            nodes[name] = dataclasses.replace(
                spec, retry=spec.retry or defaults.get("retry", ()),
                timeout=spec.timeout or defaults.get("timeout"),
                cache_policy=spec.cache_policy or defaults.get("cache"),
                handler=None if handler is None
                else HANDLER_PREFIX + name if name in self._handlers else DEFAULT_HANDLER,
            )
        handlers = {HANDLER_PREFIX + name: fn for name, fn in self._handlers.items()}
        if "handler" in defaults and any(spec.handler == DEFAULT_HANDLER for spec in nodes.values()):
            handlers[DEFAULT_HANDLER] = defaults["handler"]
        for name, fn in handlers.items():
            if name in nodes:  # a node of the user's has the name the handler's node takes
                raise GraphValidationError(f"Auto-generated error handler node `{name}` already exists: "
                                           "rename that node")
            is_async = _is_async(fn)
            handler_fn = with_node_error(fn, is_async)
            nodes[name] = NodeSpec(name, handler_fn, is_async,
                                   defaults.get("retry", ()), timeout=defaults.get("timeout"),
                                   is_handler=True, inject=injected(handler_fn))
        for name, spec in nodes.items():
            if spec.timeout is not None and not spec.is_async:
                raise sync_timeout_unsupported(name)
        return nodes

    def _check_edges(self, known: set[str]) -> None:
        for a, b in self._edges:
            if a != START and a not in known:
                raise GraphValidationError(f"Found edge starting at unknown node {a!r} ({a!r} -> {b!r})")
            if b != END and b not in known:
                raise GraphValidationError(f"edge {a!r} -> {b!r}: unknown target node {b!r}")
        for sources, target in self._joins:
            for s in sources:
                if s not in known:
                    raise GraphValidationError(f"join {list(sources)} -> {target!r}: unknown node {s!r}")
            if target != END and target not in known:
                raise GraphValidationError(f"join {list(sources)} -> {target!r}: unknown target {target!r}")

    def _check_branches(self, known: set[str]) -> None:
        for source, branches in self._branches.items():
            if source != START and source not in known:
                raise GraphValidationError(f"conditional edge from unknown node {source!r}")
            for br in branches:
                for dest in (br.path_map or {}).values():
                    if dest != END and dest not in known:
                        raise GraphValidationError(
                            f"conditional edge from {source!r}: path map names unknown node {dest!r}"
                        )
        for name, spec in self.nodes.items():
            for dest in (spec.destinations or {}).values():
                if dest != END and dest not in known:
                    raise GraphValidationError(f"node {name!r}: destinations names unknown node {dest!r}")

    def compile(
        self,
        checkpointer: Checkpointer | bool | None = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        name: str | None = None,
        cache: Any = None,
        store: Any = None,
        debug: bool = False,
    ) -> CompiledGraph:
        before = _interrupt_list(interrupt_before)
        after = _interrupt_list(interrupt_after)
        structure = self.validate([*before, *after])
        structure.cache = _cache(cache)
        graph = CompiledGraph(structure, checkpointer, before, after, name=name or "LangGraph",
                              store=store, context_schema=self.context_schema)
        graph.schemas = self._schemas
        graph.debug = bool(debug)
        return graph


def node_spec(name: str, action: Any, retry: tuple[Any, ...], input_schema: Any = None,
              defer: bool = False, timeout: TimeoutPolicy | None = None) -> NodeSpec:
    """A node as the engine runs it: a compiled graph as a subgraph; a langchain-core
    ``Runnable`` through its ``ainvoke`` (``invoke`` on trio) with the node's config,
    unless it has an async ``__call__`` of its own;
    a function (or callable object) with the parameters it takes from the run, read
    here once."""
    if isinstance(action, CompiledGraph):
        return NodeSpec(name, action.ainvoke, True, retry, action, input_schema, defer, timeout)
    if is_runnable(action) and not (callable(action) and _is_async(action)):
        # (a Runnable with an async __call__, as ToolNode, is called as a node function)
        return NodeSpec(name, runnable_call(action), True, retry, None, input_schema, defer, timeout,
                        inject=("config",))
    if not callable(action):
        raise GraphValidationError(f"node {name!r} must be a function, a Runnable or a compiled graph, "
                                   f"got {type(action).__name__}")
    return NodeSpec(name, action, _is_async(action), retry, None, input_schema, defer, timeout,
                    inject=injected(action))


def deprecated_context(config_schema: Any) -> Any:
    """``config_schema=``, LangGraph's deprecated name for ``context_schema``: warned
    about, then taken as the context schema."""
    if config_schema is not None:
        warnings.warn("`config_schema` is deprecated and will be removed. Please use `context_schema` "
                      "instead.", DeprecationWarning, stacklevel=3)
    return config_schema


def _node_name(action: Any) -> str:
    """The name a node added without one gets: its function's, a Runnable's own, or its
    class's (a callable object)."""
    name = getattr(action, "__name__", None)
    if isinstance(name, str) and name:
        return name
    return str(action.get_name()) if is_runnable(action) else type(action).__name__


def _cache_policy(policy: Any, where: str) -> CachePolicy[Any] | None:
    if policy is not None and not isinstance(policy, CachePolicy):
        raise TypeError(f"{where}: cache_policy must be a CachePolicy, got {policy!r}")
    return policy


def _cache(cache: Any) -> BaseCache[Any] | None:
    if cache is not None and not isinstance(cache, BaseCache):
        raise TypeError(f"compile(cache=...) takes an InMemoryCache or a SqliteCache, got {cache!r}")
    return cache


def _annotated_input(action: Any) -> Any:
    """The schema a node's first parameter is annotated with, as LangGraph infers a
    node's input schema (a class with annotations of its own); None otherwise."""
    try:
        call = getattr(action, "__call__", None)  # noqa: B004 - a bound __call__ method, as LangGraph checks
        if not (inspect.isfunction(action) or inspect.ismethod(action) or inspect.ismethod(call)):
            return None
        hints = typing.get_type_hints(action.__call__) or typing.get_type_hints(action)
        first = next(iter(inspect.signature(action).parameters))
    except (NameError, TypeError, StopIteration, ValueError):
        return None
    hint = hints.get(first)
    try:
        return hint if isinstance(hint, type) and hints_of(hint) else None
    except (NameError, TypeError):
        return None


def _destinations(node: str, given: Any) -> dict[Any, str] | None:
    """``add_node(destinations=)``: a tuple of node names, or ``{node: label}``; as
    ``{label: node}`` (what get_graph draws)."""
    if not given:
        return None
    if isinstance(given, dict):
        return {label: target for target, label in given.items()}
    if isinstance(given, str) or not all(isinstance(n, str) for n in given):
        raise GraphValidationError(
            f"add_node({node!r}, destinations=...) takes a tuple of node names or a dict "
            f"{{node: label}}, got {given!r}")
    return {n: n for n in given}


def _interrupt_list(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
