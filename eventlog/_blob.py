"""How stores on disk keep event bodies and snapshots: compressed when that pays.

An event's body (and a snapshot) is CBOR; its hash covers those exact bytes, and every
reader gets them back exactly. A store may keep a large one zlib-compressed instead,
marked by a first byte of 0xFF: CBOR's "break" code, which no encoded value starts
with, so a stored blob is unambiguous. Chat messages, tool output and snapshots of
them shrink two to three times; small bodies (most events) are kept as they are.
"""

from __future__ import annotations

import zlib

__all__ = ["pack", "unpack"]

_MARK = 0xFF
_PREFIX = b"\xff"
MIN_SIZE = 192  # smaller blobs rarely shrink by enough to pay for the decompression
_LEVEL = 1  # zlib's fastest: most of the gain at a fraction of the time


def pack(blob: bytes) -> bytes:
    """What to store for ``blob``: compressed and marked if that saves a quarter or more."""
    if len(blob) < MIN_SIZE:
        return blob
    packed = zlib.compress(blob, _LEVEL)
    if len(packed) + 1 > len(blob) * 3 // 4:
        return blob
    return _PREFIX + packed


def unpack(stored: bytes) -> bytes:
    """The blob that ``stored`` keeps (``pack``'s inverse; unmarked bytes are returned as is).

    A marked blob that does not decompress (a damaged row) is returned as stored: it is
    not valid CBOR, and an event's hash no longer matches it, so the reader's own checks
    name the row.
    """
    if not stored or stored[0] != _MARK:
        return stored
    try:
        return zlib.decompress(stored[1:])
    except zlib.error:
        return stored
