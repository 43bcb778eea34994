"""The event record, its closed set of kinds, the hash chain and checkpoint ids.

Rules:
- ``seq`` is dense per thread from 1, across all branches: it is creation order.
- ``parent`` is the seq of the previous event on the same branch (0 for the first
  event of a thread); a fork's first event points at the fork point.
- ``hash`` = sha256(parent's hash + header + body). A header field or body that was
  edited after the fact breaks the chain from that event on.
- Chain versions, told apart by what a thread's first event links to (no row says it).
  New threads take 3 (no key) or 4 (a key): the first event follows a genesis hash of
  the thread's id, so a row or a whole log moved to another thread id no longer links.
  3, unkeyed: genesis = sha256(tag + thread id), links are sha256; anyone who can write
  the store can re-seal it. 4, keyed (:class:`Seal` with a key): genesis = the key's HMAC
  of the store's id and the thread's id, links are HMAC-SHA256 with the key, so without
  the key no edited row can be re-sealed and no row moves between threads, or between
  stores with other keys or ids. 1 and 2 are the same without the thread (genesis
  ``GENESIS``, or the key's HMAC of the store's id): threads written before thread
  binding keep them and read and verify as before. A thread keeps its version for life;
  ``copy_thread`` re-seals the copy into the new thread's chain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ._frozen import quick_init

GENESIS = b"\x00" * 32


class Kind(StrEnum):
    """Every kind of event. A closed set: add with care, never reinterpret."""

    RUN_STARTED = "run.started"
    NODE_STARTED = "node.started"
    NODE_WRITES = "node.writes"
    NODE_FAILED = "node.failed"
    TASK_RESULT = "task.result"
    INTERRUPT = "interrupt"
    RESUME = "resume"
    STATE_UPDATED = "state.updated"
    CHECKPOINT = "checkpoint"
    RUN_FINISHED = "run.finished"


KINDS = frozenset(k.value for k in Kind)

#: A small stable number per kind, for stores that keep the kind as an integer.
#: Part of the storage format: never renumber; a new kind takes the next number.
KIND_CODES: dict[str, int] = {
    Kind.RUN_STARTED: 1, Kind.NODE_STARTED: 2, Kind.NODE_WRITES: 3, Kind.NODE_FAILED: 4,
    Kind.TASK_RESULT: 5, Kind.INTERRUPT: 6, Kind.RESUME: 7, Kind.STATE_UPDATED: 8,
    Kind.CHECKPOINT: 9, Kind.RUN_FINISHED: 10,
}


class _KindOfCode(dict[int, str]):
    """A stored kind number's tag; a number no lograph kind has reads as a tag no kind
    has (so the reader's checks name that row, instead of every read failing)."""

    def __missing__(self, code: int) -> str:
        return f"unknown kind code {code}"


KIND_OF_CODE: dict[int, str] = _KindOfCode({code: str(kind) for kind, code in KIND_CODES.items()})


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """One immutable entry of a thread's log. ``body`` is CBOR (see the codec)."""

    seq: int
    parent: int
    kind: str
    run_id: str
    step: int
    task_id: str
    ns: str
    ts: float
    body: bytes
    hash: bytes


_HEADER = struct.Struct(">qqqdI")
_LENGTH = struct.Struct(">I")


def _message(
    parent_hash: bytes, seq: int, parent: int, kind: str, run_id: str, step: int, task_id: str,
    ns: str, ts: float, body: bytes,
) -> bytes:
    k, r, t, n = kind.encode(), run_id.encode(), task_id.encode(), ns.encode()
    pack = _LENGTH.pack
    return b"".join((
        parent_hash, _HEADER.pack(seq, parent, step, ts, len(k)), k, pack(len(r)), r,
        pack(len(t)), t, pack(len(n)), n, body,
    ))


def chain_hash(
    parent_hash: bytes,
    seq: int,
    parent: int,
    kind: str,
    run_id: str,
    step: int,
    task_id: str,
    ns: str,
    ts: float,
    body: bytes,
) -> bytes:
    """sha256 over: parent hash, seq/parent/step/ts, then kind, run_id, task_id and ns
    (each length-prefixed), then the body."""
    k, r, t, n = kind.encode(), run_id.encode(), task_id.encode(), ns.encode()
    pack = _LENGTH.pack  # (inline, not _message: every sealed event comes through here)
    return hashlib.sha256(b"".join((
        parent_hash, _HEADER.pack(seq, parent, step, ts, len(k)), k, pack(len(r)), r,
        pack(len(t)), t, pack(len(n)), n, body,
    ))).digest()


def keyed_hash(
    key: bytes, parent_hash: bytes, seq: int, parent: int, kind: str, run_id: str, step: int,
    task_id: str, ns: str, ts: float, body: bytes,
) -> bytes:
    """HMAC-SHA256 with ``key`` over what :func:`chain_hash` hashes (chain version 2)."""
    return hmac.digest(
        key, _message(parent_hash, seq, parent, kind, run_id, step, task_id, ns, ts, body), "sha256")


MIN_KEY_BYTES = 16
KEY_VARIABLE = "LOGRAPH_CHAIN_KEY"
STORE_ID_VARIABLE = "LOGRAPH_STORE_ID"


class Seal:
    """How a process seals new threads and checks existing ones: with no key, chain
    version 3 (sha256, bound to the thread id); with ``key``, version 4 (HMAC-SHA256,
    bound to ``store_id`` and the thread id). Versions 1 and 2 (no thread binding) are
    read and checked, never written.

    ``key``: at least 16 bytes (a str is taken as its UTF-8 bytes); keep it outside the
    database. ``store_id``: a name for the store, so rows cannot move between stores that
    share a key. :meth:`from_env` reads both from ``LOGRAPH_CHAIN_KEY`` and
    ``LOGRAPH_STORE_ID``.
    """

    __slots__ = ("_legacy", "key", "store_id")

    def __init__(self, key: bytes | str | None = None, store_id: str = "") -> None:
        if isinstance(key, str):
            key = key.encode()
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a chain key needs at least {MIN_KEY_BYTES} bytes of secret; "
                             f"got {len(key)}")
        self.key = key or None
        self.store_id = store_id
        # version 2's genesis (keyed, bound to the store only)
        self._legacy = None if self.key is None else hmac.digest(
            self.key, b"lograph/chain/2\x00" + store_id.encode(), "sha256")

    @classmethod
    def from_env(cls) -> Seal:
        return cls(os.environ.get(KEY_VARIABLE) or None, os.environ.get(STORE_ID_VARIABLE, ""))

    def genesis(self, thread: str) -> bytes:
        """What a new thread's first event links to (version 4 with a key, else 3)."""
        return thread_genesis(thread, self.key, self.store_id)

    def version(self, event: Event, thread: str) -> int | None:
        """The chain version a thread's first event (parent 0) opens in ``thread``: 1 to
        4 (see the module's docstring), or None if it verifies as none this seal knows
        (edited, moved from another thread or store, or keyed with another key)."""
        bound = self.genesis(thread)
        if self.key is not None:
            if verify_link(event, bound, self.key):
                return 4
            if self._legacy is not None and verify_link(event, self._legacy, self.key):
                return 2
            bound = thread_genesis(thread)
        if verify_link(event, bound):
            return 3
        return 1 if verify_link(event, GENESIS) else None

    def first(self, event: Event, thread: str) -> bool | None:
        """For a thread's first event: True if it opens a keyed chain of this seal, False
        for an unkeyed one, None if it opens none in ``thread`` (see :meth:`version`)."""
        version = self.version(event, thread)
        return None if version is None else version in KEYED_VERSIONS


def thread_genesis(thread: str, key: bytes | None = None, store_id: str = "") -> bytes:
    """The genesis of ``thread``'s chain: version 3 (sha256 of the thread id), or with
    ``key`` version 4 (the key's HMAC of the store id and the thread id)."""
    name = thread.encode("utf-8", "surrogatepass")
    if key is None:
        return hashlib.sha256(b"lograph/chain/3\x00" + name).digest()
    store = store_id.encode("utf-8", "surrogatepass")
    return hmac.digest(key, b"lograph/chain/4\x00" + _LENGTH.pack(len(store)) + store + name,
                       "sha256")


#: chain versions whose links are HMACs with the key; versions bound to the thread id
KEYED_VERSIONS = frozenset({2, 4})
BOUND_VERSIONS = frozenset({3, 4})


def make_event(
    parent_hash: bytes,
    *,
    seq: int,
    parent: int,
    kind: str,
    run_id: str = "",
    step: int = 0,
    task_id: str = "",
    ns: str = "",
    ts: float,
    body: bytes,
    key: bytes | None = None,
) -> Event:
    """Build an event and seal it into the chain after ``parent_hash`` (with ``key``: a
    keyed chain's link, see :class:`Seal`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; the kinds are {sorted(KINDS)}")
    if key is None:
        digest = chain_hash(parent_hash, seq, parent, kind, run_id, step, task_id, ns, ts, body)
    else:
        digest = keyed_hash(key, parent_hash, seq, parent, kind, run_id, step, task_id, ns, ts, body)
    return Event(seq, parent, kind, run_id, step, task_id, ns, ts, body, digest)


def verify_link(event: Event, parent_hash: bytes, key: bytes | None = None) -> bool:
    """True if ``event`` is sealed after ``parent_hash`` and unedited (``key``: in a keyed chain)."""
    if key is not None:
        return hmac.compare_digest(event.hash, keyed_hash(
            key, parent_hash, event.seq, event.parent, event.kind, event.run_id, event.step,
            event.task_id, event.ns, event.ts, event.body))
    return event.hash == chain_hash(
        parent_hash,
        event.seq,
        event.parent,
        event.kind,
        event.run_id,
        event.step,
        event.task_id,
        event.ns,
        event.ts,
        event.body,
    )


def checkpoint_id(seq: int, digest: bytes) -> str:
    """The id users see for the checkpoint event ``seq``: sortable, and bound to its hash."""
    h = f"{seq:016x}{digest[:8].hex()}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_checkpoint_id(value: str) -> tuple[int, str]:
    """Return ``(seq, hash prefix hex)`` of a checkpoint id, or raise ValueError."""
    h = value.replace("-", "") if isinstance(value, str) else ""
    if len(h) != 32:
        raise ValueError(f"{value!r} is not a lograph checkpoint id")
    try:
        bytes.fromhex(h)  # hex digits only (int() would take "0x" or "_")
        seq, prefix = int(h[:16], 16), h[16:]
    except ValueError:
        raise ValueError(f"{value!r} is not a lograph checkpoint id") from None
    if seq >= 2**63:  # seqs are signed 64-bit in every store
        raise ValueError(f"{value!r} is not a lograph checkpoint id (its seq is out of range)")
    return seq, prefix


def utc_time(ts: float, fmt: str | None = None) -> str:
    """A stored time as UTC text (ISO 8601, or ``fmt`` for strftime); a time no datetime
    holds (past the year 9999: a wrong clock, an edited row) as its number of seconds."""
    try:
        when = datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        return f"{ts!r} s after 1970 (out of range)"
    return when.isoformat() if fmt is None else when.strftime(fmt)
