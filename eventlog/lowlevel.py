"""What stores and the runtime build on, beyond the public ``lograph.eventlog``.

For extending lograph (a store, an engine, a tool over the log), as ``trio.lowlevel``
is for extending Trio; an application needs none of it. Everything here is part of the
storage format or the fold's contract, so it changes only with them:

- the fold's internals: the ops of a checkpoint's delta (``SET``, ``EXTEND``,
  ``WRITES``, ``DELETE``), ``NULL_TASK`` (the task of an input's writes; defined with the event
  bodies in ``lograph.eventlog.bodies``), ``task_id``, ``apply``, ``delta``,
  ``persistent_ns`` (which subgraph folds outlive their caller's step), and
  snapshots (``dump_snapshot``, ``load_snapshot``,
  ``snapshot_base``, ``SNAPSHOT_FORMAT``);
- ``CheckedAppend``: an append the log writer checked already (a store skips its
  ``check_append``); ``quick_init``, the cheaper ``__init__`` of the records made on
  every step (frozen slotted dataclasses);
- how stores on disk keep events: ``StoredRow`` and ``RowMapper`` (bodies and snapshots
  packed, kinds as tags or as their stable numbers ``KIND_CODES``/``KIND_OF_CODE``);
- the runs tier's shared rules (``_runs``): the statuses, strategies and stops, and the
  checks every store applies before any I/O (``check_new_run``, ...);
- helpers for tools that show a log: ``decode_body``, ``decode_readable`` (exact where
  this process has the classes, lenient where not) and ``short``; ``broken_link``,
  what a reader says of an event whose link does not verify.
"""

from typing import TYPE_CHECKING, Any

from ._audit import broken_link, decode_body
from ._blob import RowMapper, StoredRow
from ._event import KIND_CODES, KIND_OF_CODE, utc_time
from ._fold import (
    DELETE,
    EXTEND,
    SET,
    SNAPSHOT_FORMAT,
    WRITES,
    apply,
    delta,
    dump_snapshot,
    load_snapshot,
    persistent_ns,
    snapshot_base,
    task_id,
)
from ._frozen import quick_init
from ._jsonform import decode_readable
from ._port import CheckedAppend
from ._runs import (
    ACTIVE,
    ENDED,
    ROW_COLUMNS,
    STALE,
    STOPS,
    STRATEGIES,
    RunSignals,
    check_end,
    check_filters,
    check_graph,
    check_lease_seconds,
    check_limit,
    check_new_run,
    check_stop,
    metadata_json,
    new_token,
    run_of_row,
    signals_for,
)
from .bodies import NULL_TASK

if TYPE_CHECKING:
    from ._timeline import short

__all__ = [
    "ACTIVE",
    "DELETE",
    "ENDED",
    "EXTEND",
    "KIND_CODES",
    "KIND_OF_CODE",
    "NULL_TASK",
    "ROW_COLUMNS",
    "SET",
    "SNAPSHOT_FORMAT",
    "STALE",
    "STOPS",
    "STRATEGIES",
    "WRITES",
    "CheckedAppend",
    "RowMapper",
    "RunSignals",
    "StoredRow",
    "apply",
    "broken_link",
    "check_end",
    "check_filters",
    "check_graph",
    "check_lease_seconds",
    "check_limit",
    "check_new_run",
    "check_stop",
    "decode_body",
    "decode_readable",
    "delta",
    "dump_snapshot",
    "load_snapshot",
    "metadata_json",
    "new_token",
    "persistent_ns",
    "quick_init",
    "run_of_row",
    "short",
    "signals_for",
    "snapshot_base",
    "task_id",
    "utc_time",
]


def __getattr__(name: str) -> Any:
    """``short``, of the timeline's module, imported on first use (a process that only
    runs or reads a graph needs no timeline)."""
    if name != "short":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ._timeline import short

    globals()["short"] = short
    return short
