"""Reading a thread's past: the fold at its head or at a checkpoint, and its history.

Rules:
- History is never served from an edited log: every event's link is checked first.
- A checkpoint's *record* is the checkpoint with what happened in its step (task
  results, errors, interrupts) on the first branch that went on from it.
- History lists every checkpoint of every branch, newest first, as LangGraph's savers do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from lograph.eventlog import (
    Branches,
    Checkpoint,
    CorruptLogError,
    Event,
    EventLog,
    Kind,
    Seal,
    checkpoint_id,
    id_hash,
    parse_checkpoint_id,
    verify_chain,
)
from lograph.eventlog.bodies import INPUT, START, Interrupts, NodeWrites, StateUpdated, decode_body
from lograph.eventlog.lowlevel import persistent_ns

from ._errors import InvalidUpdateError
from ._step import plan

if TYPE_CHECKING:
    from ._actor import ThreadActor


async def locate(log: EventLog, thread: str, checkpoint_id: str) -> int:
    """The seq of checkpoint ``checkpoint_id`` in ``thread``, or a ValueError saying so."""
    try:
        seq, prefix = parse_checkpoint_id(checkpoint_id)
    except ValueError:
        raise ValueError(f"checkpoint_id {checkpoint_id!r} is not a lograph checkpoint id") from None
    events = await log.read(thread, after=seq - 1, upto=seq) if seq > 0 else []
    if not events or events[0].kind != Kind.CHECKPOINT or id_hash(events[0])[:8].hex() != prefix:
        raise ValueError(f"checkpoint_id {checkpoint_id!r} does not exist in thread {thread!r}")
    return seq


async def infer_as_node(log: EventLog, thread: str, cp: Checkpoint, ns: str = "") -> str:
    """The node an ``update_state`` without ``as_node`` acts as: the one that wrote last,
    in the step that made checkpoint ``cp`` of the graph at ``ns`` (START for none, or for
    the input)."""
    if not cp.checkpoint:
        return START
    writers: list[str] = []
    for e in await _step_of(log, thread, cp.checkpoint, ns):
        if e.ns != ns:
            continue  # another graph's events
        body = decode_body(e.kind, e.body) if e.kind in (Kind.NODE_WRITES, Kind.STATE_UPDATED) else None
        if isinstance(body, NodeWrites):
            writers.append(body.name)
        elif isinstance(body, StateUpdated):  # update_state(as_node=...) wrote last
            writers.append(START if body.as_node == INPUT else str(body.as_node))
    return _last_writer(writers)


def _last_writer(writers: list[str]) -> str:
    names = sorted({w for w in writers if w not in (START, INPUT)})
    if len(names) == 1:
        return names[0]
    if not names:
        return START if any(w == START for w in writers) or not writers else names[0]
    raise InvalidUpdateError(f"ambiguous update: several nodes wrote last ({names}); pass as_node=")


async def _step_of(log: EventLog, thread: str, seq: int, ns: str = "") -> list[Event]:
    """The events of the step that checkpoint ``seq`` (of the graph at ``ns``) ends, newest
    first: its branch back to that graph's checkpoint before it, read back in windows."""
    by_seq: dict[int, Event] = {}
    out: list[Event] = []
    low = cursor = seq
    while cursor:
        if cursor not in by_seq:
            low, upto = max(0, cursor - 64), low
            by_seq.update((e.seq, e) for e in await log.read(thread, after=low, upto=upto))
        e = by_seq[cursor]
        if cursor != seq:
            if e.kind == Kind.CHECKPOINT and e.ns == ns:
                break
            out.append(e)
        cursor = e.parent
    return out


async def last_of(actor: ThreadActor, head: Checkpoint, ns: str) -> Checkpoint | None:
    """The fold at the last event of the graph at ``ns`` (or one inside it) on the branch
    ending at ``head``: where a subgraph whose state lives for its caller's step left it
    (the top graph's next checkpoint dropped it from ``head``). None: it never ran there."""
    log, thread = actor.saver.log, actor.thread
    inside = ns + "|"
    by_seq: dict[int, Event] = {}
    cursor = head.head
    while cursor:
        if cursor not in by_seq:
            by_seq = {e.seq: e for e in await log.read(thread, after=max(0, cursor - _WINDOW), upto=cursor)}
        e = by_seq[cursor]
        if e.ns == ns or e.ns.startswith(inside):
            return await actor.load(e.seq)
        cursor = e.parent
    return None


async def head_state(actor: ThreadActor) -> Checkpoint:
    """The fold at the thread's head without waiting for a running turn."""
    head, loaded = await actor.read_head()
    if loaded is None:
        assert actor.cached is not None
        return actor.cached.copy()
    cp, base = loaded
    if head and not actor.busy and (actor.cached is None or actor.head < head):
        actor.cached, actor.head, actor.base = cp.copy(), head, base  # the next read is warm
    return cp


def _ends(e: Event, ns: str) -> bool:
    """``e`` ends the record of a checkpoint of the graph at ``ns``: the graph's next
    checkpoint, or (a subgraph whose state lives for its caller's step) the top graph's."""
    return e.kind == Kind.CHECKPOINT and (e.ns == ns or (not e.ns and not persistent_ns(ns)))


async def record_at(actor: ThreadActor, seq: int, ns: str = "") -> Checkpoint:
    """The record of checkpoint ``seq``, as history shows it: the checkpoint with what
    happened in its step (results, errors, interrupts) on the first branch that went on
    from it. (The top graph's fold: a subgraph's record is its ``children[ns]``.)"""
    branch = Branches(root=seq, state=await actor.load(seq), forks=False, thread=actor.thread)
    raised: dict[str, dict[str, Any]] = {}
    updates: list[StateUpdated] = []
    after = seq
    while events := await actor.saver.log.read(actor.thread, after=after, upto=after + 64):
        for e, before in branch.walk(events):
            if _ends(e, ns):
                return _updated(_answered(before, ns, raised), ns, updates)
            if e.kind == Kind.INTERRUPT and e.ns == ns:
                raised.update(_raised(e))
            elif e.kind == Kind.STATE_UPDATED and e.ns == ns:
                updates.append(_update_of(e))
        after = events[-1].seq
    [tip] = branch.tips.values()
    return _answered(tip, ns, raised)


def _update_of(e: Event) -> StateUpdated:
    body = decode_body(e.kind, e.body)
    assert isinstance(body, StateUpdated)
    return body


def _updated(cp: Checkpoint, ns: str, updates: list[StateUpdated]) -> Checkpoint:
    """``cp`` (a record that ends at an ``update_state`` checkpoint) with each update as
    node X shown as the writes of the first task for X its step planned that has none:
    LangGraph keeps them as that task's writes, so its result shows them."""
    if not updates:
        return cp
    cp = cp.copy()
    own = _own(cp, ns)
    tasks = plan(own, ns, commands=False)
    for update in updates:
        if not isinstance(update.values, dict):  # (a Command, a model, a one-value state: not shown)
            continue
        task = next((t for t in tasks if t.name == update.as_node and t.id not in own.writes), None)
        if task is not None:
            own.writes[task.id] = [[k, v] for k, v in update.values.items()]
    return cp


def _raised(e: Event) -> dict[str, dict[str, Any]]:
    """The interrupts an ``interrupt`` event records, as the fold keeps them."""
    body = decode_body(e.kind, e.body)
    assert isinstance(body, Interrupts)
    return {i.id: {"value": i.value, "task_id": e.task_id, **({} if i.schema is None else {"schema": i.schema})}
            for i in body.interrupts}


def _answered(cp: Checkpoint, ns: str, raised: dict[str, dict[str, Any]]) -> Checkpoint:
    """``cp`` (the whole fold; the graph at ``ns`` is its part) with every interrupt its
    step raised, answered since or not: a record shows them, as LangGraph's checkpoints
    keep them (find the interrupt, fork from there). The fold drops an answered one."""
    own = _own(cp, ns)
    if all(iid in own.interrupts for iid in raised):
        return cp
    cp = cp.copy()
    own = _own(cp, ns)
    own.interrupts = {**{iid: own.interrupts.get(iid, item) for iid, item in raised.items()},
                      **own.interrupts}
    return cp


def verified(thread: str, events: list[Event], seal: Seal | None = None) -> None:
    """Check every event's link (CorruptLogError naming the first bad row), as loading a
    branch does: history is never served from an edited log. (An undecodable body is
    found by the fold that follows.)"""
    report = verify_chain(thread, events, limit=1, bodies=False, seal=seal)
    if report.first is not None:
        raise CorruptLogError(thread, report.first.seq,
                              f"hash chain broken: {report.first.reason}; run `lograph verify`")


def records(events: list[Event], thread: str = "", ns: str = "") -> list[Checkpoint]:
    """Every checkpoint of the graph at ``ns`` on every branch, as a record of its step
    (open-step events included): its fold just before the next checkpoint on the first
    branch that went on from it, or at that branch's tip (what ``record_at`` gives)."""
    branches = Branches(thread=thread)
    out: dict[int, Checkpoint] = {}
    line: dict[int, int] = {}  # the last event of a checkpoint's first branch -> that checkpoint
    raised: dict[int, dict[str, dict[str, Any]]] = {}  # checkpoint -> interrupts of its step
    updates: dict[int, list[StateUpdated]] = {}  # checkpoint -> update_state calls of its step
    # (``_ends`` inlined, the kinds looked up once: this loop runs once per event)
    top_ends = not persistent_ns(ns)
    checkpoint, interrupt, state_updated = Kind.CHECKPOINT, Kind.INTERRUPT, Kind.STATE_UPDATED
    for e, before in branches.walk(events):
        owner = line.pop(e.parent, 0)  # popped: a later child of the same event is a fork
        kind = e.kind
        if kind == checkpoint and (e.ns == ns or (top_ends and not e.ns)):
            if owner:
                record = before
                if owner in raised:
                    record = _answered(record, ns, raised.pop(owner))
                if owner in updates:
                    record = _updated(record, ns, updates.pop(owner))
                out[owner] = (_own(record, ns) if ns else record).copy()
            if e.ns == ns:
                line[e.seq] = e.seq
        elif owner:
            line[e.seq] = owner
            if kind == interrupt and e.ns == ns:
                raised.setdefault(owner, {}).update(_raised(e))
            elif kind == state_updated and e.ns == ns:
                updates.setdefault(owner, []).append(_update_of(e))
    for seq, owner in line.items():
        out[owner] = _own(_answered(branches.tips[seq], ns, raised.pop(owner, {})), ns)
    return [out[k] for k in sorted(out)]


_WINDOW = 256  # events read at a time, backwards from the head


async def _lazily(actor: ThreadActor, only: str | None, below: int | None,
                  limit: int | None) -> AsyncIterator[Checkpoint]:
    """The records of the top graph's checkpoints newest first, each folded when asked."""
    log, thread = actor.saver.log, actor.thread
    if only:
        try:
            seq = parse_checkpoint_id(only)[0]
        except ValueError:
            return
        found = await log.read(thread, after=seq - 1, upto=seq) if seq > 0 else []
        if (found and found[0].kind == Kind.CHECKPOINT and not found[0].ns
                and checkpoint_id(seq, id_hash(found[0])) == only and (below is None or seq < below)
                and (limit is None or limit > 0)):
            yield await record_at(actor, seq)
        return
    count = 0
    high = await log.head(thread)
    if below is not None:
        high = min(high, below - 1)
    while high > 0:
        low = max(0, high - _WINDOW)
        for e in reversed(await log.read(thread, after=low, upto=high)):
            if e.kind != Kind.CHECKPOINT or e.ns:
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield await record_at(actor, e.seq)
        high = low


def _own(cp: Checkpoint, ns: str) -> Checkpoint:
    return (cp.children.get(ns) or Checkpoint()) if ns else cp


async def every_namespace(
    log: EventLog, thread: str, *, filter: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None, limit: int | None = None, seal: Seal | None = None,
) -> AsyncIterator[tuple[str, Checkpoint]]:
    """``(namespace, record)`` for every checkpoint of every graph of ``thread`` (the top
    graph's and each subgraph's), newest first, as LangGraph's savers list a config that
    names no ``checkpoint_ns``."""
    events = await log.read(thread)
    verified(thread, events, seal)
    namespaces = dict.fromkeys(e.ns for e in events if e.kind == Kind.CHECKPOINT)
    found = [(cp.checkpoint, ns, cp) for ns in namespaces for cp in records(events, thread, ns)]
    below = _below(before)
    count = 0
    for seq, ns, cp in sorted(found, key=lambda item: item[0], reverse=True):
        if (below is not None and seq >= below) or (
                filter and any(cp.metadata.get(k) != v for k, v in filter.items())):
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        yield ns, cp


def _below(before: dict[str, Any] | None) -> int | None:
    bid = ((before or {}).get("configurable") or {}).get("checkpoint_id")
    return parse_checkpoint_id(bid)[0] if bid else None


async def history(
    log: EventLog, thread: str, *, only: str | None = None, filter: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None, limit: int | None = None, seal: Seal | None = None,
    ns: str = "", actor: ThreadActor | None = None,
) -> AsyncIterator[Checkpoint]:
    """Every checkpoint record of ``thread`` (of the graph at ``ns``: its own folds),
    newest first (``only``: the one with that id; ``before``: a config naming a
    checkpoint, those below it; ``filter``: metadata; ``seal``: the store's chain key,
    for keyed threads).

    Lazy when it can be (``actor`` given, a ``limit`` or ``only``, no ``filter``, the top
    graph): the log is read backwards in windows and each record is folded from the
    snapshot nearest it as it is asked for, checking the links it folds (as ``get_state``
    does), so ``limit=5`` on a long thread costs five records, not the whole thread.
    Otherwise every link is checked and one pass folds every record (the cheapest way to
    list them all)."""
    below = _below(before)
    if actor is not None and (limit is not None or only) and not filter and not ns:
        async for cp in _lazily(actor, only, below, limit):
            yield cp
        return
    events = await log.read(thread)
    verified(thread, events, seal)
    count = 0
    for cp in reversed(records(events, thread, ns)):
        if below is not None and cp.checkpoint >= below:
            continue
        if only and cp.id != only:
            continue
        if filter and any(cp.metadata.get(k) != v for k, v in filter.items()):
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        yield cp
