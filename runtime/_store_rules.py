"""What every lograph store decides the same way, whatever holds its rows.

- :func:`plan`: a batch checked whole (namespaces, keys, values, filters, limits) before
  anything runs; its reads in order and its writes deduplicated (the last put of an
  item wins), each write's value encoded as JSON text and the texts it embeds listed.
  :meth:`Plan.embed` / :meth:`Plan.aembed` then compute the vectors and the queries'.
- filters: :func:`matches` decides (the one authority); :func:`pushdown` lists the
  conditions a database may pre-check, each a superset of what matches, so a database
  narrows the rows and :func:`matches` has the last word.
- namespaces: the text a database keys them by (labels joined with ``.``, which no
  label holds), the bounds of a prefix as a range of that text, listings.
- ranking: :func:`rank` orders a search's candidates and takes its page.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ._store import (
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchItem,
    SearchOp,
    timestamp,
    validate_namespace,
)
from ._store_embed import Indexer, cosine, norm

__all__ = [
    "COMPARISONS",
    "Plan",
    "Write",
    "decode",
    "encode",
    "list_namespaces",
    "matches",
    "namespace_of",
    "plan",
    "prefix_range",
    "pushdown",
    "rank",
    "text_of",
    "timestamp",
]

class _HasVectors(Protocol):
    vectors: Any


C = TypeVar("C", bound=_HasVectors)

now = time.time  # the stores' clock (tests replace it): seconds since the epoch

COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
OPERATORS = frozenset({"$eq", "$ne", *COMPARISONS})

# -- values --------------------------------------------------------------------------------


def _check_json(value: Any, where: str) -> None:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}: a store value's floats must be finite (JSON)")
        return
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"{where} has the key {k!r} ({type(k).__name__}): "
                                "a store value's keys must be str (JSON)")
            _check_json(v, f"{where}[{k!r}]")
        return
    if kind is list:
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {kind.__name__}: a store value holds JSON only (dict with str keys, "
        "list, str, int, float, bool, None); convert it before putting it (it would not "
        "come back as it went in)")


_SCALARS = frozenset({str, int, bool, type(None)})


class _NotJson(Exception):
    pass


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _NotJson
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotJson
            out[k] = v if type(v) in _SCALARS else _copy(v)
        return out
    if kind is list:
        return [v if type(v) in _SCALARS else _copy(v) for v in value]
    raise _NotJson


def flat_copy(value: Any) -> dict[str, Any] | None:
    """A copy of ``value`` if it is a dict of str keys to JSON scalars (the common case,
    copied in one step); None for anything else (use :func:`checked_copy`)."""
    if type(value) is not dict:
        return None
    for k, v in value.items():
        kind = type(v)
        if type(k) is not str or (kind not in _SCALARS and not (kind is float and math.isfinite(v))):
            return None
    return dict(value)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value already checked (what a store hands out)."""
    return _copy(value)


def checked_copy(value: Any, where: str) -> dict[str, Any]:
    """A deep copy of ``value``; TypeError/ValueError (naming the spot) unless it is JSON."""
    if type(value) is not dict:
        raise TypeError(f"{where}: a store value must be a dict, not {type(value).__name__}")
    try:
        copied: dict[str, Any] = _copy(value)
    except _NotJson:
        _check_json(value, where)
        raise AssertionError("unreachable: _check_json raises") from None
    return copied


def encode(value: dict[str, Any]) -> str:
    """A checked value as the JSON text stored."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


decode = json.loads

# -- namespaces ----------------------------------------------------------------------------


def text_of(namespace: tuple[str, ...]) -> str:
    """The namespace as a database keys it: its labels joined with '.' (no label has one)."""
    return ".".join(namespace)


def namespace_of(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def prefix_range(prefix: tuple[str, ...]) -> tuple[str, str, str] | None:
    """A prefix as text: (exact, low, high); a namespace under it has text == exact or
    low <= text < high in code point (binary) order. None for the empty prefix."""
    if not prefix:
        return None
    exact = text_of(prefix)
    return exact, exact + ".", exact + "/"  # '/' follows '.'


def _searchable(prefix: tuple[str, ...]) -> bool:
    """Whether any namespace can be under ``prefix`` (a label with '.' or empty: none)."""
    return all(label and "." not in label for label in prefix)


def _matches_path(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path):]
    return all(p == "*" or p == label for p, label in zip(path, labels, strict=True))


def literal_prefix(op: ListNamespacesOp) -> tuple[str, ...]:
    """The labels every listed namespace starts with (a prefix condition's, up to its first '*')."""
    best: tuple[str, ...] = ()
    for condition in op.match_conditions or ():
        if condition.match_type == "prefix":
            labels = []
            for label in condition.path:
                if label == "*":
                    break
                labels.append(label)
            if len(labels) > len(best):
                best = tuple(labels)
    return best if _searchable(best) else ()


def list_namespaces(namespaces: Iterable[tuple[str, ...]], op: ListNamespacesOp) -> list[tuple[str, ...]]:
    """The listing ``op`` asks for, from the namespaces that hold items."""
    conditions = [c for c in op.match_conditions or () if c.path]
    found = {ns[: op.max_depth] if op.max_depth is not None else ns
             for ns in namespaces if all(_matches_path(ns, c) for c in conditions)}
    return sorted(found)[op.offset: op.offset + op.limit]

# -- filters -------------------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _check_filter(conditions: Any, where: str) -> None:
    if not isinstance(conditions, dict):
        raise TypeError(f"{where} must be a dict, not {type(conditions).__name__}")
    for key, condition in conditions.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: key {key!r} is not a str")
        if isinstance(condition, dict) and any(str(k).startswith("$") for k in condition):
            for name, operand in condition.items():
                if name not in OPERATORS:
                    raise ValueError(f"{where}[{key!r}]: unsupported operator {name!r}; "
                                     f"supported: {', '.join(sorted(OPERATORS))}")
                if name in COMPARISONS and not (_number(operand) or isinstance(operand, str)):
                    raise ValueError(f"{where}[{key!r}][{name!r}] compares with a number or a "
                                     f"str, not {type(operand).__name__}")
        elif isinstance(condition, dict):
            _check_filter(condition, f"{where}[{key!r}]")


def _equal(actual: Any, expected: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), bools apart from numbers, dicts exactly."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is bool and type(expected) is bool and actual == expected
    if _number(expected):
        return _number(actual) and actual == expected
    if isinstance(expected, list | tuple):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(_equal(a, e) for a, e in zip(actual, expected, strict=True)))
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and actual.keys() == expected.keys()
                and all(_equal(actual[k], v) for k, v in expected.items()))
    return type(actual) is type(expected) and actual == expected


def _compare(actual: Any, name: str, operand: Any) -> bool:
    if _number(operand):
        if not _number(actual):
            return False
    elif not isinstance(actual, str):
        return False
    if name == "$gt":
        return bool(actual > operand)
    if name == "$gte":
        return bool(actual >= operand)
    if name == "$lt":
        return bool(actual < operand)
    return bool(actual <= operand)


def _holds(actual: Any, condition: Any) -> bool:
    if isinstance(condition, dict):
        if any(k.startswith("$") for k in condition):
            for name, operand in condition.items():
                if name == "$eq":
                    ok = _equal(actual, operand)
                elif name == "$ne":
                    ok = not _equal(actual, operand)
                else:
                    ok = _compare(actual, name, operand)
                if not ok:
                    return False
            return True
        return isinstance(actual, dict) and all(_holds(actual.get(k), c) for k, c in condition.items())
    return _equal(actual, condition)


def matches(value: dict[str, Any], conditions: dict[str, Any] | None) -> bool:
    """Whether a stored value matches a search's ``filter`` (a missing key counts as None)."""
    return not conditions or all(_holds(value.get(k), c) for k, c in conditions.items())


def pushdown(conditions: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    """``(key, operator, operand)`` a database may pre-check on top-level keys: ``$eq`` with
    a scalar operand and the comparisons. Each pre-check must keep every row that
    :func:`matches` (a superset); the rest of the filter is checked on the rows it keeps."""
    out: list[tuple[str, str, Any]] = []
    for key, condition in (conditions or {}).items():
        if isinstance(condition, dict):
            if any(k.startswith("$") for k in condition):
                out.extend((key, name, operand) for name, operand in condition.items()
                           if (name == "$eq" and _scalar(operand)) or name in COMPARISONS)
        elif _scalar(condition):
            out.append((key, "$eq", condition))
    return out

# -- a batch -------------------------------------------------------------------------------


@dataclass
class Write:
    """One item's write in a batch (the last put of it): ``value`` None deletes it.

    ``value`` is the store's own copy; ``doc`` its JSON text when the plan was asked
    for texts (``plan(docs=True)``), else "" (None for a delete)."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    doc: str | None
    ttl: float | None
    texts: list[tuple[str, str]] = field(default_factory=list)  # (field, text) to embed
    vectors: list[tuple[str, list[float], float]] = field(default_factory=list)  # (field, vector, norm)

    @property
    def ns(self) -> str:
        return text_of(self.namespace)


@dataclass
class Plan:
    """A checked batch: results to fill, reads in order, writes deduplicated."""

    size: int
    reads: list[tuple[int, GetOp | SearchOp | ListNamespacesOp]]
    writes: list[Write]
    indexed: bool  # the store has an index: writes replace their items' vectors
    queries: dict[str, tuple[list[float], float]] = field(default_factory=dict)
    at: float = 0.0  # the batch's time: writes' timestamps, TTLs, expiry

    def _texts(self, indexer: Indexer) -> tuple[list[str], list[str]]:
        docs = list(dict.fromkeys(text for w in self.writes for _, text in w.texts))
        queries = list(dict.fromkeys(op.query for _, op in self.reads
                                     if isinstance(op, SearchOp) and op.query))
        return docs, queries

    def _fill(self, docs: list[str], vectors: list[list[float]],
              queries: list[str], qvectors: list[list[float]]) -> None:
        by_text = dict(zip(docs, vectors, strict=True))
        for w in self.writes:
            w.vectors = [(f, by_text[t], norm(by_text[t])) for f, t in w.texts]
        self.queries = {q: (v, norm(v)) for q, v in zip(queries, qvectors, strict=True)}
        self.at = now()

    def embed(self, indexer: Indexer | None) -> Plan:
        """Compute the vectors (sync embedding calls); stamp the batch's time."""
        if indexer is None:
            self.at = now()
            return self
        docs, queries = self._texts(indexer)
        self._fill(docs, indexer.embed(docs), queries, [indexer.embed_query(q) for q in queries])
        return self

    async def aembed(self, indexer: Indexer | None) -> Plan:
        """Compute the vectors (async embedding calls); stamp the batch's time."""
        if indexer is None:
            self.at = now()
            return self
        docs, queries = self._texts(indexer)
        self._fill(docs, await indexer.aembed(docs), queries, [await indexer.aembed_query(q) for q in queries])
        return self

    def query_vector(self, op: SearchOp) -> tuple[list[float], float] | None:
        return self.queries.get(op.query) if op.query else None


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an int >= 0, not {value!r}")
    return value


def _check_read(op: GetOp | SearchOp | ListNamespacesOp, where: str) -> None:
    if isinstance(op, GetOp):
        if not isinstance(op.key, str):
            raise TypeError(f"{where}: key must be a str, not {type(op.key).__name__}")
        if not isinstance(op.namespace, tuple):
            raise TypeError(f"{where}: namespace must be a tuple of str, not {op.namespace!r}")
    elif isinstance(op, SearchOp):
        if not isinstance(op.namespace_prefix, tuple) or not all(
                isinstance(label, str) for label in op.namespace_prefix):
            raise TypeError(f"{where}: namespace_prefix must be a tuple of str, not {op.namespace_prefix!r}")
        _count(op.limit, f"{where}: limit")
        _count(op.offset, f"{where}: offset")
        if op.filter is not None:
            _check_filter(op.filter, f"{where}: filter")
        if op.query is not None and not isinstance(op.query, str):
            raise TypeError(f"{where}: query must be a str, not {type(op.query).__name__}")
    else:
        _count(op.limit, f"{where}: limit")
        _count(op.offset, f"{where}: offset")
        if op.max_depth is not None:
            _count(op.max_depth, f"{where}: max_depth")
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise ValueError(f"{where}: unsupported match type {condition.match_type!r}")
            if not all(isinstance(label, str) for label in condition.path):
                raise TypeError(f"{where}: a namespace path holds str labels, not {condition.path!r}")


def _check_ttl(ttl: Any, where: str) -> float | None:
    if ttl is None:
        return None
    if not _number(ttl) or not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"{where}: ttl is minutes, a number > 0 (or None), not {ttl!r}")
    return float(ttl)


def write_of(op: PutOp, indexer: Indexer | None, *, docs: bool = True, i: int = 0) -> Write:
    """A put checked (namespace, key, index, ttl, value) as the write it makes."""
    where = f"operation {i} (PutOp)"
    validate_namespace(op.namespace)
    if not isinstance(op.key, str):
        raise TypeError(f"{where}: key must be a str, not {type(op.key).__name__}")
    if op.index is not None and op.index is not False and not (
            isinstance(op.index, list) and all(isinstance(p, str) for p in op.index)):
        raise TypeError(f"{where}: index must be None, False or a list of str paths")
    ttl = _check_ttl(op.ttl, where)
    value = None if op.value is None else checked_copy(op.value, f"{where}: value")
    doc = None if value is None else encode(value) if docs else ""
    write = Write(op.namespace, op.key, value, doc, ttl)
    if value is not None and indexer is not None:
        write.texts = indexer.texts(op)
    return write


def check_read(op: GetOp | SearchOp | ListNamespacesOp, i: int = 0) -> None:
    """Raise TypeError/ValueError for a read operation that cannot run."""
    _check_read(op, f"operation {i} ({type(op).__name__})")


def plan(ops: Iterable[Op], indexer: Indexer | None, *, docs: bool = True) -> Plan:
    """Check every operation of a batch and plan it (see the module docstring)."""
    reads: list[tuple[int, GetOp | SearchOp | ListNamespacesOp]] = []
    writes: dict[tuple[tuple[str, ...], str], Write] = {}
    size = 0
    for i, op in enumerate(ops):
        size += 1
        if isinstance(op, PutOp):
            write = write_of(op, indexer, docs=docs, i=i)
            writes.pop((op.namespace, op.key), None)  # the last put of an item wins
            writes[(op.namespace, op.key)] = write
        elif isinstance(op, GetOp | SearchOp | ListNamespacesOp):
            _check_read(op, f"operation {i} ({type(op).__name__})")
            reads.append((i, op))
        else:
            raise TypeError(f"operation {i} ({type(op).__name__}): not a store operation "
                            "(GetOp, PutOp, SearchOp, ListNamespacesOp)")
    return Plan(size, reads, list(writes.values()), indexer is not None)


def searchable(op: SearchOp) -> bool:
    """Whether any item can be under the search's prefix (else the answer is [])."""
    return _searchable(op.namespace_prefix)

# -- ranking -------------------------------------------------------------------------------


@dataclass
class Found:
    """A search's candidate: a stored row, its vectors when the search has a query."""

    namespace: tuple[str, ...]
    key: str
    doc: str  # the value's JSON text
    created: float
    updated: float
    ttl: float | None
    vectors: list[tuple[Sequence[float], float]] = field(default_factory=list)
    value: dict[str, Any] | None = None  # the value, if decoded already (not shared)

    def item(self, score: float | None = None) -> SearchItem:
        value = decode(self.doc) if self.value is None else self.value
        return SearchItem(self.namespace, self.key, value, timestamp(self.created),
                          timestamp(self.updated), score)


def ranked(found: Sequence[C], op: SearchOp, query: tuple[list[float], float] | None
           ) -> list[tuple[C, float | None]]:
    """The page of a search, each candidate with its score: ``found`` is newest first and
    all match the filter; each has ``vectors``, ``(vector, norm)`` pairs."""
    if query is None:
        return [(f, None) for f in found[op.offset: op.offset + op.limit]]
    qvec, qnorm = query
    scored = []
    unscored = []
    for position, f in enumerate(found):
        vectors = f.vectors
        if vectors:
            best = max(cosine(qvec, qnorm, v, n) for v, n in vectors)
            scored.append((-best, position, f))
        else:
            unscored.append(f)
    scored.sort(key=lambda t: (t[0], t[1]))
    ordered: list[tuple[C, float | None]] = [(f, -s) for s, _, f in scored]
    ordered += [(f, None) for f in unscored]
    return ordered[op.offset: op.offset + op.limit]


def rank(found: list[Found], op: SearchOp, query: tuple[list[float], float] | None) -> list[SearchItem]:
    """The page of a search as items (see :func:`ranked`)."""
    return [f.item(score) for f, score in ranked(found, op, query)]


def refreshed(ttl: float | None, at: float) -> float | None:
    """An item's new expiry when it is written or read at ``at``."""
    return None if ttl is None else at + ttl * 60.0
