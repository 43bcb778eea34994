"""The event log port's contract as a test kit, and a wrapper that injects crashes.

For whoever writes a store: subclass :class:`EventLogContract` in a pytest module, name
the subclass ``Test...`` and give it ``open_log()``; every promise of the port becomes a
test of your store, on each backend the ``anyio_backend`` fixture names (anyio's
pytest plugin: asyncio unless you parametrise it)::

    class TestMyLog(EventLogContract):
        def open_log(self) -> AbstractAsyncContextManager[EventLog]:
            return MyLog.open(self.tmp_path / "store.db")  # an async context manager

A store that declares an optional tier (``capabilities``) adds the tier's cases by
subclassing its contract as well: :class:`HeadLoaderContract`,
:class:`InlineAppenderContract`, :class:`RunQueueContract`, :class:`TurnKeeperContract`
(which also asks for ``open_peer(log)``). A base case checks that a store declares exactly the
tiers it is tested for, so a declared tier can never go untested.

Needs pytest and anyio's pytest plugin (installed with anyio). pytest collects only
the subclasses: none of the classes here is named ``Test...``.

:class:`FaultyLog` wraps any log and simulates the process dying around one commit
(crash before the transaction, or after it and before the writer learns of it).
"""

from ._contract import EventLogContract, chain
from ._contract_runs import RunQueueContract
from ._contract_tiers import HeadLoaderContract, InlineAppenderContract
from ._contract_turns import TurnKeeperContract
from ._faults import AFTER, BEFORE, Crash, FaultyLog, is_crash

__all__ = [
    "AFTER",
    "BEFORE",
    "Crash",
    "EventLogContract",
    "FaultyLog",
    "HeadLoaderContract",
    "InlineAppenderContract",
    "RunQueueContract",
    "TurnKeeperContract",
    "chain",
    "is_crash",
]
