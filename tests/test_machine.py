"""The step machine on its own: no event loop, no store, no user code run.

Each test builds a fold by sealing the machine's own entries (as the journal does),
asks the machine what happens next, and checks the decision and the bodies.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from lograph.eventlog import Checkpoint, make_event
from lograph.eventlog._fold import apply
from lograph.eventlog.bodies import (
    COPY,
    END,
    INPUT,
    NULL_TASK,
    START,
    CheckpointBody,
    NodeStarted,
    NodeWrites,
    Resume,
    RunStarted,
    RunStatus,
    Source,
    StateUpdated,
    encode_body,
)
from lograph.runtime import Command, GraphRecursionError, NonDeterminismError, Send, StateGraph
from lograph.runtime._machine import Entry, InputStep, RunTasks, Seal, StepMachine, Stop


class State(TypedDict):
    log: Annotated[list, operator.add]
    last: str


def _node(state: State) -> dict[str, Any]:
    return {}


def structure(*, fanout: bool = False) -> Any:
    b = StateGraph(State)
    for name in ("a", "b", "c"):
        b.add_node(name, _node)
    b.add_edge(START, "a")
    if fanout:
        b.add_edge("a", "b")
        b.add_edge("a", "c")
    else:
        b.add_edge("a", "b")
    return b.validate()


def seal(cp: Checkpoint, entries: list[Entry]) -> Checkpoint:
    """Fold ``entries`` into ``cp`` as the journal seals them."""
    for body, step, task_id in entries:
        data, raw = encode_body(body)
        event = make_event(cp.head_hash, seq=cp.head + 1, parent=cp.head, kind=body.KIND,
                           run_id="r", step=step, task_id=task_id, ts=1.0, body=raw)
        apply(cp, event, data)
    return cp


def started(machine: StepMachine, value: Any = None) -> Checkpoint:
    """A thread after a fresh input's frame: the input checkpoint plans __start__."""
    cp = Checkpoint()
    return seal(cp, machine.begin(cp, input=value or {"log": ["in"]}, durability="sync",
                                  fork=False, resume=None, null=None))


def through_input(machine: StepMachine) -> Checkpoint:
    cp = started(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, InputStep)
    (task,) = planned.tasks
    entry, _ = machine.input_boundary(cp, planned, [(task, [["log", ["in"]]])])
    return seal(cp, [entry])


def test_a_fresh_run_opens_with_run_started_and_an_input_checkpoint() -> None:
    machine = StepMachine(structure(), metadata={"user": "ann"})
    entries = machine.begin(Checkpoint(), input={"log": []}, durability="async", fork=False,
                            resume=None, null=None)
    (first, _, _), (second, step, _) = entries
    assert first == RunStarted(resume=False, durability="async", metadata={"user": "ann"})
    assert isinstance(second, CheckpointBody) and second.source == Source.INPUT
    assert second.next == [{"name": START, "path": ["pull", START], "arg": {"log": []}}]
    assert step == -1  # the step before the graph's first


def test_a_resumed_fork_records_its_fork_checkpoint_then_the_answers_then_a_commands_writes() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    entries = machine.begin(cp, input=Command(resume="yes"), durability="sync", fork=True,
                            resume={"i" * 32: "yes"}, null=[["last", "x"]])
    bodies = [type(body) for body, _, _ in entries]
    assert bodies == [RunStarted, CheckpointBody, Resume, NodeWrites]
    assert entries[0][0] == RunStarted(resume=True, durability="sync", fork=True)
    fork_body, fork_step, _ = entries[1]
    assert isinstance(fork_body, CheckpointBody) and fork_body.source == Source.FORK
    assert fork_body.next == cp.next and fork_body.delta == {}
    writes_body, writes_step, task_id = entries[3]
    assert writes_body == NodeWrites(INPUT, [["last", "x"]], {})
    assert (task_id, writes_step) == (NULL_TASK, fork_step + 1)  # after the fork's step


def test_nothing_planned_and_no_command_input_is_done() -> None:
    machine = StepMachine(structure())
    assert machine.plan_step(Checkpoint()) == Stop(RunStatus.DONE)


def test_the_input_step_runs_no_node_and_plans_the_entry() -> None:
    machine = StepMachine(structure())
    cp = started(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, InputStep) and [t.name for t in planned.tasks] == [START]
    (task,) = planned.tasks
    (body, step, _), b = machine.input_boundary(cp, planned, [(task, [["log", ["in"]]])])
    assert isinstance(body, CheckpointBody) and body.source == Source.LOOP and step == 0
    assert body.next == [{"name": "a", "path": ["pull", "a"]}]
    assert body.delta == {"log": ["w"]}  # the input's items: stored once, in ``next``
    assert b.values["log"] == ["in"]
    assert machine.taken == 0  # the input step does not count toward the recursion limit


def test_a_step_starts_only_the_tasks_without_recorded_writes() -> None:
    machine = StepMachine(structure(fanout=True))
    cp = through_input(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    (a,) = planned.tasks
    seal(cp, [*planned.started, machine.wrote(a, planned.step, [["log", ["a"]]])])
    entry, _ = machine.step_boundary(cp, planned)
    seal(cp, [entry])
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks) and [t.name for t in planned.tasks] == ["b", "c"]
    b_task = planned.tasks[0]
    seal(cp, [machine.wrote(b_task, planned.step, [["log", ["b"]]])])  # b wrote before a crash
    again = machine.plan_step(cp)
    assert isinstance(again, RunTasks)
    assert [t.name for t in again.todo] == ["c"]
    assert again.started == [(NodeStarted("c", ("pull", "c")), again.step, again.todo[0].id)]


def test_writes_apply_in_task_path_order_not_finishing_order() -> None:
    machine = StepMachine(structure(fanout=True))
    cp = through_input(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    seal(cp, [machine.wrote(planned.tasks[0], planned.step, [])])
    seal(cp, [machine.step_boundary(cp, planned)[0]])
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    b_task, c_task = planned.tasks
    seal(cp, [machine.wrote(c_task, planned.step, [["log", ["c"]]]),  # c finished first
              machine.wrote(b_task, planned.step, [["log", ["b"]]])])
    _, b = machine.step_boundary(cp, planned)
    assert b.values["log"] == ["in", "b", "c"]


def test_a_breakpoint_before_a_node_stops_except_on_the_step_it_stopped_at() -> None:
    machine = StepMachine(structure(), interrupt_before=("a",))
    cp = through_input(machine)
    assert machine.plan_step(cp) == Stop(RunStatus.INTERRUPTED, breakpoint=True)
    assert isinstance(machine.plan_step(cp, breakpoints=False), RunTasks)


def test_a_breakpoint_after_a_node_stops_once_its_step_is_sealed() -> None:
    machine = StepMachine(structure(), interrupt_after=("a",))
    cp = through_input(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    assert machine.pauses_after(planned.tasks)
    assert not StepMachine(structure(), interrupt_after=("b",)).pauses_after(planned.tasks)


def test_the_recursion_limit_counts_steps_that_ran_nodes() -> None:
    machine = StepMachine(structure(), recursion_limit=1)
    cp = through_input(machine)
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    seal(cp, [*planned.started, machine.wrote(planned.tasks[0], planned.step, [])])
    seal(cp, [machine.step_boundary(cp, planned)[0]])
    with pytest.raises(GraphRecursionError, match="Recursion limit of 1 reached"):
        machine.plan_step(cp)


def test_a_planned_node_the_graph_lacks_is_non_determinism() -> None:
    cp = through_input(StepMachine(structure()))
    b = StateGraph(State)
    b.add_node("z", _node)
    b.add_edge(START, "z")
    with pytest.raises(NonDeterminismError, match="'a'"):
        StepMachine(b.validate()).plan_step(cp)


def test_a_step_pauses_on_a_raised_or_a_pending_interrupt() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    assert not machine.pauses(cp, raised=False)
    assert machine.pauses(cp, raised=True)
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    from lograph.runtime import Interrupt

    seal(cp, [machine.interrupted(planned.tasks[0], planned.step, [Interrupt("ok?", "i" * 32)])])
    assert machine.pauses(cp, raised=False)


def test_a_command_input_alone_is_sealed_as_a_step() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    cp.next = []  # the thread ended
    seal(cp, [(NodeWrites(INPUT, [["last", "set"]], {}), cp.step + 1, NULL_TASK)])
    planned = machine.plan_step(cp)
    assert isinstance(planned, Seal)
    assert planned.boundary.values["last"] == "set"


def test_a_command_inputs_goto_runs_its_targets_after_its_writes() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    cp.next = []
    seal(cp, [(NodeWrites(INPUT, [["last", "x"], ["__goto__", ["b", Send("c", {"n": 1})]]], {}),
               cp.step + 1, NULL_TASK)])
    planned = machine.plan_step(cp)
    assert isinstance(planned, RunTasks)
    assert [(t.name, t.path) for t in planned.tasks] == [("b", ("pull", "b")), ("c", ("push", 0))]


def test_update_state_is_a_state_updated_and_an_update_checkpoint() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    entries, b = machine.update(cp, "a", {"last": "u"}, [["last", "u"]])
    (updated, step, _), (body, step2, _) = entries
    assert updated == StateUpdated("a", {"last": "u"}, {})
    assert isinstance(body, CheckpointBody) and body.source == Source.UPDATE and step == step2
    assert body.next == [{"name": "b", "path": ["pull", "b"]}]  # as if a had run
    assert b is not None and b.values["last"] == "u"
    (_, (end_body, _, _)), _ = machine.update(cp, END, {"last": "v"}, [["last", "v"]])
    assert isinstance(end_body, CheckpointBody) and end_body.next == []


def test_a_copy_update_forks_the_checkpoint_unchanged() -> None:
    machine = StepMachine(structure())
    cp = through_input(machine)
    (_, (body, _, _)), b = machine.update(cp, COPY, None, [])
    assert b is None
    # marked a copy: it folds as the sibling of the checkpoint it copies
    assert body == CheckpointBody(Source.FORK, {}, cp.next, cp.barriers, copy=True)


def test_an_empty_threads_update_as_input_is_the_input_step() -> None:
    """As LangGraph 1.2.24: an update as ``__input__`` on an empty thread is an input
    checkpoint, step -1 (a node's update there is step 0)."""
    machine = StepMachine(structure())
    ((_, step, _), _), _ = machine.update(Checkpoint(), INPUT, {"log": ["x"]}, [["log", ["x"]]])
    assert step == -1


def test_ids_made_at_a_boundary_are_derived_so_a_replay_makes_the_same() -> None:
    from lograph.runtime import MessagesState

    b = StateGraph(MessagesState)
    b.add_node("a", _node)
    b.add_edge(START, "a")
    machine = StepMachine(b.validate())
    cp = started(machine, {"messages": [("user", "hi")]})
    planned = machine.plan_step(cp)
    assert isinstance(planned, InputStep)
    (task,) = planned.tasks
    given = [["messages", [("user", "hi"), ("ai", "hello")]]]
    _, first = machine.input_boundary(cp, planned, [(task, given)])
    _, again = machine.input_boundary(cp, planned, [(task, given)])  # as the verifier does
    ids = [m.id for m in first.values["messages"]]
    assert all(ids) and len(set(ids)) == 2
    assert [m.id for m in again.values["messages"]] == ids
    other = started(machine, {"messages": [("user", "hi")]})  # another checkpoint: other ids
    other.checkpoint_hash = b"\x01" * 32
    _, elsewhere = machine.input_boundary(other, planned, [(task, given)])
    assert [m.id for m in elsewhere.values["messages"]] != ids


def test_add_messages_gives_ids_on_copies_and_random_ones_outside_a_boundary() -> None:
    from lograph.runtime import HumanMessage, add_messages

    message = HumanMessage(content="hi")
    merged = add_messages([], [message])
    assert message.id is None and merged[0].id is not None  # the given message is unchanged
    assert add_messages([], [message])[0].id != merged[0].id  # no boundary: random


@pytest.mark.anyio
async def test_a_command_input_verifies_against_its_graph(anyio_backend: str) -> None:
    """Its writes are under the null task, named ``__input__``: not a node the graph lacks."""
    from lograph.adapters.memory import MemorySaver
    from lograph.runtime import verify_thread

    saver = MemorySaver()
    b = StateGraph(State)
    for name in ("a", "b"):
        b.add_node(name, _node)
    b.add_edge(START, "a")
    graph = b.compile(checkpointer=saver, interrupt_before=["a"])
    config = {"configurable": {"thread_id": "t"}}
    await graph.ainvoke({"log": ["in"]}, config)
    await graph.ainvoke(Command(update={"last": "x"}, goto="b"), config)
    verdict = await verify_thread(saver, "t", graph=graph)
    assert verdict.ok and verdict.replayed, verdict.problem
