"""A store as the runtime sees it: its event log, its log writer and its thread actors.

Adapters subclass :class:`Checkpointer` (``MemorySaver``, ``SqliteSaver``,
``PostgresSaver``); graphs take one as ``compile(checkpointer=...)``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from lograph.eventlog import (
    Capability,
    EventLog,
    HeadLoader,
    MemoryLog,
    RunQueue,
    Seal,
    TurnKeeper,
    capabilities,
    check_ns,
    check_thread_id,
)

from ._actor import ThreadActor
from ._commit import Committer
from ._folds import FOLDS
from ._reads import CheckpointTuple, get_tuple, list_tuples, refuse_write
from ._sync import run_sync

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


class Checkpointer:
    """Owns one :class:`EventLog`. ``aclose()`` closes the log and is safe to call twice.

    ``chain_key`` (default: the ``LOGRAPH_CHAIN_KEY`` environment variable) seals new
    threads in a keyed chain that no one without the key can re-seal; ``store_id``
    (``LOGRAPH_STORE_ID``) binds them to this store. Readers and ``verify`` need the same
    key for keyed threads; threads written without a key stay readable.

    The log's optional tiers are read once, here (``lograph.eventlog.capabilities``):
    ``head_loader`` is the log if it declares ``load_head``, else None. Raises TypeError
    for a log that declares a tier it does not implement.
    """

    #: idle thread actors kept per store (least recently used are evicted)
    max_actors = 4096

    def __init__(self, log: EventLog, *, snapshot_every: int = 400,
                 chain_key: bytes | str | None = None, store_id: str | None = None,
                 store_key: Hashable | None = None) -> None:
        self.log = log
        # how new threads are sealed and keyed ones checked: the key and store id given,
        # else LOGRAPH_CHAIN_KEY and LOGRAPH_STORE_ID (see ``lograph.eventlog.Seal``)
        env = Seal.from_env()
        self.seal = env if chain_key is None and store_id is None else Seal(
            chain_key if chain_key is not None else env.key,
            store_id if store_id is not None else env.store_id)
        #: names the store for folds kept across savers in this process (``_folds``):
        #: equal keys must mean the same store; None takes no part
        self.store_key = store_key
        tiers = capabilities(log)
        self.head_loader: HeadLoader | None = (
            cast(HeadLoader, log) if Capability.LOAD_HEAD in tiers else None)
        #: the log's runs tier, if it has one: direct runs queue on it (``_place``)
        self.runs: RunQueue | None = cast(RunQueue, log) if Capability.RUNS in tiers else None
        #: the log's turns, if it keeps them: a plain run holds its thread's (``_place``)
        self.turns: TurnKeeper | None = (
            cast(TurnKeeper, log) if Capability.TURNS in tiers and self.runs is not None else None)
        self.writer = Committer(log)
        self.snapshot_every = snapshot_every
        self._actors: OrderedDict[str, ThreadActor] = OrderedDict()
        self._closed = False

    def drives_this_loop(self) -> bool:
        """Whether the store's driver runs on the event loop running in this thread (then
        a sync call here would wait for itself, see ``_sync``). Stores whose driver lives
        on an event loop override it; the base (no driver loop) never does."""
        return False

    def actor(self, thread: str) -> ThreadActor:
        """The thread's actor, created on first use; idle ones past ``max_actors`` evicted."""
        actor = self._actors.get(thread)
        if actor is None:
            actor = self._actors[thread] = ThreadActor(self, thread)
            while len(self._actors) > self.max_actors:
                oldest, idle = next(iter(self._actors.items()))
                if idle.busy:
                    break
                del self._actors[oldest]
        else:
            self._actors.move_to_end(thread)
        return actor

    async def adelete_thread(self, thread_id: str) -> None:
        """Remove every event and snapshot of the thread; its actor forgets it."""
        thread = str(thread_id)
        await self.log.delete_thread(thread)
        if self.store_key is not None:
            FOLDS.drop(self.store_key, thread)
        actor = self._actors.pop(thread, None)
        if actor is not None:
            actor.forget()

    def delete_thread(self, thread_id: str) -> None:
        run_sync(self.adelete_thread, thread_id, method="delete_thread", amethod="adelete_thread", store=self)

    # -- LangGraph's saver read API, derived from the log (see ``_reads``) ---------------

    async def aget_tuple(self, config: Mapping[str, Any]) -> CheckpointTuple | None:
        """The checkpoint ``config`` names (or the thread's latest); None if none."""
        return await get_tuple(self, config)

    def get_tuple(self, config: Mapping[str, Any]) -> CheckpointTuple | None:
        return run_sync(lambda: self.aget_tuple(config), method="get_tuple", amethod="aget_tuple", store=self)

    async def aget(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The ``checkpoint`` dict of ``aget_tuple``."""
        found = await self.aget_tuple(config)
        return None if found is None else found.checkpoint

    def get(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        return run_sync(lambda: self.aget(config), method="get", amethod="aget", store=self)

    def alist(
        self, config: Mapping[str, Any] | None, *, filter: dict[str, Any] | None = None,
        before: Mapping[str, Any] | None = None, limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """The thread's checkpoints, newest first (every branch), as LangGraph lists them."""
        return list_tuples(self, config, filter=filter, before=before, limit=limit)

    def list(
        self, config: Mapping[str, Any] | None, *, filter: dict[str, Any] | None = None,
        before: Mapping[str, Any] | None = None, limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, filter=filter, before=before, limit=limit)]

        return iter(run_sync(collect, method="list", amethod="alist", store=self))

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse_write("aput")

    def put(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse_write("put")

    async def aput_writes(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse_write("aput_writes")

    def put_writes(self, *args: Any, **kwargs: Any) -> Any:
        raise refuse_write("put_writes")

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """A new thread ``target`` with ``source``'s whole log (every branch), event for
        event, re-sealed into ``target``'s chain (chains are bound to their thread id);
        its checkpoints keep the source's ids, as LangGraph's copies do (see
        ``lograph.eventlog.copy_events``). ValueError if ``source`` has no events or
        ``target`` has some (ConflictError if another writer got there first);
        CorruptLogError if ``source``'s chain does not verify: nothing is written."""
        from lograph.eventlog import copy_events  # the audit trail: loaded on first use

        source, target = str(source_thread_id), str(target_thread_id)
        events = await self.log.read(source)
        if not events:
            raise ValueError(f"copy_thread: thread {source!r} has no events to copy")
        if await self.log.head(target):
            raise ValueError(f"copy_thread: thread {target!r} already has events; delete it first")
        await self.log.append(target, copy_events(source, target, events, self.seal), 0)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        run_sync(lambda: self.acopy_thread(source_thread_id, target_thread_id),
                 method="copy_thread", amethod="acopy_thread", store=self)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.store_key is not None:  # a later saver on the store starts from these
            recent = list(self._actors.items())[-FOLDS.size:]
            FOLDS.keep(self.store_key, [(thread, actor.cached, actor.base)
                                        for thread, actor in recent
                                        if actor.cached is not None and not actor.busy])
        self._actors.clear()
        await self.log.aclose()

    def close(self) -> None:
        run_sync(self.aclose, method="close", amethod="aclose", store=self)

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def target(graph: CompiledGraph, config: Mapping[str, Any] | None, *, need_saver: bool = True,
           ) -> tuple[Checkpointer, str, str]:
    """The store, thread and namespace a call works on (a throwaway in-memory store for a
    graph compiled without a checkpointer, when ``need_saver`` is False)."""
    configurable = (config or {}).get("configurable") or {}
    if graph.checkpointer is None:
        if need_saver:
            raise ValueError("this graph has no checkpointer: compile(checkpointer=...) first")
        return Checkpointer(MemoryLog()), "", ""
    if "thread_id" not in configurable or configurable["thread_id"] in (None, ""):
        raise ValueError(
            "a graph with a checkpointer needs config={'configurable': {'thread_id': ...}} "
            "(also accepted: checkpoint_ns, checkpoint_id)"
        )
    thread, ns = str(configurable["thread_id"]), configurable.get("checkpoint_ns") or ""
    check_thread_id(thread)
    check_ns(ns)
    return graph.checkpointer, thread, ns
