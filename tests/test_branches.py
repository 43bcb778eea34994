"""Walking a thread's branches (``lograph.eventlog.walk``, ``state_at``, ``Branches``): the
fold before each event on every branch, forks included; the one walk that history, the
replay verifier, checkpoint listings and the CLI share."""

from __future__ import annotations

import dataclasses
import operator
from typing import Annotated, Any, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lograph import eventlog
from lograph.adapters.memory import MemorySaver
from lograph.eventlog import (
    GENESIS,
    Branches,
    Checkpoint,
    CorruptLogError,
    Event,
    LogError,
    Opaque,
    ancestry,
    checkpoint_records,
    fold,
    make_event,
    state_at,
    walk,
)
from lograph.eventlog.bodies import (
    Body,
    CheckpointBody,
    InterruptItem,
    Interrupts,
    NodeWrites,
    Resume,
    Source,
    StateUpdated,
    TaskResult,
    encode_body,
)
from lograph.runtime import END, START, InvalidUpdateError, StateGraph, interrupt, replay, task

# --- a log built from bodies: any tree of branches ------------------------------------------


def body(seq: int) -> Body:
    """A body of some kind for event ``seq``: writes, checkpoints, results, interrupts."""
    match seq % 5:
        case 0:
            return CheckpointBody(Source.LOOP, {"n": ["set", seq], "log": ["ext", [seq]]}, [])
        case 1:
            return NodeWrites("n", [["n", seq]])
        case 2:
            return TaskResult("t", True, seq)
        case 3:
            return Interrupts((InterruptItem(f"i{seq}", seq),))
        case _:
            return Resume({f"i{seq - 1}": "yes"})


def log_of(parents: list[int], make: Any = body) -> list[Event]:
    """Events 1..n where event i follows ``parents[i - 1]`` (0: a root), by seq."""
    events: list[Event] = []
    for seq, parent in enumerate(parents, start=1):
        _, data = encode_body(b := make(seq))
        events.append(make_event(events[parent - 1].hash if parent else GENESIS, seq=seq, parent=parent,
                                 kind=b.KIND, step=seq, task_id=f"task{seq % 3}", ts=float(seq), body=data))
    return events


def folded(events: list[Event], seq: int) -> Checkpoint:
    chain = ancestry(events, seq)
    assert chain is not None
    return fold(None, chain)


trees = st.lists(st.integers(0, 10**6), min_size=1, max_size=40).map(
    lambda xs: [x % i for i, x in enumerate(xs, start=1)])  # event i follows one of 0..i-1


@settings(max_examples=200, deadline=None, derandomize=True)
@given(trees)
def test_walk_gives_each_event_the_fold_of_its_branch(parents: list[int]) -> None:
    events = log_of(parents)
    walker = Branches()
    seen = []
    for e, before in walker.walk(events):
        assert before == folded(events, e.parent), e.seq
        seen.append(e.seq)
    assert seen == [e.seq for e in events]
    leaves = {e.seq for e in events} - set(parents)
    assert set(walker.tips) == leaves
    for seq, tip in walker.tips.items():
        assert tip == folded(events, seq) == state_at(events, seq)
    assert state_at(events, 0) == Checkpoint()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(trees, st.integers(0, 10**6))
def test_a_walk_from_a_root_sees_its_descendants_only(parents: list[int], pick: int) -> None:
    events = log_of(parents)
    root = pick % (len(events) + 1)
    after = [e for e in events if e.seq > root]

    def descends(seq: int) -> bool:
        while seq > root:
            seq = events[seq - 1].parent
        return seq == root

    walker = Branches(root=root, state=folded(events, root))
    got = [(e.seq, before == folded(events, e.parent)) for e, before in walker.walk(after)]
    assert got == [(e.seq, True) for e in after if descends(e.seq)]

    # forks=False: one branch, each event's first child (what ``get_state`` at a
    # checkpoint shows: its step on the first branch that went on from it)
    line, first = [], root
    for e in after:
        if e.parent == first:
            line.append(e.seq)
            first = e.seq
    walker = Branches(root=root, state=folded(events, root), forks=False)
    assert [e.seq for e, _ in walker.walk(after)] == line
    assert list(walker.tips) == [first] and walker.tips[first] == folded(events, first)


def test_a_walk_takes_events_as_they_come() -> None:
    """Windows of a log (as ``get_state`` reads one): the same folds as one walk."""
    events = log_of([0, 1, 2, 1, 4, 3, 6, 5, 2, 9, 10])
    whole = [(e.seq, before.copy()) for e, before in walk(events)]
    walker = Branches()
    parts = [(e.seq, before.copy()) for i in range(0, len(events), 3) for e, before in walker.walk(events[i:i + 3])]
    assert parts == whole


def test_a_body_the_caller_decoded_is_folded_without_decoding_again() -> None:
    events = log_of([0, 1])
    walker = Branches()
    for e, _ in walker.walk(events):
        if e.seq == 1:  # (what the verifier does: it reads each body itself first)
            walker.decoded[e.seq] = {"name": "n", "writes": [["n", "as decoded"]]}
    assert walker.tips[2].writes == {"task1": [["n", "as decoded"]]} and not walker.decoded


def test_a_broken_link_is_skipped_by_the_walk_and_refused_by_state_at() -> None:
    events = log_of([0, 1, 2, 3, 1])
    damaged = [e for e in events if e.seq != 3]  # event 4 follows a deleted row
    assert [e.seq for e, _ in walk(damaged)] == [1, 2, 5]
    with pytest.raises(LogError, match="event 4"):
        state_at(damaged, 4)
    one = Branches(root=1, state=folded(events, 1), forks=False)
    assert [e.seq for e, _ in one.walk(events[1:])] == [2, 3, 4]
    with pytest.raises(LogError, match="forks=True"):  # it kept no fold to fold a fork again
        one.state_at(2)


def test_an_undecodable_body_names_the_thread_and_the_event() -> None:
    events = log_of([0, 1, 2])
    events[1] = dataclasses.replace(events[1], body=b"\xff\xfe not cbor")
    with pytest.raises(CorruptLogError, match="event 2") as err:
        list(walk(events, thread="t1"))
    assert (err.value.thread, err.value.seq) == ("t1", 2)
    with pytest.raises(CorruptLogError, match="'t1', event 2"):
        state_at(events, 3, thread="t1")


def test_a_class_this_process_has_not_imported_is_read_leniently_when_asked() -> None:
    @dataclasses.dataclass
    class Hidden:
        secret: int

    events = log_of([0, 1], lambda seq: NodeWrites("n", [["x", Hidden(seq)]]) if seq == 1
                    else StateUpdated("n", None))
    eventlog._codec._REGISTRY.pop(f"{__name__}:{Hidden.__qualname__}", None)
    with pytest.raises(CorruptLogError, match="event 1"):
        list(walk(events))
    [(_, before)] = [(e, b) for e, b in walk(events, exact=False) if e.seq == 2]
    [(channel, value)] = before.writes["task1"]
    assert channel == "x" and isinstance(value, Opaque) and value.data == {"secret": 1}
    assert repr(state_at(events, 2, exact=False).writes) == repr(before.writes)  # (Opaque: no ==)


def test_the_audit_reads_the_lenient_path_through_the_walk() -> None:
    """``checkpoint_records`` lists a log whose values' classes are not importable."""

    @dataclasses.dataclass
    class Gone:
        x: int

    def make(seq: int) -> Body:
        if seq % 2:
            return NodeWrites("n", [["v", Gone(seq)]])
        return CheckpointBody(Source.LOOP, {"v": ["set", Gone(seq)]}, [{"name": "n", "path": ["pull", "n"]}])

    events = log_of([0, 1, 2, 3, 2, 5], make)
    eventlog._codec._REGISTRY.pop(f"{__name__}:{Gone.__qualname__}", None)
    records = checkpoint_records(events)
    assert [(r.seq, r.parent_id is None, r.next, r.changed, r.source) for r in records] == [
        (2, True, ("n",), ("v",), "loop"), (4, False, ("n",), ("v",), "loop"),
        (6, False, ("n",), ("v",), "loop")]
    assert records[1].parent_id == records[2].parent_id == records[0].id  # 6 forks from 2


# --- through the runtime: history, get_state at a checkpoint, the verifier ------------------


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def builder() -> Any:
    """START -> a -> ask (interrupts) -> END."""
    graph = StateGraph(Log)
    graph.add_node("a", lambda s: {"log": ["a"]})
    graph.add_node("ask", lambda s: {"log": [interrupt("ok?")]})
    graph.add_edge(START, "a")
    graph.add_edge("a", "ask")
    graph.add_edge("ask", END)
    return graph


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    extra = {"checkpoint_id": checkpoint_id} if checkpoint_id else {}
    return {"configurable": {"thread_id": thread, **extra}}


def view(snapshot: Any) -> Any:
    return (snapshot.values, snapshot.next, [(t.name, t.interrupts, t.error) for t in snapshot.tasks],
            snapshot.metadata, snapshot.parent_config)


@pytest.mark.anyio
async def test_history_and_get_state_agree_on_a_forked_step(anyio_backend: str) -> None:
    """A checkpoint whose step paused, then was forked from (after the head moved away):
    its record is the step on the first branch that went on from it, in history as in
    ``get_state`` at that checkpoint."""
    saver = MemorySaver()
    g = builder().compile(checkpointer=saver)
    await g.ainvoke({"log": []}, cfg("t"))
    history = [h async for h in g.aget_state_history(cfg("t"))]
    paused, first = (h.config["configurable"]["checkpoint_id"] for h in (history[0], history[-1]))
    await g.aupdate_state(cfg("t", first), {"log": ["x"]})  # the head moves to another branch
    await g.aupdate_state(cfg("t", paused), {"log": ["y"]}, as_node="a")  # a fork from the paused step
    for entry in [h async for h in g.aget_state_history(cfg("t"))]:
        at = await g.aget_state(entry.config)
        assert view(entry) == view(at), entry.config
    at = await g.aget_state(cfg("t", paused))
    assert [len(t.interrupts) for t in at.tasks] == [1]  # the first branch paused there
    events = await saver.log.read("t")
    assert await replay(builder(), "t", events) is None
    assert [r.id for r in reversed(checkpoint_records(events))] == [
        h.config["configurable"]["checkpoint_id"] async for h in g.aget_state_history(cfg("t"))]


# --- walking back: update_state without as_node acts as the step's last writer -------------


@pytest.mark.anyio
async def test_update_state_acts_as_the_node_that_wrote_last(anyio_backend: str) -> None:
    @task
    def echo(i: int) -> int:
        return i

    def many(state: Log) -> dict[str, Any]:  # a step of more events than one read window
        return {"log": [sum(echo(i).result() for i in range(70))]}

    graph = StateGraph(Log)
    graph.add_node("many", many)
    for name in ("x", "y", "z"):
        graph.add_node(name, lambda s, name=name: {"log": [name]})
    graph.add_edge(START, "many")
    graph.add_edge("many", "x")
    graph.add_edge("many", "y")
    graph.add_edge(["x", "y"], "z")
    graph.add_edge("z", END)
    g = graph.compile(checkpointer=MemorySaver(), interrupt_after=["many", "x"])
    await g.ainvoke({"log": []}, cfg("t"))
    assert len(await g.checkpointer.log.read("t")) > 70
    await g.aupdate_state(cfg("t"), {"log": ["u"]})  # as "many": x and y are next
    assert (await g.aget_state(cfg("t"))).next == ("x", "y")
    await g.ainvoke(None, cfg("t"))  # x and y run, and stop after the step
    with pytest.raises(InvalidUpdateError, match=r"several nodes wrote last \(\['x', 'y'\]\)"):
        await g.aupdate_state(cfg("t"), {"log": ["v"]})
