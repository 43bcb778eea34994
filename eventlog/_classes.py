"""User classes in the log: their stored names, how each kind is stored, and how a
stored name is resolved and rebuilt without running code the data picks.

The rules are the codec's (``_codec``, whose docstring lists the tags): a class named in
the data comes from the registry (``register_type``; encoding an enum, dataclass, model
or builtin subclass registers its class) or, without importing, from a module already in
``sys.modules`` if it is a dataclass, a pydantic model, an enum or a plain subclass of
``str``, ``int``, ``dict`` or ``list``. The only imports are langchain-core's public
modules in ``_LANGCHAIN_PUBLIC`` (for the pydantic models each exports in ``__all__``,
and before a lookup in one of their submodules). Dataclasses are rebuilt without
``__init__`` (their fields are the state), pydantic models as pydantic unpickles them,
plain builtin subclasses by their base's ``__new__`` and their instance ``__dict__``.

Legacy names: lograph's own message dataclasses (``lograph.runtime._messages:*``, before
lograph used langchain-core's messages) decode as the langchain-core class of the same
name, built from the stored fields by pydantic's validation (``_LEGACY_MESSAGES``).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import sys
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any, Final, cast

from cbor2 import CBOREncoder

from ._errors import DecodeError

TAG_ENUM: Final = 6_000_016
TAG_DATACLASS: Final = 6_000_017
TAG_MODEL: Final = 6_000_018
TAG_SUBCLASS: Final = 6_000_019

# langchain-core's public modules whose exported pydantic models decode by name
_LANGCHAIN_PUBLIC: Final = ("langchain_core.messages", "langchain_core.documents",
                            "langchain_core.outputs")
_BUILTIN_BASES: Final = (list, tuple, dict, set, frozenset, str, bytes, int, float)
# builtin subclasses stored without registration: rebuilt by the base, no code of theirs
_PLAIN_BASES: Final = (str, int, dict, list)
_HEAPTYPE: Final = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python

# lograph's message dataclasses before langchain-core's: stored name -> langchain-core's
_LEGACY_MESSAGES: Final = {
    f"lograph.runtime._messages:{name}": name
    for name in ("HumanMessage", "AIMessage", "SystemMessage", "ToolMessage", "RemoveMessage")
}

Encode = Callable[[CBOREncoder, Any], None]

_REGISTRY: dict[str, type] = {}


def _class_name(cls: type) -> str:
    module = cls.__module__
    public_name = _langchain_package(module)
    if public_name is not None:
        public = sys.modules.get(public_name)
        if public is not None and getattr(public, cls.__qualname__, None) is cls:
            module = public_name
    return f"{module}:{cls.__qualname__}"


def _langchain_package(module: str) -> str | None:
    """The public langchain-core module ``module`` is inside of, if any."""
    return next((p for p in _LANGCHAIN_PUBLIC if module.startswith(p + ".")), None)


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


def _plain_base(cls: type) -> type | None:
    """``str``, ``int``, ``dict`` or ``list`` if ``cls`` is a subclass of it that its base
    can rebuild exactly: defined in Python down to the base (no C type such as
    OrderedDict between), not a named tuple, its state in the value and ``__dict__``
    (no ``__slots__`` holding values). None otherwise."""
    base = next((b for b in _PLAIN_BASES if issubclass(cls, b)), None)
    if base is None or cls is base or issubclass(cls, (bool, enum.Enum)):
        return None
    between = cls.__mro__[: cls.__mro__.index(base)]
    if not all(c.__flags__ & _HEAPTYPE for c in between):
        return None
    for c in between:
        slots = vars(c).get("__slots__", ())
        if any(s not in ("__dict__", "__weakref__") for s in ([slots] if isinstance(slots, str) else slots)):
            return None
    return base


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
    # the value as its base, read without the subclass's methods (__str__, __iter__...)
    as_base: Callable[[Any], Any] = _AS_BASE.get(base, base)
    keeps_state = base in _PLAIN_BASES  # rebuilt with its __dict__ (see _rebuild_plain)

    def encode(enc: CBOREncoder, value: Any) -> None:
        state = getattr(value, "__dict__", None) if keeps_state else None
        if state:
            enc.encode_semantic(TAG_SUBCLASS, [name, as_base(value), state])
        else:
            enc.encode_semantic(TAG_SUBCLASS, [name, as_base(value)])

    return encode


_AS_BASE: Final[dict[type, Callable[[Any], Any]]] = {
    str: str.__str__, int: int.__int__, dict: dict.copy, list: list.copy,
}


def _plain_subclass_encoder(cls: type, base: type) -> Encode:
    _register(cls)
    return _subclass_encoder(cls, base)


def _find_class(name: str) -> object:
    """The object ``name`` designates in an imported module, or None; imports nothing
    but langchain-core's public modules, and runs no module ``__getattr__`` or
    descriptor (but langchain-core's, for a name its module exports)."""
    module_name, _, qualname = name.partition(":")
    if module_name in _LANGCHAIN_PUBLIC:
        return _langchain_class(module_name, qualname)
    package = _langchain_package(module_name)
    if package is not None:  # a langchain-core class not exported (TextAccessor)
        _import_langchain(package, qualname)
    obj: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        namespace = vars(obj) if isinstance(obj, (ModuleType, type)) else {}
        obj = namespace.get(part)
    return obj


def _import_langchain(module_name: str, qualname: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        raise DecodeError(
            f"stored data holds a langchain-core {qualname}; install langchain-core"
        ) from e


def _langchain_class(module_name: str, qualname: str) -> object:
    """A pydantic model ``module_name`` (one of ``_LANGCHAIN_PUBLIC``) exports, or None."""
    module = _import_langchain(module_name, qualname)
    if qualname not in getattr(module, "__all__", ()):
        return None
    found = getattr(module, qualname)
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
    if name in _LEGACY_MESSAGES:
        return _legacy_message(_LEGACY_MESSAGES[name], dict(stored))
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


def _legacy_message(qualname: str, fields: dict[str, Any]) -> Any:
    """A message lograph stored as its own dataclass, as langchain-core's class: its
    fields (content, id, name, additional_kwargs, tool_calls, tool_call_id) validated
    by pydantic; fields it refuses are kept as stored (as pydantic unpickles)."""
    cls: Any = _langchain_class(_LANGCHAIN_PUBLIC[0], qualname)
    try:
        return cls.model_validate(fields)
    except ValueError:  # pydantic's ValidationError: keep what was stored, unvalidated
        return cls.model_construct(**fields)


def _decode_subclass(value: Any, _immutable: bool) -> Any:
    name, base_value, *state = value
    cls: Any = _REGISTRY.get(name)
    if cls is None or _registered_base(cls) is None:
        cls = _find_class(name)
        if not isinstance(cls, type) or _plain_base(cls) is None:
            raise DecodeError(
                f"stored data names the builtin subclass {name!r}, which is not registered: "
                "call lograph.eventlog.register_type on it before decoding (subclasses of "
                "str, int, dict and list are also found once their module is imported)"
            )
    base = _plain_base(cls)
    if base is None:  # registered, of another base (tuple, set, bytes, float...)
        is_namedtuple = issubclass(cls, tuple) and hasattr(cls, "_fields")
        return cls._make(base_value) if is_namedtuple else cls(base_value)
    return _rebuild_plain(name, cls, base, base_value, state)


def _rebuild_plain(name: str, cls: Any, base: type, value: Any, state: list[Any]) -> Any:
    """An instance of ``cls`` built by its base alone: none of ``cls``'s code runs."""
    if type(value) is not base or len(state) > 1 or (state and type(state[0]) is not dict):
        raise DecodeError(f"stored {name!r} does not hold a {base.__name__} and its attributes")
    obj: Any
    if base is dict:
        obj = dict.__new__(cls)
        dict.update(obj, cast(dict[Any, Any], value))
    elif base is list:
        obj = list.__new__(cls)
        list.extend(obj, cast(list[Any], value))
    else:
        obj = base.__new__(cls, value)
    if state:
        try:
            object.__getattribute__(obj, "__dict__").update(state[0])
        except AttributeError as e:
            raise DecodeError(f"stored {name!r} has attributes its class cannot hold") from e
    return obj
