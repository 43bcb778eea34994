"""Error handler nodes (``add_node(..., error_handler=...)``), as LangGraph 1.2.24 has them.

Rules:
- A node with an error handler does not fail the run when its last attempt fails: the
  handler runs at once, in the same step, on the node's input, as a node of its own
  (``__error_handler__<node>``; the graph-wide default of ``set_node_defaults`` is
  ``__default_error_handler__``). Its writes and routing stand for the failed node's
  (the node's own edges are not taken); its failure fails the run.
- A handler that takes a parameter ``error: NodeError`` is given the node's name and
  its error. A handler that runs after a restart gets the error as the log recorded it
  (``RecordedError`` with its repr), since the exception did not outlive its process.
- Handlers are never handled themselves; retry and timeout defaults apply to them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lograph.eventlog import Checkpoint

from ._context import current
from ._errors import NodeError, RecordedError
from ._step import handler_plan, plan
from ._structure import Structure

HANDLER_PREFIX = "__error_handler__"
DEFAULT_HANDLER = "__default_error_handler__"

_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def with_node_error(fn: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``fn`` as a handler node: given ``error=`` when it declares ``error: NodeError``
    (the signature others read no longer shows that parameter)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn
    param = sig.parameters.get("error")
    if param is None or param.kind not in _KINDS or param.annotation not in (NodeError, "NodeError"):
        return fn
    async def async_handler(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, error=_handled_error(), **kwargs)

    def sync_handler(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, error=_handled_error(), **kwargs)

    handler = async_handler if is_async else sync_handler
    handler.__signature__ = sig.replace(  # type: ignore[union-attr]
        parameters=[p for p in sig.parameters.values() if p.name != "error"])
    handler.__name__ = getattr(fn, "__name__", "error_handler")
    return handler


def _handled_error() -> Any:
    ctx = current("an error handler")
    return ctx.run.node_error(ctx.task_id)


def recorded_node_error(structure: Structure, cp: Checkpoint, ns: str, task: str) -> NodeError:
    """The failure the handler task ``task`` handles, as the open step recorded it."""
    for planned in plan(cp, ns):
        handler = handler_plan(structure, planned)
        if handler is not None and handler.id == task:
            return NodeError(planned.name, RecordedError(cp.errors.get(planned.id, "")))
    raise LookupError(f"no failed task of this step is handled by task {task!r}")
