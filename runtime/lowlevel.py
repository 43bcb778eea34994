"""What stores and tools build on, beyond the public ``lograph.runtime``.

For extending lograph (a store, a command-line tool), as ``trio.lowlevel`` is for
extending Trio; an application needs none of it:

- ``Checkpointer``, the base a store's saver subclasses (``MemorySaver``,
  ``SqliteSaver``, ``PostgresSaver``): it owns the store's log, its log writer and its
  thread actors;
- the sync facade's machinery: ``portal()`` (the process-wide blocking portal),
  ``run_sync`` (run a coroutine function on it, refused inside an event loop) and
  ``in_event_loop``;
- ``structure_of``: the compiled structure of a graph or a builder (validates it).
"""

from ._checkpointer import Checkpointer
from ._sync import in_event_loop, portal, run_sync
from ._verify import structure_of

__all__ = ["Checkpointer", "in_event_loop", "portal", "run_sync", "structure_of"]
