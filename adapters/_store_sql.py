"""What the SQLite and PostgreSQL Stores share: rows to results, vectors as bytes, paging.

Both keep a store's items in one table keyed ``(ns, key)`` (``ns``: the namespace's
labels joined with '.', compared in binary order) with a write sequence ``seq`` that
orders searches newest first, and vectors in a second table, one row per embedded
field (float64, little-endian; similarity is computed in Python: no database
extension is needed). A search reads pages of rows newest first, narrowed in SQL by
the filter's pre-checks (``rules.pushdown``), and :func:`rules.matches` decides each.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from lograph.runtime.lowlevel import store_rules as rules
from lograph.runtime.store import GetOp, Item, SearchOp

Found = rules.Found
Plan = rules.Plan
decode = rules.decode
matches = rules.matches
namespace_of = rules.namespace_of
rank = rules.rank
timestamp = rules.timestamp

__all__ = ["FIRST_PAGE", "Row", "from_blob", "item_of", "page_of", "to_blob"]

#: the fewest rows a search reads in its first page (later pages double it)
FIRST_PAGE = 32

# (ns, key, value, created, updated, ttl, seq)
Row = Sequence[Any]


def to_blob(vector: Sequence[float]) -> bytes:
    data = array("d", vector)
    if sys.byteorder != "little":  # pragma: no cover - stored little-endian everywhere
        data.byteswap()
    return data.tobytes()


def from_blob(blob: bytes) -> array[float]:
    data = array("d")
    data.frombytes(blob)
    if sys.byteorder != "little":  # pragma: no cover
        data.byteswap()
    return data


def item_of(op: GetOp, row: Row) -> Item:
    return Item(value=decode(row[2]), key=op.key, namespace=op.namespace,
                created_at=timestamp(row[3]), updated_at=timestamp(row[4]))


def found_of(row: Row, value: dict[str, Any] | None) -> Found:
    return Found(namespace_of(row[0]), row[1], row[2], row[3], row[4], row[5], value=value)


def keep(rows: Iterable[Row], op: SearchOp, kept: list[Found]) -> None:
    """Add the rows that match the search's filter to ``kept`` (in order)."""
    for row in rows:
        if op.filter:
            value = decode(row[2])
            if matches(value, op.filter):
                kept.append(found_of(row, value))
        else:
            kept.append(found_of(row, None))


def with_vectors(rows: Iterable[Sequence[Any]], op: SearchOp) -> list[Found]:
    """Rows (ns, key, value, created, updated, ttl, seq, vec, norm) newest first, an item's
    vectors on consecutive rows, as the matching candidates with their vectors."""
    out: list[Found] = []
    last: tuple[str, str] | None = None
    skip = False
    for row in rows:
        if (row[0], row[1]) != last:
            last = (row[0], row[1])
            value = decode(row[2]) if op.filter else None
            skip = bool(op.filter) and not matches(value or {}, op.filter)
            if not skip:
                out.append(found_of(row, value))
        if not skip and row[7] is not None:
            out[-1].vectors.append((from_blob(row[7]), row[8]))
    return out


def page_of(p: Plan, op: SearchOp, kept: list[Found]) -> list[Any]:
    return rank(kept, op, p.query_vector(op))


def touched(page: list[Any], kept: list[Found]) -> list[tuple[str, str]]:
    """(ns, key) of the items a search returns that have a TTL to refresh."""
    shown = {(item.namespace, item.key) for item in page}
    return [(".".join(f.namespace), f.key) for f in kept
            if f.ttl is not None and (f.namespace, f.key) in shown]


def sqlite_path(key: str) -> str | None:
    """A JSON path naming top-level ``key`` for SQLite's json_extract (None if it cannot)."""
    return None if '"' in key or "\\" in key else f'$."{key}"'
