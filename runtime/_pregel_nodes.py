"""A ``Pregel`` graph's nodes: what each reads, runs and writes (LangGraph's ``PregelNode``,
``NodeBuilder``, ``ChannelWrite``).

A node is triggered by a step that updated one of its ``triggers`` channels; it reads its
``channels`` (one name: that channel's value; a list: a dict of those holding a value),
passes that through ``mapper``, runs ``bound`` on it, and each of its writers' entries
turns the result into a channel write. The engine runs ``bound`` as any node function
(config, writer, store and runtime injected by parameter; a sync function in a worker
thread: ``_pregel.node_spec_of``); reading and writing are pure functions of the values
and the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, NamedTuple, Self

from ._errors import InvalidUpdateError
from ._retry import RetryPolicy
from ._timeout import TimeoutPolicy
from ._tracing import is_runnable
from .channels import MISSING, BaseChannel

__all__ = ["PASSTHROUGH", "SKIP_WRITE", "ChannelWrite", "ChannelWriteEntry", "NodeBuilder", "PregelNode", "Steps"]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PASSTHROUGH: Any = _Marker("PASSTHROUGH")
"""A write entry's value: the node's result."""
SKIP_WRITE: Any = _Marker("SKIP_WRITE")
"""What a write entry's mapper returns to write nothing."""


class ChannelWriteEntry(NamedTuple):
    """One write of a node: to ``channel``, the node's result (or ``value``), through
    ``mapper``; none when ``skip_none`` and it is None."""

    channel: str
    value: Any = PASSTHROUGH
    skip_none: bool = False
    mapper: Callable[[Any], Any] | None = None


class ChannelWrite:
    """A node's writer: its ``ChannelWriteEntry`` list, applied to the node's result."""

    def __init__(self, writes: Sequence[ChannelWriteEntry], *, tags: Sequence[str] | None = None) -> None:
        for w in writes:
            if not isinstance(w, ChannelWriteEntry):
                raise NotImplementedError(
                    f"ChannelWrite entry {w!r}: lograph's Pregel writes ChannelWriteEntry items "
                    "only (a Send or a ChannelWriteTupleEntry is not implemented yet)")
        if tags:
            raise NotImplementedError("ChannelWrite(tags=...): writer tags are not implemented in lograph")
        self.writes = list(writes)

    def __repr__(self) -> str:
        return f"ChannelWrite<{','.join(w.channel for w in self.writes)}>"


def _identity(value: Any) -> Any:
    return value


class PregelNode:
    """A node of a ``Pregel`` graph (usually made with ``NodeBuilder``)."""

    def __init__(
        self, *, channels: str | list[str], triggers: Sequence[str],
        mapper: Callable[[Any], Any] | None = None, writers: list[Any] | None = None,
        tags: list[str] | None = None, metadata: Mapping[str, Any] | None = None,
        bound: Any = None, retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: Any = None, timeout: float | timedelta | TimeoutPolicy | None = None,
        subgraphs: Sequence[Any] | None = None, trace_policy: Any = None,
        is_error_handler: bool = False, error_handler_node: str | None = None,
    ) -> None:
        _refuse(tags=tags, metadata=metadata, subgraphs=subgraphs, trace_policy=trace_policy,
                is_error_handler=is_error_handler, error_handler_node=error_handler_node)
        for w in writers or ():
            if not isinstance(w, ChannelWrite):
                raise NotImplementedError(
                    f"PregelNode writer {w!r}: lograph's Pregel takes ChannelWrite writers only")
        self.channels = channels
        self.triggers = list(triggers)
        self.mapper = mapper
        self.writers: list[ChannelWrite] = list(writers or ())
        self.bound = bound  # None: the node passes what it reads to its writers
        self.retry_policy: tuple[RetryPolicy, ...] = (
            (retry_policy,) if isinstance(retry_policy, RetryPolicy) else tuple(retry_policy or ()))
        self.cache_policy = cache_policy
        self.timeout = TimeoutPolicy.coerce(timeout)
        self.tags, self.metadata = tags, metadata

    def copy(self, update: dict[str, Any]) -> PregelNode:
        given = {k: getattr(self, k) for k in ("channels", "triggers", "mapper", "writers", "bound",
                                               "retry_policy", "cache_policy", "timeout", "tags", "metadata")}
        return PregelNode(**{**given, **update})

    @property
    def entries(self) -> list[ChannelWriteEntry]:
        return [e for w in self.writers for e in w.writes]

    def __repr__(self) -> str:
        return f"PregelNode(channels={self.channels!r}, triggers={self.triggers!r})"


def read(node: PregelNode, specs: Mapping[str, BaseChannel[Any]], values: Mapping[str, Any]) -> Any:
    """What ``node`` is given from the stored channel ``values`` (MISSING: its one
    channel holds nothing, so it does not run)."""
    if isinstance(node.channels, str):
        value = shown(specs[node.channels], values.get(node.channels, MISSING))
        if value is MISSING:
            return MISSING
    else:
        value = {}
        for name in node.channels:
            item = shown(specs[name], values.get(name, MISSING))
            if item is not MISSING:
                value[name] = item
    return value if node.mapper is None else node.mapper(value)


def shown(spec: BaseChannel[Any], stored: Any) -> Any:
    """A channel's value as readers see it, from its stored form (MISSING: none)."""
    if stored is MISSING:
        channel = spec.from_checkpoint(MISSING)
    else:
        channel = spec.from_checkpoint(stored)
    return channel.get() if channel.is_available() else MISSING


def writes_of(node: PregelNode, name: str, output: Any, specs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``node``'s writes for its result ``output``; InvalidUpdateError for a channel the
    graph does not have (before anything is written)."""
    out: list[tuple[str, Any]] = []
    for entry in node.entries:
        value = output if entry.value is PASSTHROUGH else entry.value
        if entry.mapper is not None:
            value = entry.mapper(value)
        if value is SKIP_WRITE or (entry.skip_none and value is None):
            continue
        if entry.channel not in specs:
            raise InvalidUpdateError(
                f"node {name!r} writes channel {entry.channel!r}, which the graph does not have "
                f"(channels: {sorted(specs)})")
        out.append((entry.channel, value))
    return out


class Steps(list[Any]):
    """The ``do()`` steps of a NodeBuilder (more than one): run in turn."""


class NodeBuilder:
    """Builds a ``PregelNode`` step by step (LangGraph's ``NodeBuilder``)."""

    def __init__(self) -> None:
        self._channels: str | list[str] = []
        self._triggers: list[str] = []
        self._writes: list[ChannelWriteEntry] = []
        self._bound: Any = None
        self._retry: list[RetryPolicy] = []
        self._cache_policy: Any = None
        self._timeout: TimeoutPolicy | None = None

    def subscribe_only(self, channel: str) -> Self:
        """Run on updates of ``channel``, given its value."""
        if self._channels:
            raise ValueError("Cannot subscribe to single channels when other channels are already subscribed to")
        self._channels = channel
        self._triggers.append(channel)
        return self

    def subscribe_to(self, *channels: str, read: bool = True) -> Self:
        """Run on updates of any of ``channels``, given a dict of the channels it reads
        (these too, unless ``read`` is False)."""
        if isinstance(self._channels, str):
            raise ValueError("Cannot subscribe to channels when subscribed to a single channel")
        if read:
            self._channels.extend(channels)
        self._triggers.extend(channels)
        return self

    def read_from(self, *channels: str) -> Self:
        """Read ``channels`` too, without running on their updates."""
        if isinstance(self._channels, str):
            raise ValueError("Cannot read additional channels when subscribed to single channels")
        self._channels.extend(channels)
        return self

    def do(self, node: Any) -> Self:
        """Run ``node`` (a function, a Runnable, a compiled graph) on the result so far."""
        if not callable(node) and not is_runnable(node):
            raise TypeError(f"NodeBuilder.do takes a function, a Runnable or a graph, got {node!r}")
        if self._bound is None:
            self._bound = node
        elif isinstance(self._bound, Steps):
            self._bound.append(node)
        else:
            self._bound = Steps([self._bound, node])
        return self

    def write_to(self, *channels: str | ChannelWriteEntry, **kwargs: Any) -> Self:
        """Write the result to ``channels``; ``name=value`` writes ``value`` (a callable:
        applied to the result) to channel ``name``."""
        self._writes.extend(ChannelWriteEntry(c) if isinstance(c, str) else c for c in channels)
        self._writes.extend(ChannelWriteEntry(k, mapper=v) if callable(v) else ChannelWriteEntry(k, value=v)
                            for k, v in kwargs.items())
        return self

    def meta(self, *tags: str, **metadata: Any) -> Self:
        _refuse(tags=list(tags), metadata=metadata)
        return self

    def add_retry_policies(self, *policies: RetryPolicy) -> Self:
        self._retry.extend(policies)
        return self

    def add_cache_policy(self, policy: Any) -> Self:
        self._cache_policy = policy
        return self

    def set_timeout(self, timeout: float | timedelta | TimeoutPolicy | None) -> Self:
        """Limit each attempt of the node (async nodes only); ValueError for a limit that
        is not above zero."""
        self._timeout = TimeoutPolicy.coerce(timeout)
        return self

    def build(self) -> PregelNode:
        return PregelNode(
            channels=self._channels if isinstance(self._channels, str) else list(self._channels),
            triggers=list(self._triggers), writers=[ChannelWrite(list(self._writes))],
            bound=self._bound, retry_policy=list(self._retry), cache_policy=self._cache_policy,
            timeout=self._timeout,
        )


_NODE_FEATURES = {
    "tags": "node tags (NodeBuilder.meta / PregelNode(tags=...))",
    "metadata": "node metadata (NodeBuilder.meta / PregelNode(metadata=...))",
    "subgraphs": "PregelNode(subgraphs=...)",
    "trace_policy": "PregelNode(trace_policy=...)",
    "is_error_handler": "error handler nodes in a Pregel graph (PregelNode(is_error_handler=...))",
    "error_handler_node": "error handler nodes in a Pregel graph (PregelNode(error_handler_node=...))",
}


def _refuse(**given: Any) -> None:
    for name, value in given.items():
        if value:
            raise NotImplementedError(f"{_NODE_FEATURES[name]} is not implemented in lograph yet; leave it out")
