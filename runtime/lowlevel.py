"""What stores and tools build on, beyond the public ``lograph.runtime``.

For extending lograph (a store, a command-line tool), as ``trio.lowlevel`` is for
extending Trio; an application needs none of it:

- ``Checkpointer``, the base a store's saver subclasses (``MemorySaver``,
  ``SqliteSaver``, ``PostgresSaver``): it owns the store's log, its log writer and its
  thread actors;
- the sync facade's machinery: ``portal()`` (the process-wide blocking portal),
  ``run_sync`` (run a coroutine function on a portal, blocking the caller; refused
  only where it would wait for itself), ``in_event_loop`` and ``on_portal_thread``;
- ``structure_of``: the compiled structure of a graph or a builder (validates it);
- ``snapshot_of``: a thread's fold as the ``StateSnapshot`` that ``aget_state`` shows
  (a command-line tool's view of a thread, with or without the graph);
- what a long-term memory Store's backend builds on (lograph's SQLite and PostgreSQL
  stores do): ``store_rules`` (a batch checked and planned, filters, namespaces,
  ranking: the rules every store keeps), ``StoreIndexer`` (the ``index`` config at
  work) and ``StoreSweeper`` (the TTL sweeper's control);
- the parts of a ``Pregel`` graph's node, for building one by hand instead of with
  ``NodeBuilder``: ``PregelNode``, ``ChannelWrite``, ``ChannelWriteEntry``, and the
  entry values ``PASSTHROUGH`` (the node's result) and ``SKIP_WRITE`` (write nothing);
- ``BaseCache``, the base of a node cache (``InMemoryCache``, ``SqliteCache``): it
  implements ``_get``, ``_set`` and ``_clear`` on encoded bytes.
"""

from typing import TYPE_CHECKING, Any

from ._cache import BaseCache
from ._checkpointer import Checkpointer
from ._pregel_nodes import PASSTHROUGH, SKIP_WRITE, ChannelWrite, ChannelWriteEntry, PregelNode
from ._sync import in_event_loop, on_portal_thread, portal, run_sync
from ._views import snapshot_of

if TYPE_CHECKING:
    from . import _store_rules as store_rules
    from ._store_embed import Indexer as StoreIndexer
    from ._store_ttl import Sweeper as StoreSweeper
    from ._verify import structure_of

__all__ = [
    "PASSTHROUGH", "SKIP_WRITE", "BaseCache", "ChannelWrite", "ChannelWriteEntry", "Checkpointer", "PregelNode", "StoreIndexer", "StoreSweeper", "in_event_loop", "on_portal_thread",
    "portal", "run_sync", "snapshot_of", "store_rules", "structure_of",
]


def __getattr__(name: str) -> Any:
    """A Store backend's parts and ``structure_of`` load on first use: a saver alone
    does not import them."""
    value: Any
    if name == "store_rules":
        from . import _store_rules as value
    elif name == "StoreIndexer":
        from ._store_embed import Indexer as value
    elif name == "StoreSweeper":
        from ._store_ttl import Sweeper as value
    elif name == "structure_of":
        from ._verify import structure_of as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
