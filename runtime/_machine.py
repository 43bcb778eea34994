"""The step machine: what a run decides and what it records, with no I/O and no awaits.

Rules (the one place that answers "which events does a run write, in what order"):
- A run's frame: ``run.started``; on a fork of a resumed thread a ``fork`` checkpoint
  (what the run is given then belongs to the new branch); a ``resume`` with the answers;
  a Command input's writes under the null task; a fresh input's ``input`` checkpoint,
  which plans the ``__start__`` task. Then steps, then ``run.finished``.
- A step is planned from the fold: its tasks, in path order. No task and no Command
  input: the run is done. A breakpoint before one of its nodes stops the run first (not
  on the first step of a resumed run: that is the step the breakpoint stopped at). The
  recursion limit counts steps that run nodes.
- The input step runs no node: its writes are the input's items (and its routing), and
  its checkpoint follows at once. Another step records ``node.started`` for each task
  that has not written yet (a resumed step's finished tasks are not run again), runs
  them, and records what each did: ``node.writes``, ``node.failed`` (one per attempt;
  ``final`` when no retry follows), ``interrupt``, and ``task.result`` for ``@task``
  calls inside them.
- The step ends paused when a task raised an interrupt or the fold still has pending
  interrupts; otherwise its writes are applied at the boundary (``_step.boundary``,
  task-path order, a Command input's writes first) and its ``loop`` checkpoint is sealed.
- ``update_state`` is one ``state.updated`` and an ``update`` checkpoint (a ``fork``
  checkpoint copying the fold for ``as_node="__copy__"``; for ``"__input__"`` the
  ``input`` checkpoint a run given the values makes, planning them as ``__start__``).

The async shell (``_engine.Run``) runs user code and the journal's I/O and asks the
machine at each point; ``aupdate_state`` and the replay verifier (``_verify``) use the
same methods, so live runs, updates and verification cannot decide differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import (
    COPY,
    END,
    INPUT,
    NULL_TASK,
    START,
    Body,
    CheckpointBody,
    InterruptItem,
    Interrupts,
    NodeFailed,
    NodeStarted,
    NodeWrites,
    Resume,
    RunFinished,
    RunStarted,
    RunStatus,
    Source,
    StateUpdated,
    TaskResult,
)

from ._errors import GraphRecursionError, NonDeterminismError
from ._ids import derived, needs_ids
from ._step import Boundary, TaskPlan, boundary, handler_plan, null_task, plan, start_next
from ._structure import Structure
from ._types import Command, Interrupt

Writes = list[list[Any]]


Entry = tuple[Body, int, str]
"""A body to seal, with the header fields the machine decides: ``(body, step, task_id)``
(the run id and the namespace are the journal's). A plain tuple: a run makes one per
event, on the hot path."""


# -- what a planned step asks the shell to do -----------------------------------------------
# (plain slotted classes, not frozen: one is made per step, and frozen ones cost 3x more)


@dataclass(slots=True)
class Stop:
    """The run ends here: ``status``; ``breakpoint`` when an ``interrupt_before`` did it."""

    status: RunStatus
    breakpoint: bool = False


@dataclass(slots=True)
class Seal:
    """Seal ``entry`` (a checkpoint for a Command input alone) and plan again."""

    entry: Entry
    boundary: Boundary


@dataclass(slots=True)
class InputStep:
    """The input step: compute each ``__start__`` task's writes, then ``input_boundary``."""

    step: int
    tasks: list[TaskPlan]


@dataclass(slots=True)
class RunTasks:
    """Seal ``started``, then run ``todo`` (the tasks without recorded writes), then
    ``step_boundary``."""

    step: int
    tasks: list[TaskPlan]
    todo: list[TaskPlan]
    started: list[Entry] = field(default_factory=list)


Planned = Stop | Seal | InputStep | RunTasks


class StepMachine:
    """The decisions of one run of one graph (or subgraph, by ``ns``) on one branch."""

    def __init__(
        self, structure: Structure, *, ns: str = "", interrupt_before: tuple[str, ...] = (),
        interrupt_after: tuple[str, ...] = (), recursion_limit: int = 25,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.structure = structure
        self.ns = ns
        self.before = interrupt_before
        self.after = interrupt_after
        self.limit = recursion_limit
        self.metadata: Mapping[str, Any] = metadata or {}
        self.taken = 0  # steps that ran nodes, for the recursion limit
        # ids derived at a boundary only where a reducer makes them (``add_messages``)
        self.derives_ids = any(needs_ids(ch.reducer) for ch in structure.state.channels.values())

    # -- the frame of a run ----------------------------------------------------------

    def begin(
        self, cp: Checkpoint, *, input: Any, durability: str, fork: bool,
        resume: Mapping[str, Any] | None, null: Writes | None,
    ) -> list[Entry]:
        """The events that open a run on ``cp``: see the rules for their order.

        ``input`` is the fresh input (None or a Command: the run continues the thread);
        ``null`` a Command input's writes (``command_writes``); ``resume`` its answers.
        """
        fresh = input is not None and not isinstance(input, Command)
        step = cp.step + 1
        out: list[Entry] = [(RunStarted(not fresh, durability, fork, self.metadata), 0, "")]
        if fork and not fresh:
            out.append((self._checkpoint(Source.FORK, {}, cp.next, cp.barriers), step, ""))
            step += 1  # the fork checkpoint is a step: what follows belongs to the next
        if resume:
            out.append((Resume(resume, self.metadata), 0, ""))
        if null is not None:
            out.append((NodeWrites(INPUT, null, self.metadata), step, NULL_TASK))
        if fresh:
            out.append(self.given(cp, input))
        return out

    def given(self, cp: Checkpoint, input: Any) -> Entry:
        """The ``input`` checkpoint that plans a fresh input as the ``__start__`` task (a
        run's, or a subgraph's when its caller's task first runs it). A Pregel graph's
        input checkpoint holds the input in its channels and plans the nodes it triggers."""
        if self.structure.triggers is not None or self.structure.direct_input:
            writes = [[k, v] for k, v in self.structure.state.updates(input, START)]
            b = boundary(self.structure, cp, [(TaskPlan(INPUT, START, ()), writes)])
            return (self._checkpoint(Source.INPUT, b.delta, b.next, b.barriers), cp.step + 1, "")
        return (self._checkpoint(Source.INPUT, {}, start_next(input), cp.barriers), cp.step + 1, "")

    def finish(self, status: RunStatus, error: BaseException | None = None) -> Entry:
        return (RunFinished(status, None if error is None else repr(error)), 0, "")

    # -- steps -------------------------------------------------------------------------

    def plan_step(self, cp: Checkpoint, *, breakpoints: bool = True) -> Planned:
        """What the step that starts at ``cp`` does. Raises GraphRecursionError at the
        recursion limit, NonDeterminismError for a planned node the graph lacks."""
        tasks = plan(cp, self.ns)
        if not tasks:
            if NULL_TASK not in cp.writes:
                return Stop(RunStatus.DONE)
            return Seal(*self.boundary(cp, cp.step + 1, []))  # a Command input alone
        if breakpoints and self.before and _matches(self.before, tasks):
            return Stop(RunStatus.INTERRUPTED, breakpoint=True)
        if self.taken >= self.limit and tasks[0].name != START:
            raise GraphRecursionError(
                f"Recursion limit of {self.limit} reached without hitting a stop condition. You "
                "can increase the limit by setting the `recursion_limit` config key.\n"
                "Or check the graph for a loop that never reaches END."
            )
        self._check_known(tasks)
        step = cp.step + 1
        if tasks[0].name == START:  # the input step runs no user code: nothing to record
            return InputStep(step, tasks)
        todo = [t for t in tasks if t.id not in cp.writes]
        if cp.errors and todo:  # a failed task whose error handler has yet to finish
            todo = _handled(self.structure, cp, todo)
        started: list[Entry] = [(NodeStarted(t.name, t.path), step, t.id) for t in todo]
        return RunTasks(step, tasks, todo, started)

    def input_boundary(
        self, cp: Checkpoint, step: InputStep, finished: list[tuple[TaskPlan, Writes]],
    ) -> tuple[Entry, Boundary]:
        """The input step's checkpoint, given each ``__start__`` task's writes."""
        return self.boundary(cp, step.step, finished)

    def step_boundary(self, cp: Checkpoint, step: RunTasks) -> tuple[Entry, Boundary]:
        """The step's checkpoint from the writes the fold ``cp`` holds for its tasks."""
        writes = cp.writes
        self.taken += 1
        try:
            finished = [(t, writes[t.id]) for t in step.tasks]
        except KeyError:  # a failed task: its error handler's writes stand for it
            finished = [_handler_writes(self.structure, t, writes) for t in step.tasks]
        return self.boundary(cp, step.step, finished)

    def boundary(
        self, cp: Checkpoint, step: int, finished: list[tuple[TaskPlan, Writes]],
    ) -> tuple[Entry, Boundary]:
        """The ``loop`` checkpoint of the step that starts at ``cp``, given its tasks'
        writes (a Command input's, which the fold holds, are applied first). The replay
        verifier calls this with the writes the log recorded."""
        null = [(null_task(), cp.writes[NULL_TASK])] if NULL_TASK in cp.writes else []
        if null:
            recorded = False  # its goto adds tasks the fold cannot see in ``next``: no refs
        elif finished and finished[0][0].name == START:
            # a dict input's writes are its items: the fold can take them from ``next``
            recorded = all(isinstance(t.arg, dict) and len(w) == len(t.arg) for t, w in finished)
        else:
            # every task's writes are in the log's open step, under its planned id (not
            # when an error handler's stand for a failed task's)
            recorded = True
            for t, _ in finished:  # (a loop, not any(): per step)
                if t.handler:
                    recorded = False
                    break
        if self.derives_ids:
            b = derived(cp.checkpoint_hash, self.ns, "loop",
                        lambda: boundary(self.structure, cp, finished + null, recorded=recorded))
        else:
            b = boundary(self.structure, cp, finished + null, recorded=recorded)
        return (CheckpointBody(Source.LOOP, b.delta, b.next, b.barriers, self.metadata), step, ""), b

    def pauses(self, cp: Checkpoint, raised: bool) -> bool:
        """The step ends paused: a task raised an interrupt (``raised``), or one is pending."""
        return raised or bool(cp.interrupts)

    def pauses_after(self, tasks: list[TaskPlan]) -> bool:
        """An ``interrupt_after`` breakpoint stops the run once this step is sealed (the
        shell may skip asking while ``after`` is empty)."""
        return _matches(self.after, tasks)

    # -- what a task did ---------------------------------------------------------------

    def wrote(self, task: TaskPlan, step: int, writes: Writes, cached: bool = False) -> Entry:
        """A task's writes; ``cached`` when they came from the node cache (it did not run)."""
        return (NodeWrites(task.name, writes, None, cached) if cached else NodeWrites(task.name, writes),
                step, task.id)

    def handling(self, task: TaskPlan, step: int) -> tuple[TaskPlan, Entry] | None:
        """After ``task``'s last attempt failed: its error handler's task and the
        ``node.started`` that opens it (None: no handler, the failure fails the run)."""
        handler = handler_plan(self.structure, task)
        if handler is None:
            return None
        return handler, (NodeStarted(handler.name, handler.path), step, handler.id)

    def failed(self, task: TaskPlan, step: int, error: BaseException, attempt: int, final: bool) -> Entry:
        return (NodeFailed(task.name, repr(error), type(error).__name__, attempt, final), step, task.id)

    def interrupted(self, task: TaskPlan, step: int, interrupts: Iterable[Interrupt]) -> Entry:
        items = tuple(InterruptItem(i.id, i.value, i.response_schema) for i in interrupts)
        return (Interrupts(items), step, task.id)

    def task_result(
        self, cp: Checkpoint, call: str, name: str, *, ok: bool, value: Any, attempt: int,
        cached: bool = False,
    ) -> Entry:
        """A ``@task`` call's outcome (``value`` the error's repr when not ``ok``;
        ``cached`` when it came from the task cache)."""
        return (TaskResult(name, ok, value, attempt, cached), cp.step + 1, call)

    # -- update_state -----------------------------------------------------------------

    def update(
        self, cp: Checkpoint, as_node: str, values: Any, writes: Writes,
    ) -> tuple[list[Entry], Boundary | None]:
        """``update_state(values, as_node=...)`` on ``cp``: its two events, and the
        boundary (None for a ``__copy__`` fork, which changes nothing). ``writes`` are
        ``values`` as the node ``as_node`` would have written them (routing included)."""
        step = cp.step + 1 if cp.checkpoint else 0  # as LangGraph: an empty thread's is step 0
        b: Boundary | None = None
        if as_node == INPUT:  # as LangGraph: the input checkpoint a run given ``values`` makes
            given = self.given(cp, values)
            return [(StateUpdated(as_node, values, self.metadata), given[1], ""), given], None
        if as_node == COPY:  # as LangGraph's, beside the checkpoint it copies (same parent)
            body = CheckpointBody(Source.FORK, {}, cp.next, cp.barriers, self.metadata, copy=True)
        else:
            name = START if as_node == INPUT else as_node
            finished = [(TaskPlan("update", name, ("pull", name)), writes)]
            b = derived(cp.checkpoint_hash, self.ns, "update",
                        lambda: boundary(self.structure, cp, finished))
            body = self._checkpoint(Source.UPDATE, b.delta, [] if name == END else b.next, b.barriers)
        return [(StateUpdated(as_node, values, self.metadata), step, ""), (body, step, "")], b

    def update_together(
        self, cp: Checkpoint, updates: list[tuple[str, Any, Writes]],
    ) -> tuple[list[Entry], Boundary]:
        """Several updates in one superstep (``bulk_update_state``): a ``state.updated``
        for each, in order, then one ``update`` checkpoint applying all their writes as a
        step applies its tasks' (``updates``: ``(as_node, values, writes)``, nodes only)."""
        step = cp.step + 1 if cp.checkpoint else 0
        finished = [(TaskPlan(f"update:{i}", name, ("pull", name)), writes)
                    for i, (name, _, writes) in enumerate(updates)]
        b = derived(cp.checkpoint_hash, self.ns, "update",
                    lambda: boundary(self.structure, cp, finished))
        body = self._checkpoint(Source.UPDATE, b.delta, b.next, b.barriers)
        entries: list[Entry] = [(StateUpdated(name, values, self.metadata), step, "")
                                for name, values, _ in updates]
        return [*entries, (body, step, "")], b

    # -- helpers -----------------------------------------------------------------------

    def _checkpoint(
        self, source: Source, delta: Mapping[str, list[Any]], nxt: list[dict[str, Any]],
        barriers: Mapping[str, list[str]],
    ) -> CheckpointBody:
        return CheckpointBody(source, delta, nxt, barriers, self.metadata)

    def _check_known(self, tasks: list[TaskPlan]) -> None:
        for t in tasks:
            if t.name != START and t.name not in self.structure.nodes:
                raise NonDeterminismError(
                    f"the log plans node {t.name!r} for this step, but the graph has no such node "
                    f"(nodes: {sorted(self.structure.nodes)})"
                )


def _handled(structure: Structure, cp: Checkpoint, todo: list[TaskPlan]) -> list[TaskPlan]:
    """``todo`` with each task whose attempts failed for good replaced by its error
    handler (dropped once the handler wrote): a resumed step does not run it again."""
    out = []
    for t in todo:
        handler = handler_plan(structure, t) if t.id in cp.errors else None
        if handler is None:
            out.append(t)
        elif handler.id not in cp.writes:
            out.append(handler)
    return out


def _handler_writes(structure: Structure, task: TaskPlan, writes: dict[str, Writes]) -> tuple[TaskPlan, Writes]:
    if task.id in writes:
        return task, writes[task.id]
    handler = handler_plan(structure, task)
    if handler is None or handler.id not in writes:
        raise KeyError(task.id)
    return handler, writes[handler.id]


def _matches(names: tuple[str, ...], tasks: list[TaskPlan]) -> bool:
    if not names:
        return False
    return any(t.name != START and ("*" in names or t.name in names) for t in tasks)

