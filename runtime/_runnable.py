"""A compiled graph as a langchain-core ``Runnable``, without loading langchain-core's
runnables for a program that composes none.

Rules:
- LangGraph's compiled graphs are ``Runnable`` subclasses. lograph's are not (importing
  ``langchain_core.runnables`` costs about as much as importing lograph itself), so
  ``RunnableMethods`` gives ``CompiledGraph`` the ``Runnable`` methods it does not write
  itself (``|``, ``pipe``, ``transform``, ``with_retry``, ``bind``, ...): each runs
  langchain-core's own implementation on the graph, which reaches the graph only
  through the methods it has (``invoke``, ``stream``, ``batch`` and their async twins).
- ``CompiledGraph`` is registered as a virtual subclass of ``Runnable`` (so
  ``isinstance(graph, Runnable)`` holds and langchain-core takes it as a step, as in
  ``RunnableLambda(f) | graph``) as soon as lograph sees langchain-core's runnables
  loaded: when a graph is compiled or one of these methods runs. A program that loads
  them only after its last compile composes a graph first (``graph | step``) or calls
  one of these methods once.
- Methods that need the graph's input or output as a pydantic model (``InputType``,
  ``input_schema``, ``as_tool``, ...) are not among them: ``get_input_jsonschema`` and
  ``get_output_jsonschema`` describe the graph.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["RunnableMethods", "as_runnable", "register_if_loaded"]

_FORWARDED = (
    "__or__", "__ror__", "pipe", "pick", "assign", "transform", "atransform", "bind",
    "batch_as_completed", "abatch_as_completed", "astream_log", "with_retry", "with_fallbacks",
    "with_listeners", "with_alisteners", "with_types", "map", "get_name", "get_prompts",
)
_classes: list[type] = []  # the classes that mix ``RunnableMethods`` in directly
_registered = False


def as_runnable() -> Any:
    """langchain-core's ``Runnable``, with the classes that mix ``RunnableMethods`` in
    registered as its virtual subclasses (once)."""
    global _registered
    from langchain_core.runnables import Runnable

    if not _registered:
        for cls in _classes:
            Runnable.register(cls)
        _registered = True
    return Runnable


def register_if_loaded() -> None:
    """Register the classes as ``Runnable`` when langchain-core's runnables are loaded
    already (otherwise nothing: one dict lookup)."""
    if not _registered and "langchain_core.runnables.base" in sys.modules:
        as_runnable()


def _forward(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(as_runnable(), name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"langchain-core's ``Runnable.{name}``, on this graph."
    return method


class RunnableMethods:
    """``Runnable``'s methods for a class that has ``invoke``/``stream``/``batch`` and their
    async twins (see the module's rules). Added below, one per name in ``_FORWARDED``."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if RunnableMethods in cls.__bases__:
            _classes.append(cls)


for _name in _FORWARDED:
    setattr(RunnableMethods, _name, _forward(_name))
del _name
