"""lograph's event log: events, the codec, the log port, folding and snapshots.

Pure data and logic; no I/O but the in-memory log. Knows nothing of graphs.
"""

from ._codec import decode, encode, register_type
from ._errors import (
    CodecError,
    ConflictError,
    CorruptLogError,
    DecodeError,
    EncodeError,
    LogError,
    SchemaVersionError,
    StoreUnavailableError,
)
from ._event import (
    GENESIS,
    KINDS,
    Event,
    Kind,
    chain_hash,
    checkpoint_id,
    make_event,
    parse_checkpoint_id,
    verify_link,
)
from ._fold import Checkpoint, apply, delta, dump_snapshot, fold, load_snapshot
from ._memory import MemoryLog
from ._port import Append, EventLog, ThreadInfo, ancestry, check_append

__all__ = [
    "GENESIS",
    "KINDS",
    "Append",
    "Checkpoint",
    "CodecError",
    "ConflictError",
    "CorruptLogError",
    "DecodeError",
    "EncodeError",
    "Event",
    "EventLog",
    "Kind",
    "LogError",
    "MemoryLog",
    "SchemaVersionError",
    "StoreUnavailableError",
    "ThreadInfo",
    "ancestry",
    "apply",
    "chain_hash",
    "check_append",
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
    "verify_link",
]

# the audit trail: typed events, timelines, the hash chain, the JSON form
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
from ._jsonform import Opaque, decode_lenient, event_from_json, event_to_json, to_json
from ._timeline import TimelineRow, format_timeline, timeline

__all__ += [
    "AuditEvent",
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
    "TimelineRow",
    "branch_of",
    "checkpoint_records",
    "decode_lenient",
    "event_from_json",
    "event_to_json",
    "find_checkpoint",
    "format_timeline",
    "summarize",
    "timeline",
    "to_json",
    "typed",
    "verify_chain",
]
