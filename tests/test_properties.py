"""Property tests (hypothesis): the log is the truth, snapshots are only a cache, and
concurrent work on one thread never loses an update.

- For random graphs (parallel branches, joins, conditional edges, ``Send``, sync and
  async nodes, breakpoints) driven by random invocations, state updates and durability
  modes, on every store: the state streamed after every step (``stream_mode="values"``)
  equals the fold of the log read back up to that step's checkpoint; after every
  operation ``aget_state`` (cached actor and fresh process alike) equals a fold of the
  log from scratch, and loading through every snapshot gives the fold from scratch.
- Dropping every snapshot changes no answer: get_state (head and every checkpoint),
  history, and a resume of a pending interrupt give the same results.
- Random interleavings of concurrent runs and ``update_state`` calls on one thread, in
  one process (serialised by the thread actor) and from two "processes" (two savers on
  one store: the loser of a race gets ConflictError, reloads and decides again), lose
  no update and apply none twice. (A run that loses a race after its first steps were
  stored has its input in the thread: "decide again" means looking before retrying.)

Each example runs in its own event loop (``anyio.run``) on the backend named by the
test's ``backend`` parameter, asyncio and trio. Examples are derandomized in the default
size (the same examples every run); ``LOGRAPH_RELIABILITY=full`` runs many more, random.
"""

from __future__ import annotations

import itertools
import operator
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lograph.eventlog import ConflictError, Event, Kind, ancestry, decode, fold
from lograph.runtime import END, START, Checkpointer, Command, Send, StateGraph, interrupt
from lograph.runtime._step import live_values
from tests._reliability import TIMEOUT, scale, tally
from tests._stores import open_log
from tests.faults import verify_chain

MAX_NODES = 5
BACKENDS = ("asyncio", "trio")
EXAMPLES = {"memory": scale(25, 400), "sqlite": scale(8, 150), "postgres": scale(6, 100)}


def prop_settings(kind: str) -> Any:
    return settings(
        max_examples=EXAMPLES[kind], deadline=None, derandomize=not scale(False, True),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def scratch(tmp_path: Path) -> Path:
    """A fresh directory for one hypothesis example (tmp_path is shared by all of them)."""
    path = tmp_path / uuid.uuid4().hex
    path.mkdir()
    return path


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# --- random graphs ---------------------------------------------------------------------------


class PState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    total: Annotated[int, operator.add]
    last_0: tuple
    last_1: tuple
    last_2: tuple
    last_3: tuple
    last_4: tuple
    sent: int


@dataclass(frozen=True)
class GraphSpec:
    nodes: int
    is_async: tuple[bool, ...]
    entry: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]  # i -> j, i < j: the graph is a DAG, runs end
    joins: tuple[tuple[tuple[int, ...], int], ...]
    routers: tuple[tuple[int, tuple[int, ...]], ...]  # node -> later nodes it may route to
    sends: tuple[tuple[int, int], ...]  # node -> later node it Sends to
    breakpoint: int | None

    def name(self, i: int) -> str:
        return f"n{i}"


@st.composite
def graph_specs(draw: st.DrawFn) -> GraphSpec:
    k = draw(st.integers(1, MAX_NODES))
    later = {i: list(range(i + 1, k)) for i in range(k)}
    entry = tuple(sorted(draw(st.sets(st.integers(0, k - 1), min_size=1, max_size=2))))
    edges = tuple(
        (i, j) for i in range(k) for j in later[i] if draw(st.booleans())
    )
    joins = []
    for j in range(2, k):
        if draw(st.integers(0, 3)) == 0:
            sources = draw(st.sets(st.integers(0, j - 1), min_size=2, max_size=j))
            joins.append((tuple(sorted(sources)), j))
    routers = tuple(
        (i, tuple(later[i])) for i in range(k) if later[i] and draw(st.integers(0, 2)) == 0
    )
    sends = tuple(
        (i, draw(st.sampled_from(later[i]))) for i in range(k) if later[i] and draw(st.integers(0, 3)) == 0
    )
    brk = draw(st.one_of(st.none(), st.integers(0, k - 1)))
    is_async = tuple(draw(st.booleans()) for _ in range(k))
    return GraphSpec(k, is_async, entry, edges, tuple(joins), routers, sends, brk)


def node_fn(i: int, is_async: bool) -> Any:
    def body(state: dict[str, Any]) -> dict[str, Any]:
        log, total = state.get("log", []), state.get("total", 0)
        out: dict[str, Any] = {"log": [f"n{i}:{len(log)}:{total}"], "total": i + 1}
        if "sent" in state:  # a Send packet: its own input, and no last-value write
            out["log"] = [f"n{i}<{state['sent']}:{len(log)}"]
        else:
            out[f"last_{i}"] = (total, len(log), tuple(log[-2:]))
        return out

    if not is_async:
        return body

    async def abody(state: dict[str, Any]) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return body(state)

    return abody


def build(spec: GraphSpec, saver: Checkpointer) -> Any:
    b = StateGraph(PState)
    for i in range(spec.nodes):
        b.add_node(spec.name(i), node_fn(i, spec.is_async[i]))
    for i in spec.entry:
        b.add_edge(START, spec.name(i))
    for i, j in spec.edges:
        b.add_edge(spec.name(i), spec.name(j))
    for sources, j in spec.joins:
        b.add_edge([spec.name(s) for s in sources], spec.name(j))
    sends = dict(spec.sends)
    for i, targets in spec.routers:

        def route(state: dict[str, Any], _i: int = i, _t: tuple[int, ...] = targets) -> Any:
            pick = (state.get("total", 0) + len(state.get("log", []))) % (len(_t) + 1)
            out: list[Any] = [END] if pick == len(_t) else [f"n{_t[pick]}"]
            if _i in sends:
                out.append(Send(f"n{sends[_i]}", {"sent": _i, "log": list(state.get("log", []))[-1:]}))
            return out

        b.add_conditional_edges(spec.name(i), route)
    for i, j in spec.sends:
        if i not in dict(spec.routers):
            b.add_conditional_edges(
                spec.name(i),
                lambda s, _i=i, _j=j: [Send(f"n{_j}", {"sent": _i, "log": list(s.get("log", []))[-1:]})],
            )
    brk = [spec.name(spec.breakpoint)] if spec.breakpoint is not None else None
    return b.compile(checkpointer=saver, interrupt_before=brk)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("invoke"), st.sampled_from(["sync", "async", "exit"])),
        st.tuples(st.just("continue"), st.sampled_from(["sync", "async", "exit"])),
        st.tuples(st.just("update"), st.integers(0, MAX_NODES - 1)),
    ),
    min_size=1,
    max_size=4,
)


# --- the fold checks -----------------------------------------------------------------------


def visible(graph: Any, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = graph.structure.state.visible(values)
    return out


def branch(events: list[Event], tip: int) -> list[Event]:
    chain = ancestry(events, tip)
    assert chain is not None, f"event {tip}: parent links broken"
    return chain


async def check_fold_matches(graph: Any, log: Any, thread: str, saver_factory: Any) -> None:
    """aget_state (cached and fresh) == fold from scratch == fold from the newest snapshot."""
    events = await log.read(thread)
    verify_chain(events)
    head = events[-1].seq
    scratch = fold(None, branch(events, head))
    live = await graph.aget_state(cfg(thread))
    fresh_graph = saver_factory()
    fresh = await fresh_graph.aget_state(cfg(thread))
    assert live.values == fresh.values
    assert (live.next, live.config, live.metadata) == (fresh.next, fresh.config, fresh.metadata)
    if not scratch.writes:  # no open step: the live state is the folded values
        assert live.values == visible(graph, scratch.values)
    assert live.config["configurable"]["checkpoint_id"] == scratch.id
    # every snapshot is a cache of the fold: loading through it (whatever the snapshot
    # format: full or a delta of an earlier one) gives the fold from scratch, every field
    actor = Checkpointer(log).actor(thread)
    assert await actor.load(head) == scratch, "the fold through the snapshots differs"
    snapshots = await log.snapshots(thread)
    tally("properties", snapshots_checked=len(snapshots))
    for seq in snapshots:
        assert await actor.load(seq) == fold(None, branch(events, seq)), (
            f"the snapshot at event {seq} is not the fold of the log up to it"
        )


async def streamed_run(graph: Any, log: Any, thread: str, input: Any, mode: str) -> None:
    """Stream one run; every streamed state == the fold of the log up to its checkpoint."""
    before = await log.head(thread)
    chunks = [c async for c in graph.astream(input, cfg(thread), stream_mode="values", durability=mode)]
    events = await log.read(thread)
    new = [e for e in events if e.seq > before]
    runs = {e.run_id for e in new if e.kind == Kind.RUN_STARTED}
    assert len(runs) == 1, runs
    steps = [
        e for e in new
        if e.kind == Kind.CHECKPOINT and e.run_id in runs and decode(e.body)["source"] == "loop"
    ]
    # as LangGraph streams values: a resumed run first shows the state it resumes from;
    # then the state after each step that changed it; a new interrupt ends the stream
    # with that state and the interrupts (checked apart)
    expected = []
    if (input is None or isinstance(input, Command)) and before:
        start = fold(None, branch(events, before)).values
        if start:
            expected.append(visible(graph, start))
    expected += [visible(graph, fold(None, branch(events, e.seq)).values)
                 for e in steps if decode(e.body)["delta"]]
    flagged = [i for i, c in enumerate(chunks) if "__interrupt__" in c]
    assert len(flagged) <= 1
    if flagged:  # the interrupt, then (if the step's other tasks wrote) the state with those
        after = chunks[flagged[0] + 1:]
        live = visible(graph, live_values(graph.structure, fold(None, branch(events, events[-1].seq))))
        assert after in ([], [live]), "the state after an interrupt differs from the log's"
        chunks = chunks[:flagged[0]]
    assert chunks == expected, "a streamed state differs from the fold of the log at its step"


async def run_ops(spec: GraphSpec, program: list[tuple[str, Any]], kind: str, tmp_path: Path, every: int) -> int:
    async with open_log(kind, scratch(tmp_path)) as log:
        saver = Checkpointer(log, snapshot_every=every)
        graph = build(spec, saver)
        thread = "p"

        def fresh() -> Any:
            return build(spec, Checkpointer(log, snapshot_every=every))

        steps = 0
        for n, (op, arg) in enumerate(program):
            state = await graph.aget_state(cfg(thread))
            if op == "invoke" or state.created_at is None:
                mode = arg if op != "update" else "sync"
                await streamed_run(graph, log, thread, {"log": [f"in{n}"], "total": n}, mode)
            elif op == "continue":
                await streamed_run(graph, log, thread, None, arg)
            else:
                node = f"n{arg % spec.nodes}"
                await graph.aupdate_state(cfg(thread), {"log": [f"up{n}"]}, as_node=node)
            await check_fold_matches(graph, log, thread, fresh)
            steps += 1
        return steps


def fold_property(kind: str) -> Any:
    """The fold property on store ``kind`` (one test per store: examples differ by cost)."""

    @pytest.mark.timeout(TIMEOUT)
    @pytest.mark.parametrize("backend", BACKENDS)
    @prop_settings(kind)
    @given(spec=graph_specs(), program=ops, every=st.integers(1, 6))
    def test(backend: str, tmp_path: Path, spec: GraphSpec, program: list[tuple[str, Any]], every: int) -> None:
        steps = anyio.run(run_ops, spec, program, kind, tmp_path, every, backend=backend)
        tally("properties", fold_examples=1, fold_operations=steps)

    return test


test_fold_equals_live_state_after_every_step_memory = fold_property("memory")
test_fold_equals_live_state_after_every_step_sqlite = fold_property("sqlite")
test_fold_equals_live_state_after_every_step_postgres = fold_property("postgres")


# --- snapshots are a cache ---------------------------------------------------------------------


class Ask(TypedDict, total=False):
    log: Annotated[list, operator.add]


def asking_graph(saver: Checkpointer) -> Any:
    """work (3 runs) -> ask (interrupt) -> after; enough events for several snapshots."""

    def work(state: Ask) -> dict[str, Any]:
        return {"log": [f"w{len(state['log'])}"]}

    def ask(state: Ask) -> dict[str, Any]:
        answer = interrupt(f"question at {len(state['log'])}")
        return {"log": [f"answer:{answer}"]}

    b = StateGraph(Ask)
    b.add_node("work", work)
    b.add_node("ask", ask)
    b.add_node("after", lambda s: {"log": [f"after{len(s['log'])}"]})
    b.add_edge(START, "work")
    b.add_edge("work", "ask")
    b.add_edge("ask", "after")
    b.add_edge("after", END)
    return b.compile(checkpointer=saver)


async def answers(graph: Any, thread: str) -> list[Any]:
    """Every read a user can make of the thread."""
    out: list[Any] = [await graph.aget_state(cfg(thread))]
    history = [s async for s in graph.aget_state_history(cfg(thread))]
    out.append(history)
    for snap in history:
        out.append(await graph.aget_state(snap.config))
    return out


@pytest.mark.anyio
async def test_dropping_every_snapshot_changes_no_answer(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_log(store_kind, tmp_path) as log:
        saver = Checkpointer(log, snapshot_every=3)
        graph = asking_graph(saver)
        for thread in ("kept", "dropped"):  # the same history on two threads
            await graph.ainvoke({"log": ["a"]}, cfg(thread), durability="sync")
            await graph.aupdate_state(cfg(thread), {"log": ["edit"]}, as_node="work")
            await graph.ainvoke(None, cfg(thread))  # asks again, after the edit
        for thread in ("kept", "dropped"):
            assert await log.snapshots(thread), "no snapshot was written: the test would prove nothing"

        before = await answers(asking_graph(Checkpointer(log, snapshot_every=3)), "dropped")
        await log.delete_snapshots("dropped")
        assert await log.snapshots("dropped") == []
        after = await answers(asking_graph(Checkpointer(log, snapshot_every=10**6)), "dropped")
        assert after == before
        assert await log.snapshots("dropped") == []  # reads never write one

        # resume the pending interrupt on both threads: the same result with and without
        results = {}
        for thread in ("kept", "dropped"):
            fresh = asking_graph(Checkpointer(log, snapshot_every=10**6))
            pending = (await fresh.aget_state(cfg(thread))).interrupts
            assert [i.value for i in pending] == ["question at 3"]
            out = await fresh.ainvoke(Command(resume="yes"), cfg(thread))
            results[thread] = (out, (await fresh.aget_state(cfg(thread))).values)
        assert results["kept"] == results["dropped"]
        assert results["dropped"][0]["log"][-2:] == ["answer:yes", "after4"]


# --- no lost updates ---------------------------------------------------------------------------


class Tags(TypedDict, total=False):
    log: Annotated[list, operator.add]


def tagging_graph(saver: Checkpointer, pause: float) -> Any:
    """START -> mark -> check: two steps per run, each yielding to other work."""

    async def mark(state: Tags) -> dict[str, Any]:
        await anyio.sleep(pause)
        return {"log": ["m"]}

    async def check(state: Tags) -> dict[str, Any]:
        await anyio.sleep(pause)
        return {"log": ["c"]}

    b = StateGraph(Tags)
    b.add_node("mark", mark)
    b.add_node("check", check)
    b.add_edge(START, "mark")
    b.add_edge("mark", "check")
    b.add_edge("check", END)
    return b.compile(checkpointer=saver)


@dataclass
class Outcome:
    conflicts: int = 0
    accepted_then_conflicted: int = 0  # a run's input was stored, then the run lost a race
    ops: int = 0
    drains: int = 0
    statuses: list[str] = field(default_factory=list)


async def apply_op(graph: Any, thread: str, op: tuple[str, str, str], outcome: Outcome) -> None:
    """One client's operation; on ConflictError reload and decide again (never retry blindly)."""
    kind, tag, mode = op
    for attempt in range(50):
        state = await graph.aget_state(cfg(thread))
        if tag in state.values.get("log", []):
            assert attempt > 0
            outcome.accepted_then_conflicted += 1
            return  # accepted by an attempt that then lost a race: nothing to redo
        try:
            if kind == "run":
                await graph.ainvoke({"log": [tag]}, cfg(thread), durability=mode)
            else:
                await graph.aupdate_state(cfg(thread), {"log": [tag]}, as_node="mark")
        except ConflictError:
            outcome.conflicts += 1
        else:
            outcome.ops += 1
            return
        await anyio.sleep(0.001)
    raise AssertionError(f"{op} lost 50 races in a row")


def op_lists(modes: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, str, float]]]:
    """Programs of concurrent ops: ("run" or "update", durability mode, start delay)."""
    return st.lists(
        st.tuples(st.sampled_from(["run", "update"]), st.sampled_from(modes), st.floats(0, 0.004)),
        min_size=2, max_size=6,
    )


async def interleave(
    log: Any, thread: str, program: list[tuple[str, str, float]], processes: int, pause: float
) -> Outcome:
    graphs = [tagging_graph(Checkpointer(log), pause) for _ in range(processes)]
    outcome = Outcome()
    async with anyio.create_task_group() as tg:
        for n, (kind, mode, delay) in enumerate(program):

            async def client(n: int = n, kind: str = kind, mode: str = mode, delay: float = delay) -> None:
                await anyio.sleep(delay)
                await apply_op(graphs[n % processes], thread, (kind, f"t{n}", mode), outcome)

            tg.start_soon(client)
    # finish what an interrupted run left planned, then check
    final = graphs[0]
    if (await final.aget_state(cfg(thread))).next:
        await final.ainvoke(None, cfg(thread))
        outcome.drains += 1
    events = await log.read(thread)
    verify_chain(events)
    values = (await final.aget_state(cfg(thread))).values
    tags = Counter(v for v in values["log"] if v.startswith("t"))
    want = Counter(f"t{n}" for n in range(len(program)))
    assert tags == want, f"updates lost or applied twice: {tags} != {want}"
    assert values == visible(final, fold(None, events).values)
    # one chain of checkpoints: every checkpoint's parent checkpoint is the one before it
    history = [s async for s in final.aget_state_history(cfg(thread))]
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config == older.config, "the history forked: an update was overwritten"
    outcome.statuses = [decode(e.body)["status"] for e in events if e.kind == Kind.RUN_FINISHED]
    return outcome


ALL_MODES = ("sync", "async", "exit")


def interleaving_property(kind: str, processes: int, modes: tuple[str, ...] = ALL_MODES) -> Any:
    """Concurrent runs (in ``modes``) and updates on one thread of store ``kind`` from
    ``processes`` savers."""

    @pytest.mark.timeout(TIMEOUT)
    @pytest.mark.parametrize("backend", BACKENDS)
    @prop_settings(kind)
    @given(program=op_lists(modes))
    def test(backend: str, tmp_path: Path, program: list[tuple[str, str, float]]) -> None:
        async def go() -> Outcome:
            async with open_log(kind, scratch(tmp_path)) as log:
                return await interleave(log, "shared", program, processes, pause=0.001 * processes)

        outcome = anyio.run(go, backend=backend)
        if processes == 1:
            assert outcome.conflicts == 0, "one process serialises a thread's work: no conflict"
            runs = sum(1 for k, _, _ in program if k == "run")
            assert outcome.statuses.count("done") == runs + outcome.drains, outcome.statuses
        tally("properties", **{f"interleavings_{processes}_process": 1,
                               f"interleaved_ops_{processes}_process": len(program),
                               "conflicts_resolved": outcome.conflicts,
                               "conflicts_after_the_input_was_stored": outcome.accepted_then_conflicted})

    return test


test_one_process_interleavings_lose_no_update_memory = interleaving_property("memory", 1)
test_one_process_interleavings_lose_no_update_sqlite = interleaving_property("sqlite", 1)
test_one_process_interleavings_lose_no_update_postgres = interleaving_property("postgres", 1)
test_two_process_interleavings_lose_no_update_memory = interleaving_property("memory", 2)
test_two_process_interleavings_lose_no_update_sqlite = interleaving_property("sqlite", 2)
test_two_process_interleavings_lose_no_update_postgres = interleaving_property("postgres", 2)
