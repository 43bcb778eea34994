"""The long-term memory Store's API: LangGraph's ``BaseStore``, its items and operations.

A store keeps JSON documents (``value``: a dict) under a hierarchical ``namespace``
(a tuple of labels) and a ``key``, shared by every thread of every graph. The
operations are data (``GetOp``, ``PutOp``, ``SearchOp``, ``ListNamespacesOp``);
``batch``/``abatch`` run a list of them and are all a store implements. The rest of
the API (``get``, ``put``, ``search``, ``delete``, ``list_namespaces`` and their
``a``-forms) builds operations and runs a batch of one.

Rules every lograph store keeps (the contract suite checks them on each backend):
- A batch reads (gets, searches, listings) the state as it was before the batch, then
  applies its puts; two puts of one item in a batch: the last wins.
- A batch is checked whole before anything runs: a bad operation raises and nothing
  of the batch is written.
- ``value`` is JSON: a dict with str keys whose values are str, int, float (finite),
  bool, None, lists and such dicts. Anything else is refused when written (it would
  not come back as it went in); values are copied in and out, so mutating a dict
  after ``put`` or after ``get`` never changes what is stored.
- Searches without ``query`` list the most recently written items first; with a
  ``query`` (and an index), items by similarity (highest first), then the items that
  have no vectors, most recently written first.
- An item past its TTL is gone for every read, before the sweeper deletes it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from ._store_embed import AEmbeddingsFunc, EmbeddingsFunc

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "GetOp",
    "IndexConfig",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespaceMatchType",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
]


class NotProvided:
    """The type of :data:`NOT_PROVIDED`: "the caller gave no value" (falsy)."""

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_PROVIDED = NotProvided()


def _when(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Item:
    """A stored document: ``value`` under ``namespace`` and ``key``, with its timestamps."""

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime,
        updated_at: datetime,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = _when(created_at)
        self.updated_at = _when(updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return (self.value, self.key, self.namespace, self.created_at, self.updated_at) == (
            other.value, other.key, other.namespace, other.created_at, other.updated_at)

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def dict(self) -> dict[str, Any]:
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.dict().items())
        return f"{type(self).__name__}({fields})"


class SearchItem(Item):
    """An item found by a search; ``score`` is its similarity to the query (None without one)."""

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        score: float | None = None,
    ) -> None:
        super().__init__(value=value, key=key, namespace=namespace,
                         created_at=created_at, updated_at=updated_at)
        self.score = score

    def dict(self) -> dict[str, Any]:
        out = super().dict()
        out["score"] = self.score
        return out


class GetOp(NamedTuple):
    """Read the item at ``namespace``/``key`` (None when there is none)."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Items under ``namespace_prefix`` that match ``filter``, ranked by ``query`` if given.

    ``filter`` maps a top-level key of the value to a value it must equal (a dict:
    its keys must match, recursively) or to operators: ``$eq``, ``$ne``, ``$gt``,
    ``$gte``, ``$lt``, ``$lte``. Comparisons compare numbers with numbers and strings
    with strings (by code point); a missing key counts as None.
    """

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True


NamespacePath = tuple[str, ...]
"""A namespace pattern for listings: each label, or ``"*"`` for any one label."""

NamespaceMatchType = Literal["prefix", "suffix"]


class MatchCondition(NamedTuple):
    """A namespace listing's condition: namespaces starting (or ending) with ``path``."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """The distinct namespaces matching every condition, cut to ``max_depth`` labels, sorted."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Write ``value`` at ``namespace``/``key`` (``None``: delete the item).

    ``index``: None embeds the store's configured fields, False none, a list of paths
    those fields (``"a.b"``, ``"items[*].text"``, ``"list[0]"``, ``"{a,b}"``).
    ``ttl``: minutes after the last write or read until the item expires (None: never).
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]  # (tuple.index)
    ttl: float | None = None


Op = GetOp | SearchOp | PutOp | ListNamespacesOp
Result = Item | list[Item] | list[SearchItem] | list[tuple[str, ...]] | None


class InvalidNamespaceError(ValueError):
    """A namespace that cannot be stored: empty, a label empty, not a str or with a '.'."""


class TTLConfig(TypedDict, total=False):
    """How a store expires items.

    ``default_ttl``: minutes for puts that give no ``ttl`` (None: never expire);
    ``refresh_on_read``: whether ``get``/``search`` restart an item's TTL by default
    (True); ``sweep_interval_minutes``: how often the sweeper deletes expired items.
    """

    refresh_on_read: bool
    default_ttl: float | None
    sweep_interval_minutes: int | None


class IndexConfig(TypedDict, total=False):
    """Semantic search: ``embed`` (a langchain-core ``Embeddings``, a function from a list
    of texts to their vectors, or an async one), ``dims`` (every vector's length) and
    ``fields`` (the paths embedded by default; ``["$"]``, the whole value, when absent)."""

    dims: int
    embed: Embeddings | EmbeddingsFunc | AEmbeddingsFunc | str
    fields: list[str] | None


def validate_namespace(namespace: tuple[str, ...]) -> None:
    """Raise InvalidNamespaceError unless ``namespace`` can hold items."""
    if not isinstance(namespace, tuple) or not namespace:
        raise InvalidNamespaceError(
            f"a namespace is a non-empty tuple of str labels, not {namespace!r}")
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(
                f"namespace {namespace!r}: label {label!r} is a {type(label).__name__}, not a str")
        if not label:
            raise InvalidNamespaceError(f"namespace {namespace!r}: a label is empty")
        if "." in label:
            raise InvalidNamespaceError(
                f"namespace {namespace!r}: label {label!r} contains a '.', which labels cannot")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(
            f"namespace {namespace!r}: the root label 'langgraph' is reserved (as in LangGraph)")


def _refresh(ttl_config: TTLConfig | None, refresh_ttl: bool | None) -> bool:
    if refresh_ttl is not None:
        return refresh_ttl
    if ttl_config:
        return ttl_config.get("refresh_on_read", True)
    return True


def _ttl(ttl_config: TTLConfig | None, ttl: float | NotProvided | None) -> float | None:
    if isinstance(ttl, NotProvided):
        return ttl_config.get("default_ttl") if ttl_config else None
    return ttl


def _listing(prefix: NamespacePath | None, suffix: NamespacePath | None, max_depth: int | None,
             limit: int, offset: int) -> ListNamespacesOp:
    conditions = []
    if prefix:
        conditions.append(MatchCondition("prefix", tuple(prefix)))
    if suffix:
        conditions.append(MatchCondition("suffix", tuple(suffix)))
    return ListNamespacesOp(tuple(conditions), max_depth, limit, offset)


class BaseStore(ABC):
    """A key-value store of JSON documents shared across threads (LangGraph's ``BaseStore``).

    Subclasses implement :meth:`batch` and :meth:`abatch`; every other method is a
    batch of one operation.
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None

    __slots__ = ("__weakref__",)

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops``; their results in the same order (None for a put)."""

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` (async); their results in the same order (None for a put)."""

    def _put_op(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
                index: Literal[False] | list[str] | None,
                ttl: float | NotProvided | None) -> PutOp:
        if ttl not in (NOT_PROVIDED, None) and not self.supports_ttl:
            raise NotImplementedError(
                f"{type(self).__name__} does not support a TTL; pass ttl=None or use a store "
                "that supports it")
        return PutOp(namespace, str(key), value, index=index, ttl=_ttl(self.ttl_config, ttl))

    def _search_op(self, namespace_prefix: tuple[str, ...], query: str | None,
                   filter: dict[str, Any] | None, limit: int, offset: int,
                   refresh_ttl: bool | None) -> SearchOp:
        return SearchOp(namespace_prefix, filter, limit, offset, query,
                        _refresh(self.ttl_config, refresh_ttl))

    # -- sync ------------------------------------------------------------------------------

    def get(self, namespace: tuple[str, ...], key: str, *,
            refresh_ttl: bool | None = None) -> Item | None:
        """The item at ``namespace``/``key``, or None."""
        result = self.batch([GetOp(namespace, str(key), _refresh(self.ttl_config, refresh_ttl))])[0]
        assert result is None or isinstance(result, Item)
        return result

    def search(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
               filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
               refresh_ttl: bool | None = None) -> list[SearchItem]:
        """Items under ``namespace_prefix`` matching ``filter`` (see :class:`SearchOp`)."""
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl)
        result: list[SearchItem] = self.batch([op])[0]  # type: ignore[assignment]
        return result

    def put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
            index: Literal[False] | list[str] | None = None, *,
            ttl: float | NotProvided | None = NOT_PROVIDED) -> None:
        """Write ``value`` at ``namespace``/``key`` (see :class:`PutOp`)."""
        self.batch([self._put_op(namespace, key, value, index, ttl)])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete the item at ``namespace``/``key`` (nothing happens if there is none)."""
        self.batch([PutOp(namespace, str(key), None, ttl=None)])

    def list_namespaces(self, *, prefix: NamespacePath | None = None,
                        suffix: NamespacePath | None = None, max_depth: int | None = None,
                        limit: int = 100, offset: int = 0) -> list[tuple[str, ...]]:
        """The namespaces holding items, filtered and cut to ``max_depth`` labels, sorted."""
        result: list[tuple[str, ...]] = self.batch(  # type: ignore[assignment]
            [_listing(prefix, suffix, max_depth, limit, offset)])[0]
        return result

    # -- async -----------------------------------------------------------------------------

    async def aget(self, namespace: tuple[str, ...], key: str, *,
                   refresh_ttl: bool | None = None) -> Item | None:
        """The item at ``namespace``/``key``, or None."""
        result = (await self.abatch(
            [GetOp(namespace, str(key), _refresh(self.ttl_config, refresh_ttl))]))[0]
        assert result is None or isinstance(result, Item)
        return result

    async def asearch(self, namespace_prefix: tuple[str, ...], /, *, query: str | None = None,
                      filter: dict[str, Any] | None = None, limit: int = 10, offset: int = 0,
                      refresh_ttl: bool | None = None) -> list[SearchItem]:
        """Items under ``namespace_prefix`` matching ``filter`` (see :class:`SearchOp`)."""
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl)
        result: list[SearchItem] = (await self.abatch([op]))[0]  # type: ignore[assignment]
        return result

    async def aput(self, namespace: tuple[str, ...], key: str, value: dict[str, Any],
                   index: Literal[False] | list[str] | None = None, *,
                   ttl: float | NotProvided | None = NOT_PROVIDED) -> None:
        """Write ``value`` at ``namespace``/``key`` (see :class:`PutOp`)."""
        await self.abatch([self._put_op(namespace, key, value, index, ttl)])

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete the item at ``namespace``/``key`` (nothing happens if there is none)."""
        await self.abatch([PutOp(namespace, str(key), None, ttl=None)])

    async def alist_namespaces(self, *, prefix: NamespacePath | None = None,
                               suffix: NamespacePath | None = None, max_depth: int | None = None,
                               limit: int = 100, offset: int = 0) -> list[tuple[str, ...]]:
        """The namespaces holding items, filtered and cut to ``max_depth`` labels, sorted."""
        result: list[tuple[str, ...]] = (await self.abatch(  # type: ignore[assignment]
            [_listing(prefix, suffix, max_depth, limit, offset)]))[0]
        return result


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(seconds: float) -> datetime:
    """A stored time (seconds since the epoch) as the aware UTC datetime items carry
    (``datetime.fromtimestamp(seconds, UTC)``, a few times faster)."""
    return _EPOCH + timedelta(seconds=seconds)
