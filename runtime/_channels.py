"""State schemas -> channels: a reducer per key, or last-value. Pure logic, no I/O."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidUpdateError
from ._types import OVERWRITE, Overwrite, is_overwrite


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    reducer: Callable[[Any, Any], Any] | None = None
    initial: Callable[[], Any] | None = None  # the empty value a reducer starts from


def _reducer_of(hint: Any) -> Callable[[Any, Any], Any] | None:
    if typing.get_origin(hint) is typing.Annotated:
        for meta in reversed(hint.__metadata__):
            if callable(meta):
                return typing.cast(Callable[[Any, Any], Any], meta)
    return None


def _initial_of(hint: Any) -> Callable[[], Any] | None:
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    factory = typing.get_origin(base) or base
    if isinstance(factory, type):
        try:
            factory()
        except Exception:  # noqa: BLE001 - no empty value: the first write is taken as is
            return None
        return factory
    return None


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and hasattr(schema, "model_fields") and hasattr(schema, "model_validate")


def channels_of(schema: Any) -> dict[str, Channel]:
    """The channels of a TypedDict, dataclass or pydantic v2 model state schema."""
    if _is_pydantic(schema):
        out: dict[str, Channel] = {}
        for name, info in schema.model_fields.items():
            reducer = next((m for m in reversed(info.metadata) if callable(m)), None)
            out[name] = Channel(name, reducer, _initial_of(info.annotation) if reducer else None)
        return out
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception as e:  # an unresolvable annotation: say which schema
        raise TypeError(f"cannot read the annotations of state schema {schema!r}: {e}") from e
    if not hints:
        raise TypeError(
            f"state schema {schema!r} declares no keys; use a TypedDict, dataclass or pydantic model"
        )
    out = {}
    for name, hint in hints.items():
        reducer = _reducer_of(hint)
        out[name] = Channel(name, reducer, _initial_of(hint) if reducer else None)
    return out


class StateCodec:
    """Converts between channel values (a dict) and what nodes see (the schema's type)."""

    #: The one channel that is the graph's output (an ``@entrypoint``'s return value);
    #: None: the whole state is. Users see, stream and get this, never the other channels.
    output_key: str | None = None
    #: The keys ``invoke`` returns (a graph's ``output_schema``); None: every key.
    returns: tuple[str, ...] | None = None

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.channels = channels_of(schema)
        self.kind = (
            "pydantic" if _is_pydantic(schema)
            else "dataclass" if dataclasses.is_dataclass(schema)
            else "dict"
        )

        self._initial = {c.name: c.initial for c in self.channels.values() if c.initial is not None}

    def visible(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values as users see them: reducer keys never written hold their empty value."""
        if len(values) >= len(self.channels) or not self._initial:
            return dict(values)
        out = {k: f() for k, f in self._initial.items() if k not in values}
        out.update(values)
        return out

    def output(self, values: dict[str, Any]) -> Any:
        """What users see of ``values``: the state, or the output channel's value."""
        if self.output_key is None:
            return self.visible(values)
        return values.get(self.output_key)

    def output_of(self, update: Any) -> Any:
        """What users see of a node's update (in the ``updates`` stream)."""
        if self.output_key is None or not isinstance(update, dict):
            return update
        return update.get(self.output_key)

    def shows(self, changed: dict[str, Any]) -> bool:
        """Whether a step that changed the channels ``changed`` changed what users see
        (as LangGraph, the ``values`` stream has a chunk only for such a step)."""
        return bool(changed) if self.output_key is None else self.output_key in changed

    def to_node(self, values: dict[str, Any]) -> Any:
        values = self.visible(values)
        if self.kind == "dict":
            return values
        if self.kind == "pydantic":
            # as LangGraph: a node gets the state through the model (validators run,
            # "7" becomes 7 for an int), while the channels keep what was written
            return self.schema.model_validate(values)
        return self.schema(**values)

    def updates(self, output: Any, node: str) -> list[tuple[str, Any]]:
        """A node's return value as ``(channel, value)`` writes, in key order."""
        who = "the input" if node == "__start__" else f"node {node!r}"
        if output is None:
            return []
        if isinstance(output, dict):
            items = list(output.items())
        elif self.kind == "pydantic" and isinstance(output, self.schema):
            items = [(k, getattr(output, k)) for k in output.model_fields_set or self.channels]
        elif self.kind == "dataclass" and isinstance(output, self.schema):
            items = [(f.name, getattr(output, f.name)) for f in dataclasses.fields(output)]
        elif _is_pydantic(type(output)):
            items = [(k, getattr(output, k)) for k in output.model_fields_set]
        else:
            raise InvalidUpdateError(
                f"{who} {'is' if node == '__start__' else 'returned'} a {type(output).__name__}; "
                "it must be a dict of state keys, a Command, or None"
            )
        overwrites = False
        for key, value in items:
            if key not in self.channels:
                raise InvalidUpdateError(
                    f"{who} wrote key {key!r}, which is not in the state schema "
                    f"(keys: {sorted(self.channels)})"
                )
            overwrites = overwrites or type(value) is Overwrite
        if overwrites:  # stored in its plain spelling
            items = [(k, {OVERWRITE: v.value} if type(v) is Overwrite else v) for k, v in items]
        return items


def reduce_writes(
    channels: dict[str, Channel], values: dict[str, Any], writes: list[tuple[str, Any]]
) -> dict[str, Any]:
    """The new values of the channels ``writes`` touch (writes in task-path order)."""
    grouped: dict[str, list[Any]] = {}
    for key, value in writes:
        grouped.setdefault(key, []).append(value)
    out: dict[str, Any] = {}
    for key, items in grouped.items():
        channel = channels.get(key)
        if channel is None:
            raise InvalidUpdateError(f"write to unknown state key {key!r}")
        replaced = [v for v in items if is_overwrite(v)]
        if len(replaced) > 1:
            raise InvalidUpdateError(
                f"state key {key!r} received {len(replaced)} Overwrite values in one step; it takes one"
            )
        if replaced:  # the value is set; the key's other writes of the step are dropped
            out[key] = replaced[0][OVERWRITE]
        elif channel.reducer is None:
            if len(items) > 1:
                raise InvalidUpdateError(
                    f"state key {key!r} received {len(items)} values in one step and has no "
                    "reducer; give it one with Annotated[type, reducer], or write it from one node"
                )
            out[key] = items[0]
        else:
            current = values.get(key, _MISSING)
            if current is _MISSING and channel.initial is not None:
                current = channel.initial()
            for item in items:
                current = item if current is _MISSING else channel.reducer(current, item)
            out[key] = current
    return out


_MISSING: Any = object()
