"""The audit trail API: typed events, timelines, JSON form, chain and snapshot verification,
replay against the graph's code, thread summaries and forks (the CLI is tests/test_cli.py)."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import operator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph import eventlog, runtime
from lograph.adapters.memory import MemorySaver
from lograph.eventlog import (
    GENESIS,
    CheckpointReached,
    Event,
    InterruptRaised,
    Kind,
    NodeWrites,
    NotFoundError,
    Opaque,
    Resumed,
    RunStarted,
    TaskResult,
    ThreadInfo,
    checkpoint_records,
    decode_lenient,
    dump_snapshot,
    encode,
    event_from_json,
    event_to_json,
    fold,
    format_timeline,
    make_event,
    summarize,
    timeline,
    to_json,
    typed,
    verify_chain,
)
from lograph.runtime import (
    END,
    START,
    AIMessage,
    Command,
    Send,
    StateGraph,
    add_messages,
    fork_thread,
    interrupt,
    read_events,
    read_store,
    read_thread,
    replay,
    task,
    verify_store,
    verify_thread,
)
from tests._stores import open_saver

# --- the graphs ------------------------------------------------------------------------------


class Review(TypedDict, total=False):
    log: Annotated[list, operator.add]
    messages: Annotated[list, add_messages]
    decision: str


@task
def double(x: int) -> int:
    return x * 2


def plan(state: Review) -> dict[str, Any]:
    return {"log": ["plan"], "messages": [AIMessage(content="a plan")]}  # no id: the reducer sets one


def work(state: Review) -> dict[str, Any]:
    return {"log": [f"work{double(len(state['log'])).result()}"]}


def ask(state: Review) -> dict[str, Any]:
    return {"decision": interrupt({"question": "go?"})}


def finish(state: Review) -> dict[str, Any]:
    return {"log": ["finish"]}


def route(state: Review) -> str:
    return "finish" if state["decision"] == "yes" else END


def _unannotated(fn: Any, state: Any) -> Any:
    return fn(state)


def review(route_fn: Any = route, *, schema: Any = Review, skip: str | None = None,
           annotated: bool = True) -> StateGraph:
    """START -> plan -> work -> ask -(route)-> finish | END. Not ``annotated``: the nodes
    and the router do not name ``Review`` (which would declare its keys, as in LangGraph)."""
    builder = StateGraph(schema)
    for name, fn in (("plan", plan), ("work", work), ("ask", ask), ("finish", finish)):
        if name != skip:
            builder.add_node(name, fn if annotated else (lambda s, fn=fn: fn(s)))
    if not annotated:
        route_fn = functools.partial(_unannotated, route_fn)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "work")
    builder.add_edge("work", "ask")
    builder.add_conditional_edges("ask", route_fn, ["finish", END] if skip != "finish" else [END])
    if skip != "finish":
        builder.add_edge("finish", END)
    return builder


class Fan(TypedDict, total=False):
    log: Annotated[list, operator.add]


def fan(items: int = 2) -> StateGraph:
    """START -> a -> (b, c) -> join d -> Send(item, i) for each i -> END: joins and Sends."""

    def node(name: str) -> Any:
        return lambda state: {"log": [name]}

    builder = StateGraph(Fan)
    for name in ("a", "b", "c", "d"):
        builder.add_node(name, node(name))
    builder.add_node("item", lambda arg: {"log": [f"item{arg}"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    builder.add_edge(["b", "c"], "d")
    builder.add_conditional_edges("d", lambda state: [Send("item", i) for i in range(items)])
    return builder


def other_hash(checkpoint_id: str) -> str:
    """The same seq, a hash prefix that differs: an id that does not exist."""
    return checkpoint_id[:-1] + ("1" if checkpoint_id[-1] == "0" else "0")


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


async def reviewed(saver: Any, thread: str = "t") -> Any:
    """A review thread: run, interrupt, resume by alice (yes), then an update by bob."""
    graph = review().compile(checkpointer=saver)
    out = await graph.ainvoke({"log": ["in"]}, cfg(thread, user="carol"))
    assert "__interrupt__" in out
    out = await graph.ainvoke(Command(resume="yes"), cfg(thread, user="alice"))
    assert out["log"] == ["in", "plan", "work4", "finish"]
    await graph.aupdate_state(cfg(thread, user="bob"), {"decision": "no"}, as_node="ask")
    return graph


pytestmark = pytest.mark.anyio


# --- reading a store -------------------------------------------------------------------------


async def test_read_verify_and_fork_on_every_store(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = await reviewed(saver)
        events = await saver.log.read("t")
        assert await read_events(saver, "t") == events
        typed_events = await read_thread(saver.log, "t")
        assert [e.event for e in typed_events] == events
        assert all(e.exact for e in typed_events)

        records = checkpoint_records(events)
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        assert [r.id for r in reversed(records)] == [s.config["configurable"]["checkpoint_id"] for s in history]
        before_ask = next(r for r in records if r.next == ("ask",))
        branch = await read_events(saver, "t", checkpoint=before_ask.id)
        assert branch[-1].seq == before_ask.seq
        assert [e.seq for e in branch] == [e.seq for e in eventlog.branch_of(events, before_ask.seq)]

        [summary] = await read_store(saver)
        assert (summary.thread, summary.status, summary.events) == ("t", "updated", len(events))
        assert summary.head == events[-1].seq and summary.head_hash == events[-1].hash
        assert summary.checkpoint_id == records[-1].id

        [verdict] = await verify_store(saver, graph=review())
        assert verdict.ok and verdict.replayed, verdict.problem

        new = await fork_thread(saver, "t", before_ask.id, metadata={"by": "dave"})
        state = await graph.aget_state(cfg("t"))
        assert state.config["configurable"]["checkpoint_id"] == new
        assert state.next == ("ask",) and state.metadata["by"] == "dave"
        out = await graph.ainvoke(None, cfg("t"))  # the fork continues from there
        assert "__interrupt__" in out
        after = await read_store(saver)
        assert after[0].status == "interrupted" and after[0].branches == 2
        assert (await verify_thread(saver, "t", graph=graph)).ok

        with pytest.raises(NotFoundError, match="'nope'"):
            await read_events(saver, "nope")
        with pytest.raises(NotFoundError, match="does not exist"):
            await read_events(saver, "t", checkpoint=other_hash(before_ask.id))
        head = await saver.log.head("t")
        with pytest.raises(NotFoundError):
            await fork_thread(saver, "t", "not-an-id")
        assert await saver.log.head("t") == head  # nothing written


async def test_typed_events_and_timeline(anyio_backend: str, tmp_path: Path) -> None:
    saver = MemorySaver()
    await reviewed(saver)
    events = await saver.log.read("t")
    by_kind: dict[str, list[Any]] = {}
    for e in map(typed, events):
        by_kind.setdefault(e.kind, []).append(e)
    started = by_kind[Kind.RUN_STARTED]
    assert all(isinstance(e, RunStarted) for e in started)
    assert [e.metadata.get("user") for e in started] == ["carol", "alice"]
    assert [e.resume for e in started] == [False, True]
    [asked] = by_kind[Kind.INTERRUPT]
    assert isinstance(asked, InterruptRaised) and asked.interrupts[0][1] == {"question": "go?"}
    [answer] = by_kind[Kind.RESUME]
    assert isinstance(answer, Resumed) and answer.values == {asked.interrupts[0][0]: "yes"}
    [result] = by_kind[Kind.TASK_RESULT]
    assert isinstance(result, TaskResult) and (result.name, result.ok, result.value) == ("double", True, 4)
    work_writes = [e for e in by_kind[Kind.NODE_WRITES] if isinstance(e, NodeWrites) and e.name == "work"]
    assert work_writes[0].writes == [("log", ["work4"])]
    assert all(isinstance(e, CheckpointReached) and e.id in {r.id for r in checkpoint_records(events)}
               for e in by_kind[Kind.CHECKPOINT])

    rows = timeline(events)
    assert [r.seq for r in rows] == [e.seq for e in events]
    writes = next(r for r in rows if r.kind == Kind.NODE_WRITES and r.node == "work")
    assert writes.duration is not None and writes.duration >= 0 and "log=['work4']" in writes.summary
    resume = next(r for r in rows if r.kind == Kind.RESUME)
    assert resume.who == "user=alice" and "'yes'" in resume.summary
    update = next(r for r in rows if r.kind == Kind.STATE_UPDATED)
    assert (update.node, update.who) == ("ask", "user=bob")
    ask_row = next(r for r in rows if r.kind == Kind.INTERRUPT)
    assert ask_row.node == "ask" and "go?" in ask_row.summary
    finished = [r for r in rows if r.kind == Kind.RUN_FINISHED]
    assert [r.summary for r in finished] == ["interrupted", "done"]
    assert all(r.duration is not None for r in finished)
    assert not any(r.branches for r in rows)
    text = format_timeline(rows).splitlines()
    assert len(text) == 1 + len(rows) and text[0].split()[:3] == ["seq", "time", "(UTC)"]
    assert "user=alice" in next(line for line in text if " resume " in line)


# --- the JSON form ----------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: tuple[int, int]


def test_json_form_round_trips_events_and_tags_values() -> None:
    value = {
        "t": (1, 2), "s": {3, 1}, "b": b"\x00\xff", "n": math.nan, "d": Decimal("1.5"),
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "keys": {1: "one"}, "$x": 1,
        "p": Point(1, (2, 3)), "m": [AIMessage(content="hi", id="m1")],
    }
    event = make_event(GENESIS, seq=1, parent=0, kind=Kind.NODE_WRITES, ts=1.25, step=3,
                       task_id="task", run_id="run", body=encode({"name": "n", "writes": [["v", value]]}))
    data = json.loads(json.dumps(event_to_json(event, "thread-1")))
    assert data["thread"] == "thread-1" and data["hash"] == event.hash.hex()
    assert event_from_json(data) == event
    body = data["body"]["writes"][0][1]
    assert body["$map"][0] == ["t", {"$tuple": [1, 2]}]  # a "$" key: the dict is a tagged map
    shown = dict((k, v) for k, v in body["$map"])
    assert shown["s"] == {"$set": [1, 3]} and shown["n"] == {"$float": "nan"}
    assert shown["b"] == {"$bytes": "AP8="} and shown["d"] == {"$decimal": "1.5"}
    assert shown["when"] == {"$datetime": "2024-01-02T03:04:05+00:00"}
    assert shown["keys"] == {"$map": [[1, "one"]]}
    assert shown["p"] == {"$dataclass": f"{__name__}:Point", "fields": {"x": 1, "y": {"$tuple": [2, 3]}}}
    assert shown["m"][0]["fields"]["content"] == "hi"
    assert to_json({"plain": [1, "a", None, True]}) == {"plain": [1, "a", None, True]}
    with pytest.raises(ValueError, match="'raw'"):
        event_from_json({k: v for k, v in data.items() if k != "raw"})


def test_lenient_decode_never_builds_an_unknown_class() -> None:
    @dataclasses.dataclass
    class Hidden:
        secret: int

    data = encode({"h": Hidden(7)})
    eventlog._codec._REGISTRY.pop(f"{__name__}:{Hidden.__qualname__}", None)
    with pytest.raises(eventlog.DecodeError):
        eventlog.decode(data)
    opaque = decode_lenient(data)["h"]
    assert isinstance(opaque, Opaque) and (opaque.kind, opaque.data) == ("dataclass", {"secret": 7})
    event = make_event(GENESIS, seq=1, parent=0, kind=Kind.TASK_RESULT, ts=1.0,
                       body=encode({"name": "t", "ok": True, "value": 1}))
    event = dataclasses.replace(event, body=data)
    assert typed(event).exact is False and isinstance(typed(event).body["h"], Opaque)


def test_typed_events_carry_their_body_object_and_fall_back_to_defaults() -> None:
    """``.data`` is the body as its class in ``bodies``; a body that is not one (not
    written by lograph, or by a newer one) has ``.data`` None and each property its
    default, and the timeline shows it as stored."""
    from lograph.eventlog import bodies

    made = [
        bodies.RunStarted(True, "sync", fork=True, metadata={"user": "ann"}),
        bodies.NodeFailed("n", "ValueError('x')", "ValueError", attempt=2, final=False),
        bodies.Interrupts((bodies.InterruptItem("i1", {"q": 1}),)),
        bodies.CheckpointBody(bodies.Source.UPDATE, {"v": ["set", 1]}, [{"name": "n", "path": ["pull", "n"]}]),
        bodies.RunFinished(bodies.RunStatus.FAILED, "boom"),
    ]
    events = []
    for seq, made_body in enumerate(made, start=1):
        events.append(make_event(events[-1].hash if events else GENESIS, seq=seq, parent=seq - 1,
                                 kind=made_body.KIND, ts=float(seq), body=bodies.encode_body(made_body)[1]))
    started, failed, asked, checkpoint, finished = map(typed, events)
    assert [e.data for e in (started, failed, asked, checkpoint, finished)] == made
    assert (started.resume, started.fork, started.durability, started.metadata) == (True, True, "sync", {"user": "ann"})
    assert (failed.name, failed.error, failed.attempt, failed.final) == ("n", "ValueError('x')", 2, False)
    assert asked.interrupts == [("i1", {"q": 1})]
    assert (checkpoint.source, checkpoint.next, checkpoint.delta) == ("update", [{"name": "n", "path": ["pull", "n"]}],
                                                                     {"v": ["set", 1]})
    assert type(checkpoint.source) is str and type(finished.status) is str
    assert (finished.status, finished.error) == ("failed", "boom")

    foreign = make_event(GENESIS, seq=1, parent=0, kind=Kind.NODE_WRITES, ts=1.0, task_id="t",
                         body=encode({"name": "n", "changes": [1]}))  # no "writes": not a lograph body
    read = typed(foreign)
    assert isinstance(read, NodeWrites) and read.data is None and read.body == {"name": "n", "changes": [1]}
    assert (read.name, read.writes) == ("", [])
    newer = make_event(GENESIS, seq=1, parent=0, kind=Kind.RUN_FINISHED, ts=1.0,
                       body=encode({"status": "done", "v": 99}))  # a version this lograph cannot read
    assert typed(newer).data is None and typed(newer).status == "" and typed(newer).get("status") == "done"
    [row] = timeline([foreign])
    assert row.kind == Kind.NODE_WRITES and "changes" in row.summary
    stored = {"source": "loop", "delta": {}, "next": []}  # a checkpoint of version 1: upcast on read
    older = typed(make_event(GENESIS, seq=1, parent=0, kind=Kind.CHECKPOINT, ts=1.0, body=encode(stored)))
    assert isinstance(older.data, bodies.CheckpointBody) and older.data.ids_derived is False
    assert older.body == stored  # as stored: the upcast is the body object's, not the map's


# --- the hash chain -----------------------------------------------------------------------------


def chain(n: int) -> list[Event]:
    events: list[Event] = []
    for seq in range(1, n + 1):
        parent_hash = events[-1].hash if events else GENESIS
        events.append(make_event(parent_hash, seq=seq, parent=seq - 1, kind=Kind.NODE_STARTED,
                                 ts=float(seq), body=encode({"name": f"n{seq}", "path": [], "attempt": 1})))
    return events


def test_verify_chain_names_the_first_bad_event() -> None:
    events = chain(6)
    assert verify_chain("t", events).ok
    edited = list(events)
    edited[2] = dataclasses.replace(events[2], body=encode({"name": "evil", "path": [], "attempt": 1}))
    report = verify_chain("t", edited)
    assert report.first is not None and (report.first.thread, report.first.seq) == ("t", 3)
    assert "edited" in report.first.reason and len(report.problems) == 1

    resealed = list(events)
    resealed[2] = make_event(events[1].hash, seq=3, parent=2, kind=Kind.NODE_STARTED, ts=3.0,
                             body=encode({"name": "evil", "path": [], "attempt": 1}))
    report = verify_chain("t", resealed)
    assert report.first is not None and report.first.seq == 4 and "event 3 was edited" in report.first.reason

    deleted = events[:3] + events[4:]
    report = verify_chain("t", deleted)
    assert report.first is not None and report.first.seq == 4 and "deleted" in report.first.reason
    assert [p.seq for p in report.problems] == [4, 5]  # the gap, then the orphan

    garbled = list(events)
    garbled[0] = make_event(GENESIS, seq=1, parent=0, kind=Kind.NODE_STARTED, ts=1.0, body=b"\xff\xff")
    assert "cannot be decoded" in verify_chain("t", garbled).problems[0].reason


def test_verify_chain_can_check_the_links_only() -> None:
    """``bodies=False``: for a caller that folds the events next (history), which reports
    an undecodable body itself; a broken link is still found at once."""
    garbled = [make_event(GENESIS, seq=1, parent=0, kind=Kind.NODE_STARTED, ts=1.0, body=b"\xff\xff")]
    assert not verify_chain("t", garbled).ok
    assert verify_chain("t", garbled, bodies=False).ok
    edited = chain(4)
    edited[1] = dataclasses.replace(edited[1], body=encode({"name": "evil"}))
    report = verify_chain("t", edited, bodies=False, limit=1)
    assert report.first is not None and report.first.seq == 2 and len(report.problems) == 1
    assert report.events == 2  # stopped at the limit


async def test_an_edited_snapshot_is_reported(anyio_backend: str) -> None:
    saver = MemorySaver(snapshot_every=1)
    await reviewed(saver)
    seq = (await saver.log.snapshots("t"))[-1]
    assert (await verify_thread(saver, "t")).ok
    events = await saver.log.read("t")
    cp = fold(None, eventlog.branch_of(events, seq))
    cp.values = {**cp.values, "decision": "forged"}
    await saver.log.put_snapshot("t", seq, dump_snapshot(cp))
    verdict = await verify_thread(saver, "t")
    assert not verdict.ok and verdict.problem is not None and f"snapshot at event {seq}" in verdict.problem


def test_thread_status() -> None:
    def status(*kinds_bodies: tuple[str, dict[str, Any]]) -> str:
        events: list[Event] = []
        for seq, (kind, body) in enumerate(kinds_bodies, start=1):
            events.append(make_event(events[-1].hash if events else GENESIS, seq=seq, parent=seq - 1,
                                     kind=kind, ts=float(seq), body=encode(body)))
        return summarize(ThreadInfo("t", len(events), len(events), 0, 0.0), events).status

    started = (Kind.RUN_STARTED, {"resume": False, "durability": "sync", "metadata": {}})
    assert status(started) == "running"  # no end recorded: still running, or its process died
    assert status(started, (Kind.RUN_FINISHED, {"status": "failed", "error": "E"})) == "failed"
    assert status(started, (Kind.RUN_FINISHED, {"status": "done", "error": None})) == "done"


# --- replay against the graph's code -----------------------------------------------------------


def always_finish(state: Review) -> str:
    return "finish"


def finish_unless_missing(state: Review) -> str:
    return "finish" if state.get("decision") in ("yes", "no") else END


class Renamed(TypedDict, total=False):
    log: Annotated[list, operator.add]
    messages: Annotated[list, add_messages]


class Reversed(TypedDict, total=False):
    log: Annotated[list, lambda a, b: b + a]
    messages: Annotated[list, add_messages]
    decision: str


def relinked() -> StateGraph:
    builder = review()
    builder._edges = [("plan", "ask") if edge == ("plan", "work") else edge for edge in builder._edges]
    return builder


CHANGES = {
    # what changed in the code: (the graph now, what diverges, the event kind it names)
    "a conditional edge": (lambda: review(always_finish), "update_state(as_node='ask')", Kind.CHECKPOINT),
    "a node removed": (lambda: review(skip="finish"), "node 'finish'", Kind.CHECKPOINT),
    "an edge": (relinked, "the next tasks", Kind.CHECKPOINT),
    "a reducer": (lambda: review(schema=Reversed), "the value of 'log'", Kind.CHECKPOINT),
    "a state key removed": (lambda: review(schema=Renamed, annotated=False), "", Kind.NODE_WRITES),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_replay_reports_the_first_divergence(anyio_backend: str, change: str) -> None:
    saver = MemorySaver()
    await reviewed(saver)
    events = await saver.log.read("t")
    assert await replay(review(), "t", events) is None
    assert await replay(review().compile(), "t", events) is None
    builder, what, kind = CHANGES[change]
    found = await replay(builder(), "t", events)
    assert found is not None, change
    assert found.thread == "t" and what in str(found)
    event = events[found.seq - 1]
    assert event.seq == found.seq and event.step == found.step
    assert event.kind == kind, (change, event.kind, str(found))
    assert found.log != found.code


async def test_replay_of_a_changed_route_names_the_node_writes(anyio_backend: str) -> None:
    saver = MemorySaver()
    graph = review().compile(checkpointer=saver)
    await graph.ainvoke({"log": []}, cfg("t"))
    await graph.ainvoke(Command(resume="yes"), cfg("t"))
    events = await saver.log.read("t")
    found = await replay(review(lambda s: END), "t", events)
    assert found is not None and found.what == "the conditional edge of 'ask'"
    assert events[found.seq - 1].kind == Kind.NODE_WRITES
    assert found.log == "it went to [finish]" and found.code == "it goes to [] (END)"
    assert await replay(review(finish_unless_missing), "t", events) is None  # same decision


async def test_replay_of_joins_sends_and_forks(anyio_backend: str) -> None:
    saver = MemorySaver()
    graph = fan(2).compile(checkpointer=saver)
    out = await graph.ainvoke({"log": []}, cfg("t"))
    assert out["log"] == ["a", "b", "c", "d", "item0", "item1"]
    history = [s async for s in graph.aget_state_history(cfg("t"))]
    await graph.ainvoke(None, {"configurable": {"thread_id": "t", **_cid(history[-3])}})
    events = await saver.log.read("t")
    assert await replay(fan(2), "t", events) is None
    found = await replay(fan(3), "t", events)
    assert found is not None and "conditional edge of 'd'" in found.what


def _cid(snapshot: Any) -> dict[str, Any]:
    return {"checkpoint_id": snapshot.config["configurable"]["checkpoint_id"]}


def test_the_public_surface() -> None:
    for module in (eventlog, runtime):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    assert len(set(eventlog.__all__)) == len(eventlog.__all__)
    assert len(set(runtime.__all__)) == len(runtime.__all__)


class Outer(TypedDict, total=False):
    topic: str
    verdict: str


class Inner(TypedDict, total=False):
    topic: str
    verdict: str
    draft: str


def team(*, check: bool = True) -> Any:
    builder = StateGraph(Inner)
    builder.add_node("write", lambda state: {"draft": f"on {state['topic']}"})
    builder.add_node("check", lambda state: {"verdict": f"{state['draft']}: {interrupt('ok?')}"})
    builder.add_edge(START, "write")
    builder.add_edge("write", "check" if check else END)
    builder.add_edge("check", END)
    return builder.compile()


def outer(sub: Any) -> StateGraph:
    builder = StateGraph(Outer)
    builder.add_node("team", sub)
    builder.add_edge(START, "team")
    builder.add_edge("team", END)
    return builder


async def test_replay_checks_a_subgraph_against_its_own_structure(anyio_backend: str) -> None:
    saver = MemorySaver()
    graph = outer(team()).compile(checkpointer=saver)
    await graph.ainvoke({"topic": "owls"}, cfg("t"))
    out = await graph.ainvoke(Command(resume="fine"), cfg("t"))
    assert out["verdict"] == "on owls: fine"
    events = await saver.log.read("t")
    assert {e.ns.split(":")[0] for e in events} == {"", "team"}
    assert await replay(outer(team()), "t", events) is None
    found = await replay(outer(team(check=False)), "t", events)
    assert found is not None and found.what == "in subgraph 'team', the next tasks"
    assert (found.log, found.code) == ("[check]", "[] (END)") and events[found.seq - 1].ns
    records = checkpoint_records(events)
    assert [r.id for r in reversed(records)] == [
        s.config["configurable"]["checkpoint_id"] async for s in graph.aget_state_history(cfg("t"))]
    rows = timeline(events)
    assert {r.node for r in rows if r.ns} >= {"team/write", "team/check"}
    [summary] = await read_store(saver)
    assert summary.status == "done"
