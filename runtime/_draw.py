"""The edges ``get_graph()`` draws, found as LangGraph 1.2.24 finds them: by running the
graph's triggers without running any node.

Pure: a function of a compiled graph's structure. Rules (LangGraph's ``draw_graph``):

- Each node is triggered as the engine would trigger it: by the edges, joins and routes
  into it (a plain edge or a route into ``X`` writes ``branch:to:X``; a join ``[a, b]
  -> c`` writes its barrier, which triggers ``c`` once both wrote; a deferred node's
  trigger fires only when nothing else is left to run). A node "runs" by writing what
  its plain edges write, and, the first time it runs, what its declared routes may
  write (a router's path map or ``Literal`` return annotation, a node's
  ``Command[Literal[...]]`` annotation or ``destinations=``): those edges are
  conditional. A router that declares nothing is not followed.
- An edge is drawn from each node that wrote a trigger of a node the next step runs;
  a node triggered by nothing its previous step wrote gets a conditional edge from
  each node of that step.
- A low-level ``Pregel`` graph is walked on empty copies of its own channels, each
  node writing what its writers write for a ``None`` result.
- The walk stops when nothing is triggered, or after 250 steps (a loop). Then an edge
  to ``__end__`` goes from each node that is a target but never a source, or, when
  there is none and no edge reaches ``__end__``, a conditional one from the node of the
  last step if it ran alone.
"""

from __future__ import annotations

import inspect
import typing
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ._types import END, START, Command

if TYPE_CHECKING:
    from ._structure import Branch, NodeSpec, Structure

LIMIT = 250  # steps walked before a loop is cut (LangGraph's)


class Edge(NamedTuple):
    source: str
    target: str
    conditional: bool
    label: str | None


class _Trigger(NamedTuple):
    channel: str  # (a target's channel, or its source node when inverted)
    conditional: bool
    label: str | None


@dataclass(slots=True)
class _Channel:
    """A trigger channel's state, as the LangGraph channel it stands for behaves."""

    kind: str  # "ephemeral" | "after_finish" (a deferred node's) | "barrier" | "barrier_after_finish"
    names: frozenset[str] = frozenset()  # a barrier's sources
    has_value: bool = False
    seen: set[str] = field(default_factory=set)
    finished: bool = False

    def update(self, values: list[str | None]) -> bool:
        if self.kind == "ephemeral":
            if not values:
                changed, self.has_value = self.has_value, False
                return changed
            self.has_value = True
            return True
        if self.kind == "after_finish":
            if not values:
                return False
            self.finished, self.has_value = False, True
            return True
        updated = False
        for value in values:
            if value in self.names and value not in self.seen:
                self.seen.add(value)
                updated = True
        return updated

    def is_available(self) -> bool:
        if self.kind == "ephemeral":
            return self.has_value
        if self.kind == "after_finish":
            return self.has_value and self.finished
        complete = self.seen == self.names
        return complete and (self.finished or self.kind == "barrier")

    def consume(self) -> bool:
        if self.kind == "after_finish" and self.finished:
            self.finished = self.has_value = False
            return True
        if self.kind == "barrier" and self.seen == self.names:
            self.seen = set()
            return True
        if self.kind == "barrier_after_finish" and self.finished and self.seen == self.names:
            self.finished, self.seen = False, set()
            return True
        return False

    def finish(self) -> bool:
        if self.kind == "after_finish" and not self.finished and self.has_value:
            self.finished = True
            return True
        if self.kind == "barrier_after_finish" and not self.finished and self.seen == self.names:
            self.finished = True
            return True
        return False


@dataclass(slots=True)
class Proc:
    """A node as the walk sees it: what triggers it, what it always writes, and the
    routes it declares (``(channel or END, label)``, written once)."""

    name: str
    triggers: tuple[str, ...]
    writes: list[tuple[str, Any]] = field(default_factory=list)
    routes: list[tuple[str, str | None]] = field(default_factory=list)


def to(node: str) -> str:
    return node if node == END else f"branch:to:{node}"


def procs_of(structure: Structure, *, start_node: bool) -> tuple[dict[str, Proc], dict[str, _Channel]]:
    """The walk's nodes (``__start__`` first when it is a node of the graph, as a
    StateGraph's is) and trigger channels."""
    channels: dict[str, _Channel] = {START: _Channel("ephemeral")}
    procs: dict[str, Proc] = {}
    if start_node:
        procs[START] = Proc(START, (START,))
    for name, spec in structure.nodes.items():
        if spec.is_handler:
            channels[to(name)] = _Channel("ephemeral")  # (triggered only by a failure)
            procs[name] = Proc(name, (to(name),))
            continue
        channels[to(name)] = _Channel("after_finish" if spec.defer else "ephemeral")
        routes = node_routes(spec)
        procs[name] = Proc(name, (to(name),), routes=[(to(t), label) for label, t in routes])
    if not start_node:  # an entrypoint: its one node reads the input
        for proc in procs.values():
            proc.triggers = (START,)
    for source, targets in structure.edges.items():
        if source in procs:  # (an entrypoint's START -> function is its trigger instead)
            procs[source].writes.extend((to(t), None) for t in targets if t != END)
    for join in structure.joins:
        if join.target == END:
            continue
        deferred = structure.nodes[join.target].defer
        channel = f"join:{'+'.join(join.sources)}:{join.target}"
        channels[channel] = _Channel("barrier_after_finish" if deferred else "barrier", frozenset(join.sources))
        target = procs[join.target]
        target.triggers = (*target.triggers, channel)
        for s in join.sources:
            procs[s].writes.append((channel, s))
    for source, branches in structure.branches.items():
        for branch in branches:
            procs[source].routes.extend((to(t), str(label)) for label, t in (branch_routes(branch) or {}).items())
    return procs, channels


def pregel_procs(state: Any) -> tuple[dict[str, Proc], dict[str, Any], list[tuple[str, Any]]]:
    """A ``Pregel`` graph's nodes, its channels (empty copies of its own: their
    ``update``/``consume``/``finish`` decide, as LangGraph's walk lets them) and the
    input's writes (LangGraph's walk gives an empty input: only a single input channel
    is written)."""
    from ._pregel_nodes import writes_of
    from .channels import MISSING

    channels = {k: spec.from_checkpoint(MISSING) for k, spec in state.specs.items()}
    procs = {}
    for name, node in state.nodes.items():
        try:  # what the node writes whatever it returns (run on None, as LangGraph's walk does)
            writes = writes_of(node, name, None, state.specs)
        except Exception:  # noqa: BLE001 - a writer that needs a real result: it writes nothing here
            writes = []
        procs[name] = Proc(name, tuple(node.triggers), list(writes))
    given: list[tuple[str, Any]] = [(state.input_channels, {})] if isinstance(state.input_channels, str) else []
    return procs, channels, given


def walk(procs: dict[str, Proc], channels: dict[str, Any], limit: int = LIMIT,
         given: list[tuple[str, Any]] | None = None) -> tuple[set[Edge], list[str], dict[str, set[_Trigger]]]:
    """The edges the walk finds, the nodes the input triggers, and the last step's
    sources (see the module docstring). ``given``: the input's writes (default: the
    ``__start__`` channel's)."""
    trigger_to_nodes: dict[str, list[str]] = defaultdict(list)
    for proc in procs.values():
        for t in proc.triggers:
            trigger_to_nodes[t].append(proc.name)
    versions: dict[str, int] = {}
    seen: dict[str, dict[str, int]] = {}
    updated: set[str] = set()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for channel, value in [(START, None)] if given is None else given:
        grouped[channel].append(value)
    for channel, values in grouped.items():
        if channel in channels and channels[channel].update(values):
            versions[channel] = 1
            if channels[channel].is_available():
                updated.add(channel)
    tasks = _next(procs, channels, versions, seen, updated, trigger_to_nodes)
    start_tasks = list(tasks)
    edges: set[Edge] = set()
    routed: set[str] = set()  # nodes whose declared routes were written (once each)
    declared: dict[str, set[_Trigger]] = defaultdict(set)
    sources: dict[str, set[_Trigger]] = {}
    step_sources: dict[str, set[_Trigger]] = {}
    for _ in range(-1, limit):
        if not tasks:
            break
        conditionals: dict[tuple[str, str], str | None] = {}
        writes: dict[str, list[tuple[str, Any]]] = {}
        for name in tasks:
            proc = procs[name]
            out = list(proc.writes)
            if name not in routed:
                routed.add(name)
                for channel, label in proc.routes:
                    if channel == END:  # never written: an edge at once
                        edges.add(Edge(name, END, True, label))
                        continue
                    conditionals[(name, channel)] = label
                    declared[name].add(_Trigger(channel, True, label))
                    out.append((channel, None))
            writes[name] = out
        step_sources = {}
        for name in tasks:
            found = {_Trigger(c, (name, c) in conditionals if v is None else False,
                              conditionals.get((name, c)) if v is None else None)
                     for c, v in writes[name]}
            step_sources[name] = found | declared.get(name, set())
        sources.update(step_sources)
        inverted: dict[str, set[_Trigger]] = defaultdict(set)
        for src, triggers in sources.items():
            for channel, conditional, label in triggers:
                inverted[channel].add(_Trigger(src, conditional, label))
        updated = _apply(channels, versions, seen, tasks, procs, writes, trigger_to_nodes)
        tasks = _next(procs, channels, versions, seen, updated, trigger_to_nodes)
        for name in tasks:
            added = False
            for trigger in procs[name].triggers:
                for src, conditional, label in sorted(inverted[trigger], key=_order):
                    edges.add(Edge(src, name, conditional, label))
                    if _Trigger(trigger, conditional, label) in step_sources.get(src, set()):
                        added = True
                    else:
                        sources[src].discard(_Trigger(trigger, conditional, label))
            if not added:
                edges.update(Edge(src, name, True, None) for src in step_sources)
    return edges, start_tasks, step_sources


def _order(t: _Trigger) -> tuple[str, bool, str]:
    return (t.channel, t.conditional, "" if t.label is None else "\x01" + t.label)


def _apply(channels: dict[str, Any], versions: dict[str, int], seen: dict[str, dict[str, int]],
           tasks: list[str], procs: dict[str, Proc], writes: dict[str, list[tuple[str, Any]]],
           trigger_to_nodes: dict[str, list[str]]) -> set[str]:
    """A step's writes applied to the channels (LangGraph's ``apply_writes``): the
    channels that can now trigger a node."""
    for name in tasks:
        seen.setdefault(name, {}).update({c: versions[c] for c in procs[name].triggers if c in versions})
    version = max(versions.values(), default=0) + 1
    for channel in {c for name in tasks for c in procs[name].triggers if c in channels}:
        if channels[channel].consume():
            versions[channel] = version
    pending: dict[str, list[Any]] = defaultdict(list)
    for name in sorted(tasks):
        for channel, value in writes[name]:
            if channel in channels:
                pending[channel].append(value)
    updated: set[str] = set()
    for channel, values in pending.items():
        if channels[channel].update(values):
            versions[channel] = version
            if channels[channel].is_available():
                updated.add(channel)
    for channel, state in channels.items():
        if state.is_available() and channel not in updated and state.update([]):
            versions[channel] = version
            if state.is_available():
                updated.add(channel)
    if updated.isdisjoint(trigger_to_nodes):  # (tentatively) the last step
        for channel, state in channels.items():
            if state.finish():
                versions[channel] = version
                if state.is_available():
                    updated.add(channel)
    return updated


def _next(procs: dict[str, Proc], channels: dict[str, Any], versions: dict[str, int],
          seen: dict[str, dict[str, int]], updated: set[str],
          trigger_to_nodes: dict[str, list[str]]) -> list[str]:
    """The nodes the next step runs (LangGraph's ``prepare_next_tasks``, for pulls)."""
    if updated:
        candidates: list[str] = sorted({n for c in updated for n in trigger_to_nodes.get(c, ())})
    elif not versions:
        candidates = []
    else:
        candidates = list(procs)
    out = []
    for name in candidates:
        mine = seen.get(name)
        for channel in procs[name].triggers:
            if channels[channel].is_available() and (
                    mine is None or versions.get(channel, 0) > mine.get(channel, 0)):
                out.append(name)
                break
    return out


# -- the routes a graph declares -------------------------------------------------------------------


def branch_routes(branch: Branch) -> dict[Any, str] | None:
    """Where a conditional edge may go (``{label: target}``): its path map or its
    ``Literal`` return annotation; None when it declares neither."""
    if branch.path_map is not None:
        return dict(branch.path_map)
    return literal_ends(branch.path)


def node_routes(spec: NodeSpec) -> list[tuple[str | None, str]]:
    """Where a node's ``Command``s may go, ``(label, target)``: ``destinations=`` (a
    label only where one was given) or ``Command[Literal[...]]``."""
    if spec.destinations:
        return [(None if label == target else str(label), target) for label, target in spec.destinations.items()]
    return [(None, target) for target in literal_ends(spec.fn, command=True) or {}]


def literal_ends(fn: Any, *, command: bool = False) -> dict[Any, str] | None:
    """The names a function's return annotation lists: ``Literal["a", "b"]`` (with
    ``command``: ``Command[Literal["a", "b"]]``, also inside a union)."""
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(fn):
        fn = type(fn).__call__  # a callable object: its class's __call__ is annotated
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: nothing declared
        return None
    if hint is None:
        return None
    found: dict[Any, str] = {}
    for option in _options(hint):
        if command:
            if typing.get_origin(option) is not Command:
                continue
            args = typing.get_args(option)
            option = args[0] if args else None
        if typing.get_origin(option) is typing.Literal:
            found.update({name: name for name in typing.get_args(option) if isinstance(name, str)})
    return found or None


def _options(hint: Any) -> Iterator[Any]:
    import types

    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        yield from typing.get_args(hint)
    else:
        yield hint
