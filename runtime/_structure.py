"""A compiled graph's structure: what the engine needs of a graph, immutable once compiled.

A leaf of the runtime's imports: the builder (``_graph``) makes it, the pure step logic
(``_step``, ``_machine``) and the engine read it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ._channels import StateCodec
from ._retry import RetryPolicy
from ._timeout import TimeoutPolicy

__all__ = ["Branch", "Join", "NodeSpec", "Structure"]


@dataclass(slots=True)
class NodeSpec:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    retry: tuple[RetryPolicy, ...] = ()
    subgraph: Any = None  # a CompiledGraph used as a node
    input_schema: Any = None
    defer: bool = False  # runs when nothing else is left to run (add_node(defer=True))
    timeout: TimeoutPolicy | None = None  # limits on each attempt (async nodes only)
    handler: str | None = None  # the node that handles its failure (add_node(error_handler=))
    is_handler: bool = False  # an error handler node (never handled itself)
    cache_policy: Any = None  # a CachePolicy: its writes are cached (compile(cache=...))
    inject: tuple[str, ...] = ()  # the parameters it takes from the run (``_injection.injected``)
    destinations: dict[Any, str] | None = None  # add_node(destinations=): drawn as routes

    @property
    def runnable(self) -> Any:
        """What the node runs, as LangGraph's node spec holds it (``builder.nodes[name]``):
        a compiled graph or a Runnable as given; a function wrapped, its ``func`` the
        function (a callable object: the object)."""
        if self.subgraph is not None:
            return self.subgraph
        given = getattr(self.fn, "runnable", None)
        return given if given is not None else NodeFunction(self.fn)


@dataclass(frozen=True, slots=True)
class NodeFunction:
    """A node's function as ``NodeSpec.runnable`` shows it."""

    func: Callable[..., Any]


@dataclass(slots=True)
class Branch:
    path: Callable[..., Any]
    path_map: dict[Hashable, str] | None
    is_async: bool
    input_schema: Any = None  # what its first parameter is annotated with, if another schema


@dataclass(slots=True)
class Join:
    key: str
    sources: tuple[str, ...]
    target: str


@dataclass(slots=True)
class Structure:
    """What the engine needs of a graph; immutable once compiled."""

    state: StateCodec
    nodes: dict[str, NodeSpec]
    edges: dict[str, list[str]] = field(default_factory=dict)
    joins: list[Join] = field(default_factory=list)
    branches: dict[str, list[Branch]] = field(default_factory=dict)
    deferred: frozenset[str] = frozenset()  # the nodes added with defer=True
    retry: tuple[RetryPolicy, ...] = ()  # for @task calls without their own (an entrypoint's)
    cache: Any = None  # the cache of nodes and tasks with a cache policy (compile(cache=...))
    cache_policy: Any = None  # for @task calls without their own (an entrypoint's)
    step_timeout: float | None = None  # seconds a step's tasks may take (graph.step_timeout)
    # a Pregel graph's: channel -> the nodes it triggers (None: a StateGraph, whose edges
    # decide; its state is then a ``PregelState``, which makes each step's boundary)
    triggers: dict[str, tuple[str, ...]] | None = None
    # the input checkpoint holds the input and plans the nodes after START (an
    # entrypoint's, as LangGraph's: no ``__start__`` step of its own)
    direct_input: bool = False

    def joins_from(self, node: str) -> list[Join]:
        return [j for j in self.joins if node in j.sources]
