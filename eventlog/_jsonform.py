"""The JSON form of events and stored values: for export, ``lograph log --json`` and tools.

Rules:
- An event's JSON object carries every header field, ``hash`` as hex, the body as a
  readable JSON value (``body``) and the exact stored bytes (``raw``, base64), so
  :func:`event_from_json` rebuilds an :class:`Event` equal to the stored one.
- ``body`` is made without building any class the data names (the lenient decode):
  it is the same in every process, whether or not the program's modules are imported.
- Values JSON cannot hold are tagged objects with one key starting with ``$``
  (``{"$tuple": [...]}``, ``{"$dataclass": "module:Class", "fields": {...}}``); a dict
  whose keys are not all strings, or that has a key starting with ``$``, becomes
  ``{"$map": [[key, value], ...]}``, so a tag is never ambiguous.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Any
from uuid import UUID

from . import _codec as codec
from ._errors import DecodeError
from ._event import Event

__all__ = ["Opaque", "decode_lenient", "event_from_json", "event_to_json", "to_json"]

_HEADER = ("seq", "parent", "kind", "run_id", "step", "task_id", "ns", "ts")


@dataclasses.dataclass(eq=False, slots=True)
class Opaque:
    """A stored value of a class this process does not build: its tag, class and data.

    ``kind`` is ``"dataclass"``, ``"model"``, ``"enum"``, ``"subclass"`` or
    ``"defaultdict"``; ``name`` is the stored class name (``"module:qualname"``).
    """

    kind: str
    name: str | None
    data: Any

    def __repr__(self) -> str:
        short = (self.name or "").rpartition(":")[2] or self.kind
        if self.kind == "enum":
            return f"{short}.{self.data}"
        if self.kind in ("dataclass", "model") and isinstance(self.data, dict):
            inner = ", ".join(f"{k}={v!r}" for k, v in self.data.items())
            return f"{short}({inner})"
        return f"{short}({self.data!r})"


def _opaque(tag: int, value: Any, _immutable: bool) -> Opaque:
    if tag == codec.TAG_ENUM:
        return Opaque("enum", value[0], value[1])
    if tag == codec.TAG_DATACLASS:
        return Opaque("dataclass", value[0], dict(value[1]))
    if tag == codec.TAG_MODEL:
        fields = dict(value[1])
        if value[2]:
            fields.update(value[2])
        return Opaque("model", value[0], fields)
    if tag == codec.TAG_SUBCLASS:
        return Opaque("subclass", value[0], value[1])
    return Opaque("defaultdict", value[0], dict(value[1]))  # TAG_DEFAULTDICT


_CLASS_TAGS = (codec.TAG_ENUM, codec.TAG_DATACLASS, codec.TAG_MODEL, codec.TAG_SUBCLASS,
               codec.TAG_DEFAULTDICT)
_LENIENT: dict[int, Callable[[Any, bool], Any]] = {**codec._DECODERS, **{tag: partial(_opaque, tag) for tag in _CLASS_TAGS}}


def decode_lenient(data: bytes) -> Any:
    """Decode like :func:`~lograph.eventlog.decode`, but never look a class up.

    Builtin types are rebuilt exactly; a dataclass, model, enum member or registered
    subclass comes back as an :class:`Opaque` holding its class name and data. Raises
    DecodeError only for bytes that are not a value ``encode`` writes.
    """
    return codec.decode_with(data, _LENIENT)


def decode_readable(data: bytes) -> tuple[Any, bool]:
    """``(value, exact)``: ``data`` decoded, or decoded leniently (``exact`` False) when it
    names a class this process has not imported. DecodeError for corrupt bytes."""
    try:
        return codec.decode(data), True
    except DecodeError:
        return decode_lenient(data), False


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


TOO_DEEP = {"$too_deep": "nested deeper than Python can show (a damaged or hostile row)"}


def to_json(value: Any) -> Any:
    """A JSON-safe form of ``value`` (see the module rules); never fails (a value nested
    past Python's recursion limit, which lograph never writes, is shown as ``TOO_DEEP``)."""
    try:
        return _to_json(value)
    except RecursionError:
        return dict(TOO_DEEP)


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) is list:
        return [_to_json(v) for v in value]
    if type(value) is dict:
        return _dict_json(value)
    return _tagged(value)


def _dict_json(value: dict[Any, Any]) -> Any:
    if all(isinstance(k, str) and not k.startswith("$") for k in value):
        return {k: to_json(v) for k, v in value.items()}
    return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}


def _sorted_items(items: Any) -> list[Any]:
    out = [to_json(v) for v in items]
    return sorted(out, key=repr)


def _tagged(value: Any) -> Any:
    if type(value) is tuple:  # (a named tuple is an object: shown by its repr below)
        return {"$tuple": [to_json(v) for v in value]}
    for types, tag in _TAGS:
        if isinstance(value, types):
            return tag(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dataclass": _name(type(value)), "fields": fields}
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict):
        return {"$model": _name(type(value)),
                "fields": {k: to_json(getattr(value, k, None)) for k in model_fields}}
    return {"$repr": repr(value), "type": _name(type(value))}


def _lower_name(value: Any) -> str:
    return f"${type(value).__name__.lower()}"


def _opaque_json(value: Opaque) -> Any:
    if value.kind == "enum":
        return {"$enum": value.name, "member": to_json(value.data)}
    if value.kind in ("dataclass", "model"):
        return {f"${value.kind}": value.name, "fields": to_json(value.data)}
    if value.kind == "defaultdict":
        return {"$defaultdict": to_json(value.data), "factory": value.name}
    return {"$subclass": value.name, "value": to_json(value.data)}


# The tagged form of each type JSON cannot hold, tried in order (the first match wins).
_TAGS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (Opaque, _opaque_json),
    (frozenset, lambda v: {"$frozenset": _sorted_items(v)}),
    (set, lambda v: {"$set": _sorted_items(v)}),
    (bytes, lambda v: {"$bytes": _b64(v)}),
    (bytearray, lambda v: {"$bytearray": _b64(v)}),
    ((datetime, date, time), lambda v: {f"${type(v).__name__}": v.isoformat()}),
    (timedelta, lambda v: {"$timedelta": v.total_seconds()}),
    (tzinfo, lambda v: {"$tzinfo": str(v)}),
    ((Decimal, UUID, Fraction), lambda v: {_lower_name(v): str(v)}),
    (complex, lambda v: {"$complex": [to_json(v.real), to_json(v.imag)]}),
    (range, lambda v: {"$range": [v.start, v.stop, v.step]}),
    ((Counter, OrderedDict, defaultdict), lambda v: {_lower_name(v): to_json(dict(v))}),
    (deque, lambda v: {"$deque": [to_json(x) for x in v], "maxlen": v.maxlen}),
    (enum.Enum, lambda v: {"$enum": _name(type(v)), "member": v.name}),
)


def body_json(data: bytes) -> Any:
    """The JSON form of a stored body, or ``{"$undecodable": reason}``."""
    try:
        return to_json(decode_lenient(data))
    except DecodeError as e:
        return {"$undecodable": str(e)}


def event_to_json(event: Event, thread: str | None = None) -> dict[str, Any]:
    """One event as a JSON object (see the module rules); ``thread`` is added if given."""
    out: dict[str, Any] = {} if thread is None else {"thread": thread}
    for name in _HEADER:
        out[name] = getattr(event, name)
    out["hash"] = event.hash.hex()
    out["body"] = body_json(event.body)
    out["raw"] = _b64(event.body)
    return out


def event_from_json(data: dict[str, Any]) -> Event:
    """The :class:`Event` an :func:`event_to_json` object describes (from ``raw``, not ``body``).

    Raises ValueError naming the field that is missing or malformed.
    """
    try:
        return Event(
            seq=int(data["seq"]), parent=int(data["parent"]), kind=str(data["kind"]),
            run_id=str(data["run_id"]), step=int(data["step"]), task_id=str(data["task_id"]),
            ns=str(data["ns"]), ts=float(data["ts"]),
            body=base64.b64decode(data["raw"], validate=True), hash=bytes.fromhex(data["hash"]),
        )
    except KeyError as e:
        raise ValueError(f"an event's JSON object has no {e.args[0]!r} field") from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"an event's JSON object is malformed: {e}") from None
