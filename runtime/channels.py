"""Channels (LangGraph's ``langgraph.channels``): what a ``Pregel`` graph's nodes read and write.

A channel class describes how a channel's stored value changes: ``update(values)`` takes
one step's writes (any order) and says whether the channel changed, ``get()`` is what a
reader sees (``EmptyChannelError`` while there is nothing), ``checkpoint()`` is what is
stored (``MISSING``: nothing), and ``from_checkpoint(stored)`` makes a fresh channel from
it. The engine never keeps a channel object between steps: the log holds each channel's
``checkpoint()`` form, and a step boundary rebuilds the channels a step touches from it,
applies the step, and records their new forms. So a resumed or replayed thread sees
exactly what was recorded, and a channel subclass written against LangGraph's API
(``BaseChannel``) works the same way.

Step hooks, called by the boundary in this order: ``consume()`` on the channels a task
that ran was triggered by; ``update(writes)`` on each channel written; ``update([])`` on
each other channel that holds a value, when tasks ran in the step (an ``EphemeralValue``
or a ``Topic`` clears then); ``finish()`` on every channel when no node is triggered any
more (``LastValueAfterFinish`` shows its value then).
"""

from __future__ import annotations

import collections.abc
import typing
from collections.abc import Callable, Sequence
from typing import Any, Generic, Self, TypeVar

from ._errors import EmptyChannelError, InvalidUpdateError
from ._types import OVERWRITE, Overwrite

__all__ = [
    "MISSING",
    "AnyValue",
    "BaseChannel",
    "BinaryOperatorAggregate",
    "EmptyChannelError",
    "EphemeralValue",
    "LastValue",
    "LastValueAfterFinish",
    "NamedBarrierValue",
    "NamedBarrierValueAfterFinish",
    "Topic",
    "UntrackedValue",
]

Value = TypeVar("Value")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What ``checkpoint()`` returns for a channel with nothing to store (and what
``from_checkpoint`` is given for a channel never written)."""


class BaseChannel(Generic[Value]):
    """A channel's behaviour (LangGraph's ``BaseChannel`` API). ``key`` is its name in the
    graph, set when a ``Pregel`` takes it (for error messages)."""

    #: the channel clears itself on ``update([])`` (a step that did not write it): the
    #: boundary skips calling it on channels that never do (a speed hint; True is safe)
    clears = True
    #: ``finish()`` can change it (the boundary skips channels that never do)
    finishes = True
    #: its value goes to the log (False: kept for the run only; ``UntrackedValue``)
    tracked = True

    def __init__(self, typ: Any, key: str = "") -> None:
        self.typ = typ
        self.key = key

    @property
    def ValueType(self) -> Any:  # noqa: N802 - LangGraph's name
        return self.typ

    @property
    def UpdateType(self) -> Any:  # noqa: N802 - LangGraph's name
        return self.typ

    def copy(self) -> Self:
        return self.from_checkpoint(self.checkpoint())

    def checkpoint(self) -> Any:
        try:
            return self.get()
        except EmptyChannelError:
            return MISSING

    def from_checkpoint(self, checkpoint: Any) -> Self:
        raise NotImplementedError

    def get(self) -> Value:
        raise NotImplementedError

    def is_available(self) -> bool:
        try:
            self.get()
        except EmptyChannelError:
            return False
        return True

    def update(self, values: Sequence[Any]) -> bool:
        raise NotImplementedError

    def consume(self) -> bool:
        return False

    def finish(self) -> bool:
        return False

    def _fresh(self) -> Self:
        """A channel like this one with nothing in it (its configuration kept)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self.typ, '__name__', self.typ)!s})"


class _ValueChannel(BaseChannel[Value]):
    """A channel holding one value (``MISSING`` when it has none)."""

    clears = False
    finishes = False

    def __init__(self, typ: Any, key: str = "") -> None:
        super().__init__(typ, key)
        self.value: Any = MISSING

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.key)

    def from_checkpoint(self, checkpoint: Any) -> Self:
        out = self._fresh()
        out.key = self.key
        if checkpoint is not MISSING:
            out.value = checkpoint
        return out

    def get(self) -> Value:
        if self.value is MISSING:
            raise EmptyChannelError(f"channel {self.key!r} is empty")
        return typing.cast(Value, self.value)

    def is_available(self) -> bool:
        return self.value is not MISSING

    def checkpoint(self) -> Any:
        return self.value

    def _clear(self) -> bool:
        """Empty the channel (a step that did not write it); whether it held a value."""
        held = self.value is not MISSING
        self.value = MISSING
        return held


class LastValue(_ValueChannel[Value]):
    """The last value written; at most one write per step."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastValue)

    __hash__ = object.__hash__

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. Use an Annotated "
                "key to handle multiple values.")
        self.value = values[-1]
        return True


class AnyValue(_ValueChannel[Value]):
    """The last value written, several writes in a step taken as equal; cleared by a
    step that does not write it."""

    clears = True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyValue)

    __hash__ = object.__hash__

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return self._clear()
        self.value = values[-1]
        return True


class _Guarded(_ValueChannel[Value]):
    def __init__(self, typ: Any, guard: bool = True) -> None:
        super().__init__(typ)
        self.guard = guard

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.guard)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.guard == self.guard

    __hash__ = object.__hash__

    def _one(self, values: Sequence[Any]) -> None:
        if len(values) != 1 and self.guard:
            raise InvalidUpdateError(
                f"At key '{self.key}': {type(self).__name__}(guard=True) can receive only one "
                "value per step. Use guard=False if you want to store any one of multiple values.")
        self.value = values[-1]


class EphemeralValue(_Guarded[Value]):
    """The value written in the step just before; cleared by the next step that does not
    write it."""

    clears = True

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return self._clear()
        self._one(values)
        return True


class UntrackedValue(_Guarded[Value]):
    """The last value written, never stored: it lives as long as the run that wrote it."""

    tracked = False

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self._one(values)
        return True

    def checkpoint(self) -> Any:
        return MISSING

    def from_checkpoint(self, checkpoint: Any) -> Self:
        out = self._fresh()
        out.key = self.key
        return out


def _flat(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


class Topic(BaseChannel[Sequence[Value]]):
    """Values published in a step, as a list (a list written adds its items); with
    ``accumulate`` they add up over steps, otherwise a step that does not write the topic
    empties it."""

    finishes = False

    def __init__(self, typ: Any, accumulate: bool = False) -> None:
        super().__init__(typ)
        self.accumulate = accumulate
        self.clears = not accumulate
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Topic) and other.accumulate == self.accumulate

    __hash__ = object.__hash__

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.accumulate)

    @property
    def ValueType(self) -> Any:  # noqa: N802
        return Sequence[self.typ]  # type: ignore[name-defined]

    def checkpoint(self) -> Any:
        return list(self.values) if self.values else MISSING

    def from_checkpoint(self, checkpoint: Any) -> Self:
        out = self._fresh()
        out.key = self.key
        if checkpoint is not MISSING:
            out.values = list(checkpoint)
        return out

    def update(self, values: Sequence[Any]) -> bool:
        updated = False
        if not self.accumulate:
            updated = bool(self.values)
            self.values = []
        items = _flat(values)
        if items:
            self.values.extend(items)
            updated = True
        return updated

    def get(self) -> Sequence[Value]:
        if not self.values:
            raise EmptyChannelError(f"channel {self.key!r} is empty")
        return list(self.values)

    def is_available(self) -> bool:
        return bool(self.values)


def _empty_of(typ: Any) -> Any:
    """``typ()`` for an aggregate's start (an abstract collection: its concrete type)."""
    base = typ
    while True:
        origin = typing.get_origin(base)
        if origin in (typing.Annotated, typing.Required, typing.NotRequired):
            base = typing.get_args(base)[0]
        elif origin is not None:
            base = origin
        else:
            break
    base = {collections.abc.Sequence: list, collections.abc.MutableSequence: list,
            collections.abc.Set: set, collections.abc.MutableSet: set,
            collections.abc.Mapping: dict, collections.abc.MutableMapping: dict}.get(base, base)
    try:
        return base()
    except Exception:  # noqa: BLE001 - no empty value: the first write starts the aggregate
        return MISSING


def _overwrite(value: Any) -> tuple[bool, Any]:
    if isinstance(value, Overwrite):
        return True, value.value
    if isinstance(value, dict) and len(value) == 1 and OVERWRITE in value:
        return True, value[OVERWRITE]
    return False, None


class BinaryOperatorAggregate(_ValueChannel[Value]):
    """``operator(current, write)`` for each write, from ``typ()`` (or the first write
    when ``typ`` has no empty value); an ``Overwrite`` sets the value instead."""

    def __init__(self, typ: Any, operator: Callable[[Any, Any], Any]) -> None:
        super().__init__(typ)
        self.operator = operator
        self.value = _empty_of(typ)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BinaryOperatorAggregate):
            return False
        lambdas = "<lambda>" in (getattr(self.operator, "__name__", ""), getattr(other.operator, "__name__", ""))
        return lambdas or self.operator is other.operator

    __hash__ = object.__hash__

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.operator)

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        items = list(values)
        if self.value is MISSING:
            self.value = items.pop(0)
        replaced = False
        for item in items:
            is_overwrite, value = _overwrite(item)
            if is_overwrite:
                if replaced:
                    raise InvalidUpdateError(
                        f"At key '{self.key}': Can receive only one Overwrite value per super-step.")
                self.value, replaced = value, True
            elif not replaced:
                self.value = self.operator(self.value, item)
        return True


class LastValueAfterFinish(BaseChannel[Value]):
    """The last value written, shown only once the run would otherwise finish (then
    consumed by the node it triggers)."""

    clears = False

    def __init__(self, typ: Any, key: str = "") -> None:
        super().__init__(typ, key)
        self.value: Any = MISSING
        self.finished = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastValueAfterFinish)

    __hash__ = object.__hash__

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.key)

    def checkpoint(self) -> Any:
        return MISSING if self.value is MISSING else (self.value, self.finished)

    def from_checkpoint(self, checkpoint: Any) -> Self:
        out = self._fresh()
        if checkpoint is not MISSING:
            out.value, out.finished = checkpoint
        return out

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self.finished = False
        self.value = values[-1]
        return True

    def consume(self) -> bool:
        if self.finished:
            self.finished, self.value = False, MISSING
            return True
        return False

    def finish(self) -> bool:
        if not self.finished and self.value is not MISSING:
            self.finished = True
            return True
        return False

    def get(self) -> Value:
        if self.value is MISSING or not self.finished:
            raise EmptyChannelError(f"channel {self.key!r} is empty")
        return typing.cast(Value, self.value)

    def is_available(self) -> bool:
        return self.value is not MISSING and self.finished


class NamedBarrierValue(BaseChannel[Value]):
    """Available (as None) once each of ``names`` was written; consumed by the node it
    triggers."""

    clears = False
    finishes = False
    _after_finish = False

    def __init__(self, typ: Any, names: set[Any]) -> None:
        super().__init__(typ)
        self.names = set(names)
        self.seen: set[Any] = set()
        self.finished = False

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.names == self.names

    __hash__ = object.__hash__

    def _fresh(self) -> Self:
        return type(self)(self.typ, self.names)

    def checkpoint(self) -> Any:
        return (set(self.seen), self.finished) if self._after_finish else set(self.seen)

    def from_checkpoint(self, checkpoint: Any) -> Self:
        out = self._fresh()
        out.key = self.key
        if checkpoint is not MISSING:
            if self._after_finish:
                seen, out.finished = checkpoint
            else:
                seen = checkpoint
            out.seen = set(seen)
        return out

    def update(self, values: Sequence[Any]) -> bool:
        updated = False
        for value in values:
            if value not in self.names:
                raise InvalidUpdateError(f"At key '{self.key}': Value {value} not in {self.names}")
            if value not in self.seen:
                self.seen.add(value)
                updated = True
        return updated

    def _ready(self) -> bool:
        return self.seen == self.names and (self.finished or not self._after_finish)

    def get(self) -> Value:
        if not self._ready():
            raise EmptyChannelError(f"channel {self.key!r} is empty")
        return typing.cast(Value, None)

    def is_available(self) -> bool:
        return self._ready()

    def consume(self) -> bool:
        if self._ready():
            self.seen, self.finished = set(), False
            return True
        return False


class NamedBarrierValueAfterFinish(NamedBarrierValue[Value]):
    """A ``NamedBarrierValue`` that becomes available only once the run would otherwise
    finish."""

    finishes = True
    _after_finish = True

    def finish(self) -> bool:
        if not self.finished and self.seen == self.names:
            self.finished = True
            return True
        return False
