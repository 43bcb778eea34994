"""A compiled graph described: its subgraphs, its drawing, its input and output schemas.

Pure functions of a graph's structure; nothing runs and nothing is read from a store.

- ``subgraphs``: the compiled graphs a graph's nodes are, or call (found, as LangGraph
  finds them, among the names a node's function uses: ``sub.invoke(...)`` in a node
  makes ``sub`` its subgraph). A subgraph compiled with ``checkpointer=False`` is not
  one (it keeps no state to address by namespace).
- ``drawing``: langchain-core's ``Graph`` (``draw_mermaid()``, ``draw_ascii()``,
  ``draw_mermaid_png()``, ``to_json()``) exactly as LangGraph's ``get_graph`` draws it:
  the nodes in the graph's order, the edges ``_draw`` finds by walking the graph's
  triggers. ``xray`` draws subgraphs inside their nodes (an int: so many levels).
- ``json_schema``: the input or output schema as JSON Schema (pydantic's).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typing_extensions

from ._channels import StateCodec, channels_of, is_root
from ._handlers import DEFAULT_HANDLER
from ._structure import Structure
from ._tracing import is_runnable
from ._types import END, START

if TYPE_CHECKING:  # langchain-core's runnables cost ~0.4 s to import: only a drawing needs them
    from langchain_core.runnables.graph import Graph

    from ._compiled import CompiledGraph
    from ._structure import NodeSpec


def subgraphs(
    graph: CompiledGraph, *, namespace: str | None = None, recurse: bool = False,
) -> Iterator[tuple[str, CompiledGraph]]:
    """``(namespace, subgraph)`` pairs of ``graph``'s nodes (``|``-joined when recursing);
    with ``namespace``, the one subgraph it names (and, recursing, those under it)."""
    head, _, rest = (namespace or "").partition("|")
    for name, spec in graph.structure.nodes.items():
        if namespace is not None and head.split(":", 1)[0] != name:
            continue  # (whole segments: "research_review" is not "research")
        sub = subgraph_of_node(spec)
        if sub is None:
            continue
        if namespace is not None and not rest:
            yield name, sub
            return
        if namespace is None:
            yield name, sub
        if recurse:
            deeper = rest if namespace is not None else None
            yield from ((f"{name}|{n}", s) for n, s in subgraphs(sub, namespace=deeper, recurse=True))


def subgraph_of_node(spec: NodeSpec) -> CompiledGraph | None:
    """The compiled graph node ``spec`` is, or the first its function uses."""
    if spec.subgraph is not None:
        return spec.subgraph if not spec.subgraph.stateless else None
    if not _may_reach_graph(spec.fn):
        return None
    from langchain_core.runnables.utils import get_function_nonlocals

    try:
        names = get_function_nonlocals(spec.fn)
    except Exception:  # noqa: BLE001 - no source to read (a builtin, a C function)
        return None
    for value in names:
        value = getattr(value, "__self__", value)  # ``sub.invoke`` -> ``sub``
        # a compiled graph is what carries a Structure (named so: _compiled imports this module)
        if isinstance(getattr(value, "structure", None), Structure) and not value.stateless:
            return value  # type: ignore[no-any-return]
    return None


def _is_graph(value: Any) -> bool:
    return isinstance(getattr(value, "structure", None), Structure)


def _may_reach_graph(fn: Any, budget: int = 2000) -> bool:
    """Whether a compiled graph can be among what ``get_function_nonlocals(fn)`` finds,
    without reading ``fn``'s source: that reads and parses it (and its first use in a
    process costs ~4 ms: the import, tokenize's and ast's first runs), for a node that
    reaches no graph, almost every node. It finds the values of the global and closure
    names ``fn`` uses (``inspect.getclosurevars``, as it does), then follows the
    attribute chains its source writes on them; those attribute names are among the
    names of ``fn``'s code objects, so following every such name from every value reached
    finds all it can find, and more. False only when nothing reached is a graph, or a
    bound method of one; True (the full search decides) when unsure: not a Python
    function, or more than ``budget`` attributes to try. (An attribute chain written
    only in ``fn``'s decorators or defaults is not followed: those are not its code.)"""
    import inspect

    func = fn.__wrapped__ if callable(getattr(fn, "__wrapped__", None)) else fn
    code = getattr(func, "__code__", None)
    if not isinstance(code, types.CodeType):
        return True
    try:
        found = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return True
    names: set[str] = set()
    codes = [code]
    while codes:
        c = codes.pop()
        names.update(c.co_names)
        codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    reached = [*found.globals.values(), *found.nonlocals.values()]
    seen: set[int] = set()  # (``reached`` keeps every value alive: ids stay unique)
    i = 0
    while i < len(reached):
        value = reached[i]
        i += 1
        if id(value) in seen:
            continue
        seen.add(id(value))
        if _is_graph(value) or _is_graph(getattr(value, "__self__", None)):
            return True
        for name in names:
            budget -= 1
            if budget < 0:
                return True
            try:
                reached.append(getattr(value, name))
            except Exception:  # noqa: BLE001 - as the full search: no such attribute
                continue
    return False


# -- the drawing -----------------------------------------------------------------------------------

# how LangGraph's drawing JSON names the kind of a node (langchain-core's ``lc_id``)
_FUNCTION_NODE = ("langgraph", "_internal", "_runnable", "RunnableCallable")
_GRAPH_NODE = ("langgraph", "graph", "state", "CompiledStateGraph")
_ENTRYPOINT_NODE = ("langgraph", "pregel", "main", "Pregel")


class _StartNode:
    """The data of a StateGraph's ``__start__`` node (LangGraph's is a passthrough)."""

    def __repr__(self) -> str:
        return "__start__"


_START_DATA = _StartNode()


def drawing(graph: CompiledGraph, *, xray: int | bool = False) -> Graph:
    """``graph`` as langchain-core's drawable ``Graph``, as LangGraph's ``get_graph``
    draws it (the edges: ``_draw``): the nodes in the order the graph has them (a
    StateGraph's ``__start__`` first, an error handler before its node, an entrypoint's
    ``__start__`` after its function), each node's data what it runs; ``xray`` draws
    subgraphs inside their nodes (an int: so many levels)."""
    from ._draw import pregel_procs, procs_of, walk  # (only a drawing needs it)

    structure = graph.structure
    start_node = graph.io.start_is_a_node and structure.triggers is None
    if structure.triggers is not None:  # a Pregel graph: its own channels decide
        procs, channels, given = pregel_procs(structure.state)
        edges, start_tasks, last = walk(procs, channels, given=given)
    else:
        procs, channels = procs_of(structure, start_node=start_node)
        edges, start_tasks, last = walk(procs, channels)
    out = _drawing_class()()
    if start_node:
        out.add_node(typing.cast(Any, _START_DATA), START)
    for name, spec in _in_langgraph_order(structure.nodes):
        metadata: dict[str, Any] = {}
        if spec.defer:
            metadata["defer"] = True
        where = [w for w, names in (("before", graph.interrupt_before), ("after", graph.interrupt_after))
                 if name in names]
        if where:
            metadata["__interrupt"] = ",".join(where)
        data = node_data(spec)
        tools = getattr(data, "tools_by_name", None)
        if isinstance(tools, dict) and tools:
            metadata["__tools"] = list(tools)
        out.add_node(typing.cast(Any, data), name, metadata=metadata or None)
    if not start_node:
        out.add_node(None, START)
        for name in start_tasks:
            _add_edge(out, START, name)
    for e in sorted(edges, key=lambda e: (e.source, e.target, e.conditional, e.label is not None, e.label or "")):
        _add_edge(out, e.source, e.target, label=e.label if e.label != e.target else None,
                  conditional=e.conditional)
    termini = sorted({e.target for e in edges if e.target != END} - {e.source for e in edges})
    if termini:
        for name in termini:
            _add_edge(out, name, END)
    elif len(last) == 1 and not any(e.target == END for e in edges):
        _add_edge(out, next(iter(last)), END, conditional=True)
    if xray:
        deeper = xray if isinstance(xray, bool) else xray - 1
        for name, sub in subgraphs(graph):
            _inline(out, name, drawing(sub, xray=deeper))
    return out


def _in_langgraph_order(nodes: dict[str, NodeSpec]) -> Iterator[tuple[str, NodeSpec]]:
    """The nodes, each error handler of a node before it (as LangGraph adds them)."""
    own = {spec.handler for spec in nodes.values() if spec.handler and spec.handler != DEFAULT_HANDLER}
    for name, spec in nodes.items():
        if name in own:
            continue
        if spec.handler in own:
            yield spec.handler, nodes[spec.handler]
        yield name, spec


def node_data(spec: NodeSpec) -> Any:
    """What a drawn node's ``data`` is: the compiled graph, ``Runnable`` or function the
    node runs."""
    if spec.subgraph is not None:
        return spec.subgraph
    return getattr(spec.fn, "runnable", None) or spec.fn


@functools.cache
def _drawing_class() -> type[Graph]:
    """langchain-core's ``Graph``, whose JSON names each node's kind as LangGraph's
    does (a function node is LangGraph's ``RunnableCallable``; a compiled graph its
    ``CompiledStateGraph``, an entrypoint its ``Pregel``; a ``Runnable`` itself), so
    tools that read LangGraph's drawings read lograph's."""
    from langchain_core.runnables.graph import Graph

    class Drawing(Graph):
        def to_json(self, *, with_schemas: bool = False) -> dict[str, list[dict[str, Any]]]:
            out = super().to_json(with_schemas=with_schemas)
            for node, entry in zip(self.nodes.values(), out["nodes"], strict=True):
                kind = _langgraph_kind(node.data)
                if kind is not None:
                    rest = {"metadata": entry["metadata"]} if "metadata" in entry else {}
                    entry.clear()
                    entry.update({"id": node.id, "type": "runnable",
                                  "data": {"id": list(kind), "name": node.id}, **rest})
            return out

    return Drawing


def _langgraph_kind(data: Any) -> tuple[str, ...] | None:
    if data is None:
        return None
    if isinstance(getattr(data, "structure", None), Structure):  # a compiled graph
        return _GRAPH_NODE if data.io.start_is_a_node else _ENTRYPOINT_NODE
    kind = getattr(type(data), "langgraph_kind", None)  # (the prebuilt ToolNode declares its own)
    if kind is not None:
        return tuple(kind)
    if is_runnable(data):
        return None  # langchain-core names it
    return _FUNCTION_NODE


def _add_edge(graph: Graph, source: str, target: str, *, label: str | None = None,
              conditional: bool = False) -> None:
    if any(e.source == source and e.target == target for e in graph.edges):
        return
    if target == END and target not in graph.nodes:
        graph.add_node(None, END)
    graph.add_edge(graph.nodes[source], graph.nodes[target], label, conditional)


def _inline(graph: Graph, name: str, sub: Graph) -> None:
    """Draw ``sub`` in place of node ``name`` (its nodes named ``name:<node>``)."""
    from langchain_core.runnables.graph import Node

    if len(sub.nodes) <= 1 or name not in graph.nodes or not sub.first_node() or not sub.last_node():
        return
    sub.trim_first_node()
    sub.trim_last_node()
    graph.nodes.pop(name)
    first, last = graph.extend(sub, prefix=name)
    for i, edge in enumerate(graph.edges):
        if edge.source == name and isinstance(last, Node):
            edge = edge.copy(source=last.id)
        if edge.target == name and isinstance(first, Node):
            edge = edge.copy(target=first.id)
        graph.edges[i] = edge


# -- schemas ---------------------------------------------------------------------------------------


def json_schema(schema: Any, name: str, state: StateCodec) -> dict[str, Any]:
    """``schema`` (a TypedDict, a pydantic model, a dataclass, a type) as JSON Schema, as
    LangGraph describes it: a model or TypedDict as pydantic does; any other class as a
    model named ``name`` whose fields are its keys, typed as their channels are (the first
    schema that declared the key) with LangGraph's defaults; a state without keys as its
    one value."""
    from pydantic import BaseModel, PydanticUserError, TypeAdapter

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if typing_extensions.is_typeddict(schema):
        try:
            return TypeAdapter(schema).json_schema()
        except PydanticUserError:  # a typing.TypedDict before Python 3.12: as a model
            hints = typing.get_type_hints(schema)
            required = getattr(schema, "__required_keys__", frozenset(hints))
            fields: dict[str, Any] = {k: (t, ... if k in required else None) for k, t in hints.items()}
            return _model_schema(schema.__name__, fields)
    if is_root(schema):
        return value_schema(schema, name, default=None)
    keys = [k for k in channels_of(schema) if k in state.channels]
    fields = {k: (t, _field_default(k, t, schema)) for k in keys for t in [_update_type(k, state)]}
    return _model_schema(name, fields)


def _model_schema(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a pydantic model named ``name`` with ``fields`` (name: (type,
    default))."""
    from pydantic import create_model

    model: Any = create_model(name, **fields)
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def context_schema(schema: Any) -> dict[str, Any]:
    """A graph's ``context_schema`` as JSON Schema, as LangGraph gives it."""
    from pydantic import BaseModel, TypeAdapter

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if typing_extensions.is_typeddict(schema) or dataclasses.is_dataclass(schema):
        return TypeAdapter(schema).json_schema()
    raise ValueError(f"Invalid context schema type: {schema!r}. Must be a BaseModel, TypedDict or "
                     "dataclass.")


def value_schema(schema: Any, name: str, **default: Any) -> dict[str, Any]:
    """One value of type ``schema`` as JSON Schema titled ``name`` (a pydantic model: its
    own schema), as langchain-core describes a runnable's input (with ``default``, its
    default too)."""
    from pydantic import BaseModel, RootModel, create_model

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    fields = {"root": (schema, default["default"])} if default else {}
    model: Any = create_model(name, __base__=RootModel[schema], **fields)  # type: ignore[call-overload]
    return model.model_json_schema()  # type: ignore[no-any-return]


def _update_type(key: str, state: StateCodec) -> Any:
    """What channel ``key`` takes: its annotation in the first schema that declared it
    (``Required``/``NotRequired`` taken off)."""
    for schema in state.schemas():
        hint = schema if is_root(schema) else _annotations(schema).get(key, _NONE)
        if hint is _NONE:
            continue
        while typing.get_origin(hint) in (typing.Required, typing.NotRequired):
            hint = typing.get_args(hint)[0]
        return hint
    return Any


_NONE: Any = object()


def _annotations(schema: Any) -> dict[str, Any]:
    fields = getattr(schema, "model_fields", None)
    if isinstance(fields, dict):  # a pydantic model
        return {k: f.annotation for k, f in fields.items()}
    try:
        return typing.get_type_hints(schema, include_extras=True)
    except Exception:  # noqa: BLE001 - not readable here: the key is described as Any
        return {}


def _field_default(key: str, hint: Any, schema: Any) -> Any:
    """A key's default as LangGraph's JSON Schema gives it: ``...`` (required) or the
    default: ``NotRequired`` / ``total=False`` keys and ``Optional`` ones default to None,
    a dataclass field to its default (or its factory's value)."""
    required = _required(hint)
    if key in getattr(schema, "__optional_keys__", ()):
        return ... if required else None
    if required is not None:
        return ... if required else None
    if dataclasses.is_dataclass(schema):
        for f in dataclasses.fields(schema):
            if f.name == key:
                if f.default is not dataclasses.MISSING and f.default is not ...:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
    return None if _optional(hint) else ...


def _required(hint: Any) -> bool | None:
    """True for ``Required[...]``, False for ``NotRequired[...]`` (also inside
    ``Annotated``), None for neither."""
    origin = typing.get_origin(hint)
    if origin is typing.Required:
        return True
    if origin is typing.NotRequired:
        return False
    if origin is typing.Annotated:
        return _required(typing.get_args(hint)[0])
    return None


def _optional(hint: Any) -> bool:
    """Whether ``hint`` admits None (``X | None``, ``Optional[X]``, inside ``Annotated``)."""
    if hint is None or hint is type(None):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _optional(typing.get_args(hint)[0])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_optional(a) for a in typing.get_args(hint))
    return False
