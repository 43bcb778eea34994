"""``interrupt(value, response_schema=...)``: the schema an interrupt shows its reader,
and the check of the answer that resumes it.

Rules:
- A JSON Schema ``dict`` is shown as given and answers are not checked against it. A
  pydantic model, TypedDict or dataclass (anything pydantic's ``TypeAdapter`` takes) is
  shown as its JSON Schema, and an answer is validated with it: ``interrupt()`` returns
  the validated object (a model instance, a dataclass), as LangGraph's does.
- An answer the schema refuses raises pydantic's ``ValidationError`` in the node,
  marked so that :func:`is_invalid_resume` knows it. It is not the node's failure: the
  engine neither retries it nor hands it to an error handler, lets the step's other
  tasks finish, records the interrupt as pending again (same id, same value) and then
  raises the error to the caller; answering it again resumes the thread.
- The mark is the interrupt to record again, so a subgraph's or a ``@task``'s rejected
  answer re-opens the same interrupt in every task it passes through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._types import Interrupt

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["interrupt_of", "is_invalid_resume", "reopened", "schema_adapter", "shown_schema", "validated"]

_MARK = "_lograph_invalid_resume"


def is_invalid_resume(error: BaseException) -> bool:
    """Whether ``error`` was raised because an answer did not fit the ``response_schema``
    of the interrupt it answered (a pydantic ``ValidationError`` from ``interrupt()``).
    Nothing of the node's work was kept; the interrupt waits for another answer."""
    return isinstance(getattr(error, _MARK, None), Interrupt)


def reopened(error: BaseException) -> Interrupt | None:
    """The interrupt a rejected answer leaves pending (None: ``error`` is no such error)."""
    found = getattr(error, _MARK, None)
    return found if isinstance(found, Interrupt) else None


@functools.lru_cache(maxsize=256)
def _cached_adapter(schema: Any) -> TypeAdapter[Any]:
    return _adapter(schema)


def _adapter(schema: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter  # (loaded when a schema is first used)

    return TypeAdapter(schema)


def schema_adapter(schema: Any) -> TypeAdapter[Any] | None:
    """The validator of a ``response_schema`` (None for None or a JSON Schema dict)."""
    if schema is None or isinstance(schema, Mapping):
        return None
    try:
        return _cached_adapter(schema)
    except TypeError:  # not hashable (a generic alias with a dict default, ...): not cached
        return _adapter(schema)


def shown_schema(schema: Any, adapter: TypeAdapter[Any] | None) -> Any:
    """What an Interrupt shows as its ``response_schema``: a JSON Schema dict, or None."""
    if adapter is not None:
        return adapter.json_schema()
    return None if schema is None else dict(schema)


def validated(adapter: TypeAdapter[Any], answer: Any, pending: Callable[[], Interrupt]) -> Any:
    """``answer`` as the schema makes it; a rejected one raises its ValidationError,
    marked with ``pending()`` (the interrupt it tried to answer)."""
    try:
        return adapter.validate_python(answer)
    except ValidationError as e:
        setattr(e, _MARK, pending())
        raise


def interrupt_of(iid: str, item: Mapping[str, Any]) -> Interrupt:
    """A pending interrupt as the fold keeps it (``{"value", "task_id", "schema"?}``)."""
    return Interrupt(item["value"], iid, response_schema=item.get("schema"))
