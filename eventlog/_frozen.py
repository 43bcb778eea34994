"""A cheaper ``__init__`` for the frozen slotted dataclasses built on every step.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__(self, name, value)``: a generic call that looks the attribute up
by name each time. :func:`quick_init` replaces it with one that calls each slot's own
setter (its member descriptor's ``__set__``), found once: the same fields, defaults,
parameter names and result, about half the cost (an event has ten fields, and every
step makes and reads several events and bodies).

Only for a frozen dataclass with ``slots=True`` whose fields all take part in
``__init__`` by position or keyword and which has no ``__post_init__`` (TypeError
otherwise, when the class is defined).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen slotted dataclass ``cls`` the faster ``__init__`` (see the module)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init takes a frozen dataclass with slots=True, not {cls.__qualname__}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init: {cls.__qualname__} has a __post_init__, which it would skip")
    names: dict[str, Any] = {}
    args: list[str] = []
    sets: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.kw_only:
            raise TypeError(f"quick_init: {cls.__qualname__}.{f.name} is not a plain __init__ field")
        names[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
            sets.append(f"    _set_{f.name}(self, {f.name})")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            names["_MISSING"] = _MISSING
            args.append(f"{f.name}=_MISSING")
            sets.append(f"    _set_{f.name}(self, _factory_{f.name}() if {f.name} is _MISSING else {f.name})")
        else:
            args.append(f.name)
            sets.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(args)}):\n" + "\n".join(sets or ["    pass"])
    exec(source, names)  # (built from the class's own field names only)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory default>"


_MISSING: Any = _Missing()
