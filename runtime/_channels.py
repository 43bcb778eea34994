"""State schemas -> channels: a reducer per key, or last-value. Pure logic, no I/O."""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import inspect
import operator
import types
import typing
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidUpdateError
from ._types import OVERWRITE, Overwrite, is_overwrite
from .channels import MISSING, BaseChannel, BinaryOperatorAggregate, LastValue, UntrackedValue
from .managed import STEP, is_managed_value


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    reducer: Callable[[Any, Any], Any] | None = None
    initial: Callable[[], Any] | None = None  # the empty value a reducer starts from
    spec: Any = None  # a Pregel graph's channel (``channels.BaseChannel``): it decides


def _unrequired(hint: Any) -> Any:
    """``hint`` without ``Required[...]``/``NotRequired[...]`` around it."""
    while typing.get_origin(hint) in (typing.Required, typing.NotRequired):
        hint = typing.get_args(hint)[0]
    return hint


def _reducer_of(hint: Any) -> Callable[[Any, Any], Any] | None:
    hint = _unrequired(hint)
    if typing.get_origin(hint) is typing.Annotated:
        return _checked_reducer(hint.__metadata__)
    return None


#: the operator functions reducers usually are, each ``(a, b, /)``: taken without
#: ``inspect.signature``, which reads a builtin's signature with ``tokenize`` (whose first
#: use compiles its patterns: ~5 ms of a process that compiles one graph)
_TWO_ARGUMENT_BUILTINS = frozenset({
    operator.add, operator.and_, operator.concat, operator.iadd, operator.iand,
    operator.iconcat, operator.ior, operator.mul, operator.or_, operator.sub,
})


def _checked_reducer(metadata: Any) -> Callable[[Any, Any], Any] | None:
    """The last callable of a key's annotation metadata: its reducer. ValueError when it
    does not take two positional arguments (the value so far and the update).
    NotImplementedError for a channel class (``Annotated[str, EphemeralValue]``): a
    StateGraph's keys are reducers or plain."""
    for meta in metadata:
        if _untracked_in([meta]) is not None:
            return None  # (an untracked key: ``_untracked_in`` makes its channel)
        if isinstance(meta, BaseChannel) or (isinstance(meta, type) and issubclass(meta, BaseChannel)):
            name = meta.__name__ if isinstance(meta, type) else type(meta).__name__
            raise NotImplementedError(
                f"a {name} channel in a StateGraph state schema is not implemented in lograph "
                "yet: annotate the key with a reducer (Annotated[type, reducer]), or build a Pregel graph")
    reducer = next((m for m in reversed(metadata) if callable(m)), None)
    if reducer is None:
        return None
    if type(reducer) is types.BuiltinFunctionType and reducer in _TWO_ARGUMENT_BUILTINS:
        return typing.cast(Callable[[Any, Any], Any], reducer)
    try:
        sig = inspect.signature(reducer)
    except (TypeError, ValueError):  # no signature to read (a builtin): taken as it is
        return typing.cast(Callable[[Any, Any], Any], reducer)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if sum(p.kind in positional for p in sig.parameters.values()) != 2:
        raise ValueError(f"Invalid reducer signature. Expected (a, b) -> c. Got {sig}: "
                         f"a reducer takes the value so far and the update")
    return typing.cast(Callable[[Any, Any], Any], reducer)


def _untracked_in(metadata: Any) -> UntrackedValue[Any] | None:
    """An ``UntrackedValue`` among a key's annotations (the class, or an instance)."""
    for meta in metadata:
        if isinstance(meta, UntrackedValue):
            return meta
        if meta is UntrackedValue:
            return UntrackedValue(Any)
    return None


def _channel(name: str, hint: Any, metadata: Any, reducer: Callable[[Any, Any], Any] | None) -> Channel:
    untracked = _untracked_in(metadata)
    if untracked is not None:  # kept by the run in memory only, never in the log
        untracked.key = name
        return Channel(name, spec=untracked)
    return Channel(name, reducer, _initial_of(hint) if reducer else None)


def _initial_of(hint: Any) -> Callable[[], Any] | None:
    hint = _unrequired(hint)
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    factory = typing.get_origin(base) or base
    factory = _CONCRETE.get(factory, factory)  # (an abstract collection starts as LangGraph's does)
    if isinstance(factory, type):
        try:
            factory()
        except Exception:  # noqa: BLE001 - no empty value: the first write is taken as is
            return None
        return factory
    return None


_CONCRETE: dict[Any, type] = {
    collections.abc.Sequence: list, collections.abc.MutableSequence: list,
    collections.abc.Set: set, collections.abc.MutableSet: set,
    collections.abc.Mapping: dict, collections.abc.MutableMapping: dict,
}


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and hasattr(schema, "model_fields") and hasattr(schema, "model_validate")


ROOT = "__root__"
"""The one channel of a state schema that has no keys (``StateGraph(int)``,
``StateGraph(Annotated[list, operator.add])``): the state is its value, as LangGraph's."""


def is_root(schema: Any) -> bool:
    """A state schema without keys (no annotations): one ``__root__`` channel."""
    return not hasattr(schema, "__annotations__") and not _is_pydantic(schema)


def _managed(hint: Any) -> type | None:
    """The managed value a key's annotation names (``RemainingSteps``), if any."""
    meta = getattr(hint, "__metadata__", None)
    if meta:
        last = typing.get_origin(meta[-1]) or meta[-1]
        if is_managed_value(last):
            return typing.cast(type, last)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Required, typing.NotRequired) and args:
        return _managed(args[0])
    return None


#: a class's resolved annotations, read once: a graph's build reads its schemas' several
#: times, and ``get_type_hints`` evaluates string annotations anew on every call
_HINTS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def hints_of(schema: Any) -> dict[str, Any]:
    if _is_pydantic(schema):
        return {name: info.annotation for name, info in schema.model_fields.items()}
    try:
        found = _HINTS.get(schema)
    except TypeError:  # (not weakly referable: not kept)
        found = None
    if found is None:
        try:
            found = typing.get_type_hints(schema, include_extras=True)
        except Exception as e:  # an unresolvable annotation: say which schema
            raise TypeError(f"cannot read the annotations of state schema {schema!r}: {e}") from e
        with contextlib.suppress(TypeError):
            _HINTS[schema] = found
    return dict(found)


def managed_of(schema: Any) -> dict[str, type]:
    """The managed keys of a state schema, by name."""
    if is_root(schema):
        return {}
    if _is_pydantic(schema):
        out = {}
        for name, info in schema.model_fields.items():
            found = next((m for m in reversed(info.metadata) if is_managed_value(m)), None)
            if found is not None:
                out[name] = found
        return out
    return {k: m for k, hint in hints_of(schema).items() if (m := _managed(hint)) is not None}


def channels_of(schema: Any) -> dict[str, Channel]:
    """The channels of a TypedDict, dataclass or pydantic v2 model state schema (its
    managed keys are not channels); ``__root__`` alone for a schema without keys."""
    if is_root(schema):
        return {ROOT: Channel(ROOT, _reducer_of(schema), _initial_of(schema) if _reducer_of(schema) else None)}
    managed = managed_of(schema)
    if _is_pydantic(schema):
        out: dict[str, Channel] = {}
        for name, info in schema.model_fields.items():
            if name in managed:
                continue
            out[name] = _channel(name, info.annotation, info.metadata, _checked_reducer(info.metadata))
        return out
    hints = hints_of(schema)
    if not hints:
        raise TypeError(
            f"state schema {schema!r} declares no keys; use a TypedDict, dataclass or pydantic model"
        )
    out = {}
    for name, hint in hints.items():
        if name in managed or name == "__slots__":
            continue
        unwrapped = _unrequired(hint)
        metadata = unwrapped.__metadata__ if typing.get_origin(unwrapped) is typing.Annotated else ()
        out[name] = _channel(name, hint, metadata, _reducer_of(hint))
    return out


def _kind(schema: Any) -> str:
    if is_root(schema):
        return "root"
    return "pydantic" if _is_pydantic(schema) else "dataclass" if dataclasses.is_dataclass(schema) else "dict"


def _object_updates(output: Any, keys: Any) -> list[tuple[str, Any]]:
    """An object's writes, as LangGraph reads them: each state key it has as an
    attribute; a pydantic model's None is left out unless the field's default is not
    None or the field was set."""
    if _is_pydantic(type(output)):
        keep: Any = output.model_fields_set
        defaults = {k: f.default for k, f in type(output).model_fields.items()}
    else:
        keep, defaults = None, {}
    out = []
    for key in keys:
        value = getattr(output, key, _MISSING)
        if value is _MISSING:
            continue
        if value is not None or defaults.get(key, _MISSING) is not None or (keep is not None and key in keep):
            out.append((key, value))
    return out


class StateCodec:
    """Converts between channel values (a dict) and what nodes see (the schema's type)."""

    #: The one channel that is the graph's output (an ``@entrypoint``'s return value);
    #: None: the whole state is. Users see, stream and get this, never the other channels.
    output_key: str | None = None
    #: The keys ``invoke`` returns (a graph's ``output_schema``); None: every key.
    returns: tuple[str, ...] | None = None
    #: The keys an input writes (its ``input_schema``'s, else the state schema's): as in
    #: LangGraph, an input's other channels (a node's private keys) are not written.
    #: None: every channel.
    inputs: frozenset[str] | None = None

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.channels = channels_of(schema)
        self.managed = managed_of(schema)
        self.kind = _kind(schema)
        if self.kind == "root":
            self.output_key = ROOT  # users see, stream and get the root's value
        self._initial = {c.name: c.initial for c in self.channels.values() if c.initial is not None}
        # the keys a run keeps in memory only (``UntrackedValue``): never written to the log
        self.untracked = frozenset(c.name for c in self.channels.values()
                                   if c.spec is not None and not c.spec.tracked)
        # the keys (and managed keys) a node reading ``schema`` sees, by the schema it reads
        self._readers: dict[Any, tuple[str, tuple[str, ...] | None, dict[str, type]]] = {
            schema: (self.kind, None, self.managed)}

    def add_schema(self, schema: Any, *, managed: bool = True, strict: bool = True) -> None:
        """Make the keys of another schema (an input, output or node input schema)
        channels too, as LangGraph does. ValueError when a key is already a channel with
        another reducer (unless not ``strict``: a schema inferred from a node's
        annotation, where the channel that exists wins), or (``managed`` False) for a
        managed key."""
        if schema in self._readers or schema is None:
            return
        kind = _kind(schema)
        channels = channels_of(schema)
        keys = managed_of(schema)
        if keys and not managed:
            raise ValueError(f"Invalid managed channels detected in {getattr(schema, '__name__', schema)}: "
                             f"{', '.join(keys)}. Managed channels are not permitted in Input/Output schema.")
        for key, channel in channels.items():
            known = self.channels.get(key)
            if known is None:
                self.channels[key] = channel
                if channel.initial is not None:
                    self._initial[key] = channel.initial
            elif strict and channel.reducer is not None and known.reducer is not channel.reducer:
                raise ValueError(f"Channel {key!r} already exists with a different type")
        self.managed = {**self.managed, **keys}
        self.untracked = frozenset(c.name for c in self.channels.values()
                                   if c.spec is not None and not c.spec.tracked)
        if self.returns is None and self.kind != "root":  # invoke returns the state schema's keys
            self.returns = tuple(channels_of(self.schema))
        own = self._readers[self.schema]
        self._readers[self.schema] = (own[0], own[1] or tuple(k for k in channels_of(self.schema)), own[2])
        self._readers[schema] = (kind, tuple(channels), keys)

    def schemas(self) -> list[Any]:
        """The schemas whose keys are channels: the state's first, then the others in the
        order they were added."""
        return list(self._readers)

    def visible(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values as users see them: reducer keys never written hold their empty value."""
        if len(values) >= len(self.channels) or not self._initial:
            return dict(values)
        initial = self._initial
        out = {}
        for k in self.channels:  # in the channels' order, as LangGraph reads them
            if k in values:
                out[k] = values[k]
            elif k in initial:
                out[k] = initial[k]()
        if len(out) < len(values):
            out.update(values)
        return out

    def output(self, values: dict[str, Any]) -> Any:
        """What users see of ``values``: the state, or the output channel's value."""
        key = self.output_key
        if key is None:
            return self.visible(values)
        if key in values or key not in self._initial:
            return values.get(key)
        return self._initial[key]()  # a reducer's empty value, as LangGraph reads it

    def output_of(self, update: Any) -> Any:
        """What users see of a node's update (in the ``updates`` stream)."""
        if self.output_key is None:
            return update
        if isinstance(update, list):  # several updates (a list of Commands): each shown
            return [self.output_of(u) for u in update]
        return update.get(self.output_key) if isinstance(update, dict) else update

    def shows(self, changed: dict[str, Any]) -> bool:
        """Whether a step that changed the channels ``changed`` changed what users see
        (as LangGraph, the ``values`` stream has a chunk only for such a step)."""
        return bool(changed) if self.output_key is None else self.output_key in changed

    def to_node(self, values: dict[str, Any], schema: Any = None) -> Any:
        """The state as a node reading ``schema`` (default: the state schema) gets it:
        that schema's keys, its managed values computed, as that schema's type."""
        values = self.visible(values)
        kind, keys, managed = self._readers[self.schema if schema is None else schema]
        if kind == "root":
            return values.get(ROOT)
        if keys is not None:  # other schemas added channels this reader does not see
            values = {k: values[k] for k in keys if k in values}
        if managed:
            step, stop = STEP.get()
            values.update({k: m.get(step, stop) for k, m in managed.items()})  # type: ignore[attr-defined]
        schema = self.schema if schema is None else schema
        if kind == "dict":
            return values
        if kind == "pydantic":
            # as LangGraph: a node gets the state through the model (validators run,
            # "7" becomes 7 for an int), while the channels keep what was written
            return schema.model_validate(values)
        return schema(**values)

    def updates(self, output: Any, node: str) -> list[tuple[str, Any]]:
        """A node's return value as ``(channel, value)`` writes, in key order."""
        if output is None:
            return []
        if self.kind == "root":
            items = [(ROOT, output)]
        elif isinstance(output, dict):
            items = list(output.items())
            if self.managed and any(k in self.managed for k, _ in items):
                items = [(k, v) for k, v in items if k not in self.managed]  # computed, not written
        elif hasattr(type(output), "__annotations__") and not isinstance(output, type):
            items = _object_updates(output, self.channels)  # a model, dataclass, annotated class
        else:
            raise InvalidUpdateError(
                f"{_who(node)} {'is' if node == '__start__' else 'returned'} a {type(output).__name__}; "
                "it must be a dict of state keys, a Command, or None"
            )
        if node == "__start__" and self.inputs is not None:  # (keys no schema has: refused below)
            items = [(k, v) for k, v in items if k in self.inputs or k not in self.channels]
        overwrites = False
        for key, value in items:
            if key not in self.channels:
                raise InvalidUpdateError(
                    f"{_who(node)} wrote key {key!r}, which is not in the state schema "
                    f"(keys: {sorted(self.channels)})"
                )
            overwrites = overwrites or type(value) is Overwrite
        if overwrites:  # stored in its plain spelling
            items = [(k, {OVERWRITE: v.value} if type(v) is Overwrite else v) for k, v in items]
        return items


def _who(node: str) -> str:
    return "the input" if node == "__start__" else f"node {node!r}"


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
        if channel.spec is not None:
            spec = channel.spec.from_checkpoint(values.get(key, MISSING))
            spec.update(items)
            if (form := spec.checkpoint()) is not MISSING:
                out[key] = form
            elif not spec.tracked:  # a router reading the task's state sees it
                out[key] = spec.get()
            continue
        replaced = [v for v in items if is_overwrite(v)]
        if len(replaced) > 1:
            raise InvalidUpdateError(
                f"At key {key!r}: Can receive only one Overwrite value per super-step. "
                f"(it received {len(replaced)})"
            )
        if replaced:  # the value is set; the key's other writes of the step are dropped
            out[key] = replaced[0][OVERWRITE]
        elif channel.reducer is None:
            if len(items) > 1:
                raise InvalidUpdateError(
                    f"At key {key!r}: Can receive only one value per step. Use an Annotated key "
                    f"to handle multiple values: it received {len(items)} and has no reducer; give "
                    "it one with Annotated[type, reducer], or write it from one node"
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


def channel_views(state: Any) -> dict[str, BaseChannel[Any]]:
    """A state's channels as LangGraph's channel objects (what ``graph.channels`` shows):
    a Pregel graph's own; a schema key with a reducer ``BinaryOperatorAggregate``,
    another ``LastValue``."""
    out: dict[str, BaseChannel[Any]] = {}
    for name, channel in state.channels.items():
        if channel.spec is not None:
            view = channel.spec
        elif channel.reducer is not None:
            view = BinaryOperatorAggregate(Any, channel.reducer)
        else:
            view = LastValue(Any)
        view.key = name
        out[name] = view
    return out
