"""How stores on disk keep events and snapshots: as rows, with blobs compressed when that pays.

Rows: a store on disk keeps each event as a :class:`StoredRow`: its header as is, its
kind as its tag or as its stable number (``KIND_CODES``), its body packed.
:class:`RowMapper` is the one place that turns events into rows and rows back into
events, and snapshots into stored blobs and back (as eventsourcing's ``Mapper``): a
store maps through it and never packs a blob or encodes a kind itself.

Blobs: an event's body (and a snapshot) is CBOR; its hash covers those exact bytes, and
every reader gets them back exactly. A store may keep a large one zlib-compressed
instead, marked by a first byte of 0xFF: CBOR's "break" code, which no encoded value
starts with, so a stored blob is unambiguous. Chat messages, tool output and snapshots
of them shrink two to three times; small bodies (most events) are kept as they are.

Bounded: a stored blob inflates to at most ``max(MAX_INFLATED, MAX_RATIO x its stored
size)`` bytes. ``pack`` keeps within that (a blob that would shrink more is stored
as it is), so only an edited row goes past it, and a reader never inflates a small
hostile row into gigabytes: ``unpack`` stops at the bound and returns the row as
stored, which the hash chain then refuses, naming the row.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ._event import KIND_CODES, KIND_OF_CODE, Event

__all__ = ["RowMapper", "StoredRow", "pack", "unpack"]

_MARK = 0xFF
_PREFIX = b"\xff"
MIN_SIZE = 192  # smaller blobs rarely shrink by enough to pay for the decompression
_LEVEL = 1  # zlib's fastest: most of the gain at a fraction of the time
MAX_INFLATED = 32 << 20  # any stored blob may inflate to this many bytes
MAX_RATIO = 32  # a larger one to at most this many times its stored size


def inflation_bound(stored_size: int) -> int:
    """How many bytes a stored blob of ``stored_size`` bytes may inflate to."""
    return max(MAX_INFLATED, MAX_RATIO * stored_size)


def pack(blob: bytes) -> bytes:
    """What to store for ``blob``: compressed and marked if that saves a quarter or more."""
    if len(blob) < MIN_SIZE:
        return blob
    packed = zlib.compress(blob, _LEVEL)
    if len(packed) + 1 > len(blob) * 3 // 4 or len(blob) > inflation_bound(len(packed) + 1):
        return blob
    return _PREFIX + packed


def unpack(stored: bytes) -> bytes:
    """The blob that ``stored`` keeps (``pack``'s inverse; unmarked bytes are returned as is).

    A marked blob that does not decompress, or would inflate past its bound (a damaged
    or hostile row), is returned as stored: it is not valid CBOR, and an event's hash
    no longer matches it, so the reader's own checks name the row. At most the bound
    is ever inflated.
    """
    if not stored or stored[0] != _MARK:
        return stored
    try:
        inflater = zlib.decompressobj()
        blob = inflater.decompress(memoryview(stored)[1:], inflation_bound(len(stored)))
    except zlib.error:
        return stored
    if inflater.unconsumed_tail or not inflater.eof:
        return stored  # past its bound, or cut short
    return blob


UNINFLATED = ("its stored body is damaged or inflates past lograph's bound (a compressed "
              "row may hold at most 32 times its size, or 32 MiB): this row was edited")


def uninflated(blob: bytes) -> bool:
    """True for what :func:`unpack` returned as stored because it did not inflate within
    its bound (no CBOR value starts with the mark): a reader's words for such a row."""
    return blob[:1] == _PREFIX


class StoredRow(NamedTuple):
    """One event as a store on disk keeps it, in the column order of lograph's reads.

    ``kind`` is the event's tag, or its number for a store that keeps numbers (see
    :class:`RowMapper`); ``body`` is packed. Immutable; a NamedTuple rather than a
    dataclass because it is the very row the drivers take and give back: mapping an
    append or a read costs no copy (both are on every run's path).
    """

    seq: int
    parent: int
    kind: str | int
    run_id: str
    step: int
    task_id: str
    ns: str
    ts: float
    body: bytes
    hash: bytes


_row = tuple.__new__  # StoredRow(...) without its keyword handling: about twice as fast


class RowMapper:
    """Events to stored rows and back; snapshots to stored blobs and back.

    ``kind_codes``: the store keeps a kind as its number (``KIND_CODES``: two bytes, part
    of the storage format, never renumbered) rather than as its tag. A number no lograph
    kind has is read as the tag ``"unknown kind code N"``, which no kind has: the hash
    chain and the verifier then name that row.

    :meth:`row_of` and :meth:`event_of` map one event; :meth:`rows_of` and
    :meth:`events_of` do the same for a batch in one pass, for appends and reads.
    """

    __slots__ = ("kind_codes",)

    def __init__(self, *, kind_codes: bool = False) -> None:
        self.kind_codes = kind_codes

    def row_of(self, event: Event) -> StoredRow:
        """The row that keeps ``event``."""
        kind = KIND_CODES[event.kind] if self.kind_codes else event.kind
        return _row(StoredRow, (event.seq, event.parent, kind, event.run_id, event.step,
                                event.task_id, event.ns, event.ts, pack(event.body), event.hash))

    def rows_of(self, events: Iterable[Event], key: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Each event's row (as :meth:`row_of`) as a plain tuple, after the columns ``key``
        (``(thread,)``: the rows an INSERT into a table keyed by thread takes)."""
        # ``key + (...)``, not ``(*key, ...)``: a third of the cost per row (measured)
        if self.kind_codes:
            codes = KIND_CODES
            return [key + (  # noqa: RUF005
                e.seq, e.parent, codes[e.kind], e.run_id, e.step, e.task_id, e.ns, e.ts,
                pack(e.body), e.hash) for e in events]
        return [key + (  # noqa: RUF005
            e.seq, e.parent, e.kind, e.run_id, e.step, e.task_id, e.ns, e.ts,
            pack(e.body), e.hash) for e in events]

    def event_of(self, row: Sequence[Any]) -> Event:
        """The event a stored row keeps: ``row`` is any sequence in :class:`StoredRow`'s
        order (a driver's own row object will do). The inverse of :meth:`row_of`."""
        seq, parent, kind, run_id, step, task_id, ns, ts, body, digest = row
        if self.kind_codes:
            kind = KIND_OF_CODE[kind]
        return Event(seq, parent, kind, run_id, step, task_id, ns, ts, unpack(body), digest)

    def events_of(self, rows: Iterable[Sequence[Any]]) -> list[Event]:
        """:meth:`event_of` of each row, in order."""
        if self.kind_codes:
            kinds = KIND_OF_CODE
            return [Event(seq, parent, kinds[kind], run_id, step, task_id, ns, ts, unpack(body), digest)
                    for seq, parent, kind, run_id, step, task_id, ns, ts, body, digest in rows]
        return [Event(seq, parent, kind, run_id, step, task_id, ns, ts, unpack(body), digest)
                for seq, parent, kind, run_id, step, task_id, ns, ts, body, digest in rows]

    @staticmethod
    def stored_snapshot(data: bytes) -> bytes:
        """What to store for a snapshot's ``data``."""
        return pack(data)

    @staticmethod
    def snapshot_of(stored: bytes) -> bytes:
        """The snapshot data a stored blob keeps (the inverse of :meth:`stored_snapshot`)."""
        return unpack(bytes(stored))
