"""The long-term memory Store: ``langgraph.store.base`` and ``langgraph.store.memory``.

``BaseStore`` and its items and operations, the embedding helpers, and
``InMemoryStore``. The SQLite and PostgreSQL stores are ``lograph.adapters.sqlite``'s
``SqliteStore``/``AsyncSqliteStore`` and ``lograph.adapters.postgres``'s
``PostgresStore``/``AsyncPostgresStore``. See ``_store.py`` for the rules every store
keeps.
"""

from typing import TYPE_CHECKING, Any

from ._store import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    NamespaceMatchType,
    NamespacePath,
    NotProvided,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from ._store_embed import (
    AEmbeddingsFunc,
    EmbeddingsFunc,
    ensure_embeddings,
    get_text_at_path,
    tokenize_path,
)
from ._store_memory import InMemoryStore

__all__ = [
    "NOT_PROVIDED",
    "AEmbeddingsFunc",
    "BaseStore",
    "Embeddings",
    "EmbeddingsFunc",
    "GetOp",
    "InMemoryStore",
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
    "ensure_embeddings",
    "get_text_at_path",
    "tokenize_path",
]


if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings


def __getattr__(name: str) -> Any:
    # langchain-core's Embeddings, imported on first use: its module pulls in
    # langchain-core's runnables and callbacks, which importing lograph need not pay for
    if name == "Embeddings":
        from langchain_core.embeddings import Embeddings

        return Embeddings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
