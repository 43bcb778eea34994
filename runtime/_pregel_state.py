"""A ``Pregel`` graph's state: its channels, and how a step changes them. Pure, no I/O.

Rules (LangGraph's Pregel step, on lograph's log):
- The log holds each channel's stored form (``BaseChannel.checkpoint()``); a channel
  with nothing to store is absent (a checkpoint's delta says ``del`` when one empties).
- A step boundary applies the step's writes in task-path order: ``consume()`` the
  channels that triggered each node that ran, ``update(writes)`` each channel written,
  then (when nodes ran) ``update([])`` each other channel holding a value (ephemeral
  channels clear), and ``finish()`` every channel once no node is triggered any more.
- The next step runs each node subscribed to a channel that this step updated and that
  holds a value (a node reading one channel: only while it holds one), then the
  ``Send`` packets, as LangGraph plans them.
- The input is written to the input channels by the input checkpoint itself (as
  LangGraph's ``input`` checkpoint holds it); it does not count as a step of nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import GOTO, INPUT, NULL_TASK
from lograph.eventlog.lowlevel import DELETE, SET

from ._channels import Channel
from ._errors import EmptyInputError, InvalidUpdateError
from ._pregel_nodes import PregelNode, read, shown, writes_of
from ._step import Boundary, TaskPlan, path_key, push_entry
from ._types import START, Send
from .channels import MISSING, BaseChannel

Writes = list[list[Any]]


class PregelState:
    """A ``Pregel`` graph's channels as the engine sees a state (the ``StateCodec``
    interface): what nodes read, what they write, what users see."""

    kind = "pregel"
    output_key: str | None = None
    returns: tuple[str, ...] | None = None
    schema: Any = None
    untracked: frozenset[str] = frozenset()  # (UntrackedValue channels are refused for now)

    def __init__(
        self, specs: dict[str, BaseChannel[Any]], nodes: dict[str, PregelNode],
        input_channels: str | Sequence[str], stream_channels: str | Sequence[str],
    ) -> None:
        self.specs = specs
        self.nodes = nodes
        self.channels = {k: Channel(k, spec=spec) for k, spec in specs.items()}
        self.managed: dict[str, type] = {}
        self.input_channels = input_channels
        self.stream_channels = stream_channels
        self._streamed = frozenset([stream_channels] if isinstance(stream_channels, str) else stream_channels)
        self._clears = [k for k, spec in specs.items() if spec.clears]
        self._finishes = [k for k, spec in specs.items() if spec.finishes]
        triggers: dict[str, list[str]] = {}
        for name, node in nodes.items():
            for channel in node.triggers:
                triggers.setdefault(channel, []).append(name)
        self.triggers = {k: tuple(v) for k, v in triggers.items()}

    # -- what users and nodes see ------------------------------------------------------

    def read(self, values: Mapping[str, Any], select: str | Sequence[str]) -> Any:
        """Channels ``select`` as LangGraph's ``read_channels``: one name, its value (None
        when empty); a list, a dict of those holding a value."""
        if isinstance(select, str):
            value = shown(self.specs[select], values.get(select, MISSING))
            return None if value is MISSING else value
        out = {}
        for k in select:
            value = shown(self.specs[k], values.get(k, MISSING))
            if value is not MISSING:
                out[k] = value
        return out

    def visible(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values)

    def output(self, values: dict[str, Any]) -> Any:
        """What the ``values`` stream and ``get_state`` show: the stream channels."""
        return self.read(values, self.stream_channels)

    def output_of(self, update: Any) -> Any:
        return update  # (``streamed`` made it from the node's writes already)

    def streamed(self, writes: Sequence[Sequence[Any]]) -> Any:
        """A node's ``updates`` chunk: its writes to the stream channels (one channel
        named: the value; a channel written twice: a list of one-key dicts)."""
        if isinstance(self.stream_channels, str):
            found = [v for k, v in writes if k == self.stream_channels]
            return found[0] if len(found) == 1 else found or None
        mine = [(k, v) for k, v in writes if k in self._streamed]
        if not mine:
            return None
        keys = [k for k, _ in mine]
        return dict(mine) if len(set(keys)) == len(keys) else [{k: v} for k, v in mine]

    def shows(self, changed: Mapping[str, Any]) -> bool:
        """A step (its delta, or the values a resumed run starts from) changed a stream
        channel that now holds a value (one that emptied is not shown, as LangGraph)."""
        return any(k in changed and changed[k] != [DELETE] for k in self._streamed)

    def to_node(self, values: dict[str, Any], schema: Any = None) -> Any:
        """What node ``schema`` (a ``PregelNode``) is given."""
        if not isinstance(schema, PregelNode):
            raise TypeError("a Pregel graph's nodes read their channels; there is no state schema")
        return read(schema, self.specs, values)

    def updates(self, output: Any, node: str) -> list[tuple[str, Any]]:
        """The writes of ``output``: the input (to the input channels), a node's result
        (through its writers), or a Command's or ``update_state``'s dict of channels."""
        if node == START:
            return self._input(output)
        pregel = self.nodes.get(node)
        if pregel is not None:
            return writes_of(pregel, node, output, self.specs)
        if output is None:
            return []
        if not isinstance(output, dict):
            raise InvalidUpdateError(
                f"{node}: a Pregel graph takes a dict of channels here, got {type(output).__name__}")
        self._known(output, "an update")
        return list(output.items())

    def _input(self, value: Any) -> list[tuple[str, Any]]:
        if value is None:
            return []
        if isinstance(self.input_channels, str):
            return [(self.input_channels, value)]
        if not isinstance(value, dict):
            raise TypeError(f"Expected chunk to be a dict, got {type(value).__name__}")
        unknown = [k for k in value if k not in self.input_channels]
        if unknown:
            raise InvalidUpdateError(
                f"the input has key {unknown[0]!r}, which is not an input channel "
                f"(input channels: {list(self.input_channels)})")
        writes = list(value.items())
        if not writes:
            raise EmptyInputError(f"Received no input for {list(self.input_channels)}")
        return writes

    def _known(self, values: Mapping[str, Any], what: str) -> None:
        for k in values:
            if k not in self.specs:
                raise InvalidUpdateError(
                    f"{what} writes channel {k!r}, which the graph does not have (channels: {sorted(self.specs)})")

    # -- the step ----------------------------------------------------------------------

    def boundary(self, cp: Checkpoint, finished: list[tuple[TaskPlan, Writes]]) -> Boundary:
        """Apply a step's writes to the channels and plan the next step (see the rules)."""
        finished = sorted(finished, key=lambda tw: path_key(tw[0].path))
        values = cp.values
        live: dict[str, BaseChannel[Any]] = {}

        def channel(key: str) -> BaseChannel[Any]:
            c = live.get(key)
            if c is None:
                c = live[key] = self.specs[key].from_checkpoint(values.get(key, MISSING))
            return c

        changed: set[str] = set()
        ran = False  # nodes ran (not only the input, a Command input or an update)
        grouped: dict[str, list[Any]] = {}
        sends: list[Send] = []
        for task, writes in finished:
            node = self.nodes.get(task.name)
            if node is not None and task.id != NULL_TASK:
                ran = True
                if not task.push:
                    for key in node.triggers:
                        if channel(key).consume():
                            changed.add(key)
            for key, value in writes:
                if key == GOTO:
                    sends += [s for s in value if isinstance(s, Send)]
                elif key not in self.specs:
                    raise InvalidUpdateError(f"write to unknown channel {key!r}")
                else:
                    grouped.setdefault(key, []).append(value)
        updated: set[str] = set()
        for key, items in grouped.items():
            c = channel(key)
            if c.update(items):
                changed.add(key)
                if c.is_available():
                    updated.add(key)
        if ran:
            for key in self._clears:
                if key in values and key not in updated and channel(key).update([]):
                    changed.add(key)
                    if live[key].is_available():
                        updated.add(key)
            if updated.isdisjoint(self.triggers):
                for key in self._finishes:
                    if channel(key).finish():
                        changed.add(key)
                        if live[key].is_available():
                            updated.add(key)
        delta: dict[str, list[Any]] = {}
        new = dict(values)
        for key in self.specs:  # (declaration order: the same body on every replay)
            if key in changed:
                form = live[key].checkpoint()
                if form is not MISSING:
                    delta[key], new[key] = [SET, form], form
                elif key in values:
                    delta[key] = [DELETE]
                    del new[key]
        pulls = {n for key in updated for n in self.triggers.get(key, ())}
        nxt: list[dict[str, Any]] = [{"name": n, "path": ["pull", n]} for n in sorted(pulls) if self._reads(n, new)]
        nxt += [push_entry(i, s) for i, s in enumerate(sends)]
        return Boundary(delta, nxt, {}, new)

    def _reads(self, node: str, values: Mapping[str, Any]) -> bool:
        """Node ``node`` has something to read (one channel named: it holds a value)."""
        key = self.nodes[node].channels
        return not isinstance(key, str) or shown(self.specs[key], values.get(key, MISSING)) is not MISSING


def input_task() -> TaskPlan:
    """The task an input's writes are applied as, in the input checkpoint."""
    return TaskPlan(INPUT, START, ())

