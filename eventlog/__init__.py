"""lograph's event log: events, the codec, the log port, folding and snapshots.

Pure data and logic; no I/O but the in-memory log. Knows nothing of graphs.
``lograph.eventlog.lowlevel`` holds what stores and engines build on (fold internals,
the stored-row mapping); ``lograph.eventlog.testing`` the port's contract suite.
"""

from typing import TYPE_CHECKING, Any

from ._codec import decode, encode, register_type
from ._errors import (
    CodecError,
    ConflictError,
    CorruptLogError,
    DecodeError,
    EncodeError,
    LeaseLostError,
    LogError,
    RowRefusedError,
    RunBusyError,
    RunExistsError,
    SchemaVersionError,
    StoreUnavailableError,
)
from ._event import (
    GENESIS,
    KINDS,
    Event,
    Kind,
    Seal,
    chain_hash,
    checkpoint_id,
    make_event,
    parse_checkpoint_id,
    thread_genesis,
    verify_link,
)
from ._fold import Checkpoint, apply, delta, dump_snapshot, fold, id_hash, load_snapshot
from ._memory import MemoryLog
from ._port import (
    Append,
    Capability,
    EventLog,
    HeadLoader,
    InlineAppender,
    ThreadInfo,
    TurnKeeper,
    ancestry,
    capabilities,
    check_append,
    check_ns,
    check_thread_id,
)
from ._runs import RUN_STATUSES, Lease, NewRun, RunEnd, RunQueue, RunRecord, RunWatch

__all__ = [
    "GENESIS",
    "KINDS",
    "RUN_STATUSES",
    "Append",
    "Capability",
    "Checkpoint",
    "CodecError",
    "ConflictError",
    "CorruptLogError",
    "DecodeError",
    "EncodeError",
    "Event",
    "EventLog",
    "HeadLoader",
    "InlineAppender",
    "Kind",
    "Lease",
    "LeaseLostError",
    "LogError",
    "MemoryLog",
    "NewRun",
    "RowRefusedError",
    "RunBusyError",
    "RunEnd",
    "RunExistsError",
    "RunQueue",
    "RunRecord",
    "RunWatch",
    "SchemaVersionError",
    "Seal",
    "StoreUnavailableError",
    "ThreadInfo",
    "TurnKeeper",
    "ancestry",
    "apply",
    "capabilities",
    "chain_hash",
    "check_append",
    "check_ns",
    "check_thread_id",
    "checkpoint_id",
    "decode",
    "delta",
    "dump_snapshot",
    "encode",
    "fold",
    "load_snapshot",
    "make_event",
    "parse_checkpoint_id",
    "register_type",
    "thread_genesis",
    "verify_link",
]

# the audit trail: typed events, timelines, the hash chain, the JSON form. Loaded on first
# use (``__getattr__`` below): a process that only runs or reads a graph does not compile
# them (no bytecode is cached where PYTHONDONTWRITEBYTECODE is set) nor run them.
_AUDIT_TRAIL = {
    "_audit": (
        "AuditEvent", "ChainProblem", "ChainReport", "CheckpointReached", "CheckpointRecord",
        "InterruptRaised", "NodeFailed", "NodeStarted", "NodeWrites", "NotFoundError",
        "Resumed", "RunFinished", "RunStarted", "StateUpdated", "TaskResult", "ThreadSummary",
        "branch_of", "checkpoint_records", "find_checkpoint", "summarize", "typed",
        "verify_chain",
    ),
    "_branches": ("Branches", "state_at", "walk"),
    "_copy": ("copy_events",),
    "_jsonform": ("Opaque", "decode_lenient", "event_from_json", "event_to_json", "to_json"),
    "_timeline": ("TimelineCursor", "TimelineRow", "format_timeline", "timeline"),
}
_LAZY = {name: module for module, names in _AUDIT_TRAIL.items() for name in names}

if TYPE_CHECKING:
    from ._audit import (
        AuditEvent,
        ChainProblem,
        ChainReport,
        CheckpointReached,
        CheckpointRecord,
        InterruptRaised,
        NodeFailed,
        NodeStarted,
        NodeWrites,
        NotFoundError,
        Resumed,
        RunFinished,
        RunStarted,
        StateUpdated,
        TaskResult,
        ThreadSummary,
        branch_of,
        checkpoint_records,
        find_checkpoint,
        summarize,
        typed,
        verify_chain,
    )
    from ._branches import Branches, state_at, walk
    from ._copy import copy_events
    from ._jsonform import Opaque, decode_lenient, event_from_json, event_to_json, to_json
    from ._timeline import TimelineCursor, TimelineRow, format_timeline, timeline

__all__ += [
    "AuditEvent",
    "Branches",
    "ChainProblem",
    "ChainReport",
    "CheckpointReached",
    "CheckpointRecord",
    "InterruptRaised",
    "NodeFailed",
    "NodeStarted",
    "NodeWrites",
    "NotFoundError",
    "Opaque",
    "Resumed",
    "RunFinished",
    "RunStarted",
    "StateUpdated",
    "TaskResult",
    "ThreadSummary",
    "TimelineCursor",
    "TimelineRow",
    "branch_of",
    "checkpoint_records",
    "copy_events",
    "decode_lenient",
    "event_from_json",
    "event_to_json",
    "find_checkpoint",
    "format_timeline",
    "id_hash",
    "state_at",
    "summarize",
    "timeline",
    "to_json",
    "typed",
    "verify_chain",
    "walk",
]


def __getattr__(name: str) -> Any:
    """The audit trail's names (``_AUDIT_TRAIL``), imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
