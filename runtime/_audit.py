"""The audit trail of a store: read a thread's log, list threads, verify logs. Async I/O.

Every function takes an :class:`~lograph.eventlog.EventLog` or a checkpointer (its
``log`` is used) and only reads, except :func:`fork`. The logic is in
``lograph.eventlog`` (typed events, the hash chain, timelines: pure) and in
``_verify`` (replay against the graph's code); this module fetches the events.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from lograph.eventlog import (
    AuditEvent,
    ChainProblem,
    Checkpoint,
    CorruptLogError,
    Event,
    EventLog,
    NotFoundError,
    Seal,
    ThreadSummary,
    ancestry,
    branch_of,
    find_checkpoint,
    load_snapshot,
    state_at,
    summarize,
    to_json,
    typed,
    verify_chain,
    walk,
)
from lograph.eventlog.lowlevel import SNAPSHOT_FORMAT, decode_readable

from ._checkpointer import Checkpointer
from ._compiled import CompiledGraph
from ._types import START
from ._verify import Divergence, replay

__all__ = ["Verdict", "fork_thread", "read_events", "read_store", "read_thread", "verify_store", "verify_thread"]


def _log(store: Any) -> EventLog:
    log = getattr(store, "log", store)
    if not isinstance(log, EventLog):
        raise TypeError(f"expected an EventLog or a checkpointer, got {type(store).__name__}")
    return log


async def read_events(store: Any, thread: str, *, checkpoint: str | None = None) -> list[Event]:
    """The thread's events: all branches by seq, or the ancestry of ``checkpoint`` (an id).

    Raises NotFoundError for an unknown thread or checkpoint.
    """
    events: list[Event] = await _log(store).read(thread)
    if not events:
        raise NotFoundError(f"thread {thread!r} does not exist (it has no events)")
    if checkpoint is None:
        return events
    return branch_of(events, find_checkpoint(events, thread, checkpoint).seq)


async def read_thread(store: Any, thread: str, *, checkpoint: str | None = None) -> list[AuditEvent]:
    """:func:`read_events` as typed events (``RunStarted``, ``NodeWrites``, ...)."""
    return [typed(e) for e in await read_events(store, thread, checkpoint=checkpoint)]


async def read_store(store: Any) -> list[ThreadSummary]:
    """Every thread of the store with its status, last step and size, by name."""
    log = _log(store)
    out = []
    for info in await log.threads():
        out.append(summarize(info, await log.read(info.thread)))
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """What verifying one thread found. ``ok`` when the chain, the snapshots and (if a
    graph was given) the replay all pass; ``problem`` is the first finding, as text."""

    thread: str
    events: int
    head: int
    head_hash: bytes
    chain: list[ChainProblem] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    divergence: Divergence | None = None
    replayed: bool = False
    #: the version of the thread's chain (``lograph.eventlog.Seal``): 3 and 4 are bound
    #: to the thread id, 1 and 2 (an older lograph's) are not; 0 if unknown
    chain_version: int = 0

    @property
    def ok(self) -> bool:
        return not self.chain and not self.snapshots and self.divergence is None

    @property
    def problem(self) -> str | None:
        if self.chain:
            return str(self.chain[0])
        if self.snapshots:
            return self.snapshots[0]
        return None if self.divergence is None else str(self.divergence)


async def verify_thread(store: Any, thread: str, *, graph: Any = None, seal: Seal | None = None) -> Verdict:
    """Check the thread's hash chain and snapshots; with ``graph``, replay it against the
    graph's code (only when the chain is intact: a damaged log proves nothing).

    ``seal``: the chain key and store id (default: a checkpointer's own, else the
    ``LOGRAPH_CHAIN_KEY``/``LOGRAPH_STORE_ID`` environment). With a key, a thread whose
    chain is not keyed with it fails: without the key anyone could have re-sealed it."""
    log = _log(store)
    seal = _seal(store, seal)
    events = await log.read(thread)
    if not events:
        raise NotFoundError(f"thread {thread!r} does not exist (it has no events)")
    report = verify_chain(thread, events, seal=seal, require_key=seal.key is not None)
    if report.ok:  # every body has the shape its kind's reader takes (read as the CLI does)
        try:
            for _ in walk(events, exact=False, thread=thread):
                pass
        except CorruptLogError as e:
            kind = next((x.kind for x in events if x.seq == e.seq), "")
            report.problems.append(ChainProblem(thread, e.seq, kind, e.reason))
    snapshots = await _check_snapshots(log, thread, events, seal) if report.ok else []
    divergence = None
    replayed = graph is not None and report.ok and not snapshots
    if replayed:
        divergence = await replay(graph, thread, events)
    return Verdict(thread, report.events, report.head, report.head_hash, report.problems,
                   snapshots, divergence, replayed, report.version)


async def verify_store(store: Any, threads: Sequence[str] | None = None, *, graph: Any = None,
                       seal: Seal | None = None) -> list[Verdict]:
    """:func:`verify_thread` for ``threads`` (default: every thread of the store)."""
    log = _log(store)
    seal = _seal(store, seal)
    names = list(threads) if threads is not None else [t.thread for t in await log.threads()]
    return [await verify_thread(log, name, graph=graph, seal=seal) for name in names]


def _seal(store: Any, seal: Seal | None) -> Seal:
    if seal is not None:
        return seal
    found = getattr(store, "seal", None)
    return found if isinstance(found, Seal) else Seal.from_env()


async def _check_snapshots(log: EventLog, thread: str, events: list[Event], seal: Seal) -> list[str]:
    """A snapshot is a cache of the fold: what the runtime loads from it must equal the
    fold of its branch from the first event (whatever the snapshot format).

    Compared as encodings, not with ``==`` (a NaN, an ``eq=False`` dataclass are equal to
    themselves here), and read leniently: a value of a class this process has not
    imported is compared by its stored form, so verifying needs no application code."""
    problems = []
    for seq in await log.snapshots(thread):
        where = f"thread {thread!r}, snapshot at event {seq}"
        if ancestry(events, seq) is None:
            problems.append(f"{where}: no event {seq} in the log to derive it from")
            continue
        try:
            cached = await _load_snapshot(log, thread, seq)
        except Exception as e:  # noqa: BLE001 - a damaged snapshot: report it, never raise
            problems.append(f"{where}: cannot be read ({e}); delete the thread's snapshots")
            continue
        if _canonical(cached) != _canonical(state_at(events, seq, exact=False, thread=thread)):
            problems.append(f"{where}: differs from the fold of the log (the snapshot was "
                            "edited); delete the thread's snapshots, they are only a cache")
    return problems


async def _load_snapshot(log: EventLog, thread: str, seq: int, depth: int = 0) -> Checkpoint:
    """The fold a snapshot holds, through its chain of bases, decoded leniently."""
    found = await log.latest_snapshot(thread, seq)
    if found is None or found[0] != seq:
        raise LookupError(f"its base snapshot at event {seq} is gone")
    decoded = decode_readable(found[1])[0]  # as the fold reads bodies: exact where it can
    version = decoded[0]
    if not isinstance(version, int) or version > SNAPSHOT_FORMAT:
        raise ValueError(f"snapshot format {version!r} is not one this lograph reads")
    base_seq = decoded[3] if version == 3 else 0
    if base_seq and (not isinstance(base_seq, int) or not 0 < base_seq < seq or depth > 64):
        raise ValueError(f"its base {base_seq!r} is not an earlier snapshot")
    base = await _load_snapshot(log, thread, base_seq, depth + 1) if base_seq else None
    return load_snapshot(decoded, base)


_COMPARED = tuple(f.name for f in dataclasses.fields(Checkpoint) if f.name not in ("keyed", "children"))


def _canonical(cp: Checkpoint) -> str:
    """A fold as its JSON form, maps sorted: equal folds give equal text."""
    return json.dumps(_form(cp), sort_keys=True)


def _form(cp: Checkpoint) -> Any:
    return [to_json([getattr(cp, name) for name in _COMPARED]),
            {ns: _form(child) for ns, child in cp.children.items()}]


async def fork_thread(saver: Checkpointer, thread: str, checkpoint: str, *, metadata: dict[str, Any] | None = None) -> str:
    """Make ``checkpoint`` the thread's head again, on a new branch; return the new id.

    The same as ``graph.update_state(config_at_checkpoint, None, as_node="__copy__")``:
    a ``state.updated`` and a ``fork`` checkpoint copying the old one (state and next
    tasks) after it; the next ``invoke(None, config)`` continues from there. Needs no
    graph code: the copy is data. ``metadata`` is recorded (who forked, and why).
    Raises NotFoundError for an unknown thread or checkpoint; nothing is written then.
    """
    await read_events(saver, thread, checkpoint=checkpoint)
    config = {"configurable": {"thread_id": thread, "checkpoint_id": checkpoint},
              "metadata": dict(metadata or {})}
    new = await _copier(saver).aupdate_state(config, None, as_node="__copy__")
    return str(new["configurable"]["checkpoint_id"])


class _Copied(TypedDict):
    value: Any


def _copier(saver: Checkpointer) -> CompiledGraph:
    """A graph for ``update_state(as_node="__copy__")``, which uses no graph code."""
    from ._graph import StateGraph

    builder = StateGraph(_Copied)
    builder.add_node("copy", lambda state: None)
    builder.add_edge(START, "copy")
    return builder.compile(checkpointer=saver, name="lograph-fork")
