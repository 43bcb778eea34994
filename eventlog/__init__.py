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
from ._event import GENESIS, KINDS, Event, Kind, chain_hash, checkpoint_id, make_event, parse_checkpoint_id, verify_link
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
