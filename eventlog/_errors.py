"""The eventlog's exceptions: one base, subclasses named by what the caller can do."""

from __future__ import annotations


class LogError(Exception):
    """Base of every error lograph's event log raises."""


class ConflictError(LogError):
    """Another writer appended to the thread first; nothing of this append was written.

    A run that loses the race after its own first commit keeps what it committed before
    (its start, its input, its finished steps): reload the thread (its head moved) and
    decide again from what it shows; never retry blindly.
    """

    def __init__(self, thread: str, expected_head: int, actual_head: int | None = None) -> None:
        self.thread = thread
        self.expected_head = expected_head
        self.actual_head = actual_head
        where = f"; its head is now {actual_head}" if actual_head is not None else ""
        if actual_head == expected_head:  # the same seq, another event: see Append.parent_hash
            where = "; it was deleted and written again up to that seq"
        super().__init__(
            f"thread {thread!r} was advanced by another writer (expected head {expected_head}{where}); "
            "this append was not written (a run keeps the steps it committed before): reload "
            "the thread and decide again"
        )


class CorruptLogError(LogError):
    """A stored event does not match the hash chain or cannot be decoded."""

    def __init__(self, thread: str, seq: int, reason: str) -> None:
        self.thread = thread
        self.seq = seq
        self.reason = reason
        super().__init__(f"thread {thread!r}, event {seq}: {reason}")


class RowRefusedError(LogError, ValueError):
    """The store refused a row of one append (a value longer than it can keep, a character
    it cannot store). Nothing of that append was written; the other items of its group
    commit were. Fix the value: retrying the same append fails the same way."""


class SchemaVersionError(LogError):
    """The store was written by a newer lograph; it is refused rather than misread."""


class StoreUnavailableError(LogError):
    """The store could not be reached or opened (missing file, read-only, server down)."""


class CodecError(LogError):
    """Base of encode and decode errors."""


class EncodeError(CodecError, TypeError):
    """A value has a type the codec cannot store; raised when written, never when read."""

    def __init__(self, path: str, type_: type, hint: str = "", advice: str = "") -> None:
        self.path = path
        self.type = type_
        name = f"{type_.__module__}.{type_.__qualname__}"
        extra = f"; {hint}" if hint else ""
        super().__init__(
            f"cannot store a value of type {name} at {path}{extra}: " + (advice or (
                "use a supported type (dataclass, pydantic model, enum, or a builtin container) "
                "or register it with lograph.eventlog.register_type"))
        )


class DecodeError(CodecError):
    """Stored bytes name a type that is not registered, or are not valid CBOR."""


class LeaseLostError(LogError):
    """A worker's lease on a run is gone (it expired, or another worker claimed the run):
    the store refused what the worker tried to write under it, and wrote nothing. The
    worker must stop the run; whoever holds the run now resumes it from the log."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} is no longer held by this worker ({reason}); "
                         "nothing was written: stop working on it")


class RunBusyError(LogError):
    """``multitask_strategy="reject"``: the thread already has an active run; the new run
    was not recorded."""

    def __init__(self, thread: str, active: str) -> None:
        self.thread = thread
        self.active = active
        super().__init__(f"thread {thread!r} already has an active run ({active!r}) and the new "
                         "run's multitask_strategy is 'reject': it was not recorded; wait for "
                         "that run, or submit with 'enqueue', 'interrupt' or 'rollback'")


class RunExistsError(LogError, ValueError):
    """A run with this id is already recorded (run ids are unique in a store); nothing
    was recorded. To submit the same work once, use an idempotency key."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"a run with id {run_id!r} is already recorded; nothing was recorded")
