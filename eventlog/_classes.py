"""User classes in the log: their stored names, how each kind is stored, and how a
stored name is resolved and rebuilt without running code the data picks.

The rules are the codec's (``_codec``, whose docstring lists the tags): a class named in
the data comes from the registry (``register_type``; encoding an enum, dataclass or
model registers its class) or, without importing, from a module already in
``sys.modules`` if it is a dataclass, a pydantic model or an enum. The one import is
``langchain_core.messages``, for the message classes it exports. Dataclasses are rebuilt
without ``__init__`` (their fields are the state), pydantic models as pydantic
unpickles them.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import sys
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any, Final

from cbor2 import CBOREncoder

from ._errors import DecodeError

TAG_ENUM: Final = 6_000_016
TAG_DATACLASS: Final = 6_000_017
TAG_MODEL: Final = 6_000_018
TAG_SUBCLASS: Final = 6_000_019

_LANGCHAIN_MESSAGES: Final = "langchain_core.messages"
_BUILTIN_BASES: Final = (list, tuple, dict, set, frozenset, str, bytes, int, float)

Encode = Callable[[CBOREncoder, Any], None]

_REGISTRY: dict[str, type] = {}


def _class_name(cls: type) -> str:
    module = cls.__module__
    if module.startswith(_LANGCHAIN_MESSAGES + "."):
        public = sys.modules.get(_LANGCHAIN_MESSAGES)
        if public is not None and getattr(public, cls.__qualname__, None) is cls:
            module = _LANGCHAIN_MESSAGES
    return f"{module}:{cls.__qualname__}"


def _register(cls: type) -> str:
    name = _class_name(cls)
    _REGISTRY[name] = cls
    return name


def _is_model(cls: type) -> bool:
    """A pydantic v2 model class; pydantic is never imported here (it is optional)."""
    main = sys.modules.get("pydantic.main")
    return main is not None and issubclass(cls, main.BaseModel)


def _is_dataclass(cls: type) -> bool:
    try:  # not hasattr: a metaclass __getattr__ must not run for a name in the data
        type.__getattribute__(cls, "__dataclass_fields__")
    except AttributeError:
        return False
    return True


def _is_enum(cls: type) -> bool:
    return issubclass(cls, enum.Enum)


def _is_found_by_name(cls: type) -> bool:
    """Kinds that decode may take from an imported module without registration."""
    return _is_enum(cls) or _is_dataclass(cls) or _is_model(cls)


def _registered_base(cls: type) -> type | None:
    if _REGISTRY.get(_class_name(cls)) is not cls:
        return None
    return next((base for base in _BUILTIN_BASES if issubclass(cls, base)), None)


def _enum_encoder(cls: type[enum.Enum]) -> Encode:
    name = _register(cls)
    key = "value" if issubclass(cls, enum.Flag) else "name"

    def encode(enc: CBOREncoder, member: enum.Enum) -> None:
        enc.encode_semantic(TAG_ENUM, [name, getattr(member, key)])

    return encode


def _dataclass_encoder(cls: type) -> Encode:
    name = _register(cls)
    fields = tuple(f.name for f in dataclasses.fields(cls))

    def encode(enc: CBOREncoder, obj: Any) -> None:
        enc.encode_semantic(TAG_DATACLASS, [name, {f: getattr(obj, f) for f in fields}])

    return encode


def _model_encoder(cls: type) -> Encode:
    name = _register(cls)

    def encode(enc: CBOREncoder, model: Any) -> None:
        enc.encode_semantic(TAG_MODEL, [name, *_model_state(model)])

    return encode


def _model_state(model: Any) -> tuple[Any, ...]:
    """What pydantic pickles (``__getstate__``), in a fixed order; RootModel lacks two."""
    return (
        model.__dict__,
        getattr(model, "__pydantic_extra__", None),
        sorted(model.__pydantic_fields_set__),
        getattr(model, "__pydantic_private__", None),
    )


def _subclass_encoder(cls: type, base: type) -> Encode:
    name = _class_name(cls)

    def encode(enc: CBOREncoder, value: Any) -> None:
        enc.encode_semantic(TAG_SUBCLASS, [name, base(value)])

    return encode


def _find_class(name: str) -> object:
    """The object ``name`` designates in an imported module, or None; imports nothing
    but langchain-core's messages, and runs no module ``__getattr__`` or descriptor."""
    module_name, _, qualname = name.partition(":")
    if module_name == _LANGCHAIN_MESSAGES:
        return _langchain_class(qualname)
    obj: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        namespace = vars(obj) if isinstance(obj, (ModuleType, type)) else {}
        obj = namespace.get(part)
    return obj


def _langchain_class(qualname: str) -> object:
    try:
        messages = importlib.import_module(_LANGCHAIN_MESSAGES)
    except ImportError as e:
        raise DecodeError(
            f"stored data holds a langchain-core {qualname}; install langchain-core"
        ) from e
    if qualname not in getattr(messages, "__all__", ()):
        return None
    found = getattr(messages, qualname)
    return found if isinstance(found, type) and _is_model(found) else None


def _resolve(name: str) -> type:
    cls = _REGISTRY.get(name)
    if cls is not None:
        return cls
    found = _find_class(name)
    if isinstance(found, type) and _is_found_by_name(found):
        return found
    raise DecodeError(
        f"stored data names the type {name!r}, which is not registered in this process: "
        "call lograph.eventlog.register_type on it before decoding (dataclasses, pydantic "
        "models and enums are also found once their module is imported)"
    )


def _resolve_kind(name: str, kind: Callable[[type], bool], what: str) -> Any:
    cls = _resolve(name)
    if not kind(cls):
        raise DecodeError(f"stored data names {name!r} as {what}, but it is not one")
    return cls


def _decode_enum(value: Any, _immutable: bool) -> enum.Enum:
    name, key = value
    cls = _resolve_kind(name, _is_enum, "an enum")
    try:
        member: enum.Enum = cls(key) if issubclass(cls, enum.Flag) else cls[key]
        return member
    except (KeyError, ValueError) as e:
        raise DecodeError(f"enum {name!r} has no member {key!r}") from e


def _decode_dataclass(value: Any, _immutable: bool) -> Any:
    name, stored = value
    cls = _resolve_kind(name, _is_dataclass, "a dataclass")
    stored = dict(stored)
    obj = cls.__new__(cls)
    for f in _dataclass_fields(cls):
        found = f.name in stored
        object.__setattr__(obj, f.name, stored.pop(f.name) if found else _default(name, f))
    if stored:
        raise DecodeError(f"stored {name!r} has fields the class does not: {sorted(stored)}")
    return obj


@cache
def _dataclass_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _default(name: str, f: dataclasses.Field[Any]) -> Any:
    """A field missing from data written before it was added to the class."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise DecodeError(f"stored {name!r} lacks the field {f.name!r}, which has no default")


def _decode_model(value: Any, _immutable: bool) -> Any:
    """Rebuilt as pydantic unpickles: no validation, no ``__init__``."""
    name, fields, extra, fields_set, private = value
    cls = _resolve_kind(name, _is_model, "a pydantic model")
    model = cls.__new__(cls)
    model.__setstate__(
        {
            "__dict__": dict(fields),
            "__pydantic_extra__": None if extra is None else dict(extra),
            "__pydantic_fields_set__": set(fields_set),
            "__pydantic_private__": None if private is None else dict(private),
        }
    )
    return model


def _decode_subclass(value: Any, _immutable: bool) -> Any:
    name, base_value = value
    cls: Any = _REGISTRY.get(name)
    if cls is None or _registered_base(cls) is None:
        raise DecodeError(
            f"stored data names the builtin subclass {name!r}, which is not registered: "
            "call lograph.eventlog.register_type on it before decoding"
        )
    is_namedtuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
    return cls._make(base_value) if is_namedtuple else cls(base_value)
