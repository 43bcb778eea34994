"""The superstep engine: the async shell that runs a graph's steps on a thread's journal.

Rules:
- Decide, then do: every decision (what to plan, what to record, when to stop) is the
  step machine's (``_machine``); this shell runs user code, seals what the machine
  says, and makes it durable at the points below.
- Each step's ``node.started`` events and the checkpoint before them are made durable
  together (one commit per step in ``sync`` mode) before any of its tasks runs.
- Tasks of a step run concurrently in one task group; a finished task's writes are
  recorded as it finishes (and committed at once in ``sync`` mode if siblings are
  still running, so a crash never re-runs it); all writes are applied together at the
  step boundary in task-path order.
- Resuming re-plans the open step from the log: tasks with recorded writes are not run
  again; their writes join the boundary as if they had just finished.
- A failing task cancels its running siblings, is recorded as ``node.failed`` and its
  exception propagates; ``interrupt()`` is recorded and ends the run as "interrupted"
  once the step's other tasks have finished.
- Every way out of ``drive`` records ``run.finished`` (cancelled too), and the journal
  is closed (shielded) before the error, if any, reaches the caller.
"""

from __future__ import annotations

import base64
import functools
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

import anyio
import sniffio
from anyio.abc import TaskGroup

from lograph.eventlog import Checkpoint, EncodeError, MemoryLog
from lograph.eventlog.bodies import GOTO, CheckpointBody, RunStatus, TaskResult

from ._cache import cache_key, lookup, store
from ._checkpointer import Checkpointer
from ._context import GraphInterrupt, TaskContext, enter, leave
from ._debug_stream import checkpoint_payload, result_payload, task_payload, trace
from ._errors import (
    EmptyInputError,
    GraphDrained,
    NodeCancelledError,
    NodeError,
    NonDeterminismError,
    ParentCommand,
)
from ._handlers import recorded_node_error
from ._injection import RunControl, kwargs_for
from ._journal import Journal, SubJournal, encode_writes_error
from ._lone import LoneGroup, StepFailed
from ._machine import Entry, InputStep, RunTasks, Seal, StepMachine
from ._resume import interrupt_of, reopened
from ._retry import pause, retry_for
from ._step import TaskPlan, live_values, path_key, recast, step_values
from ._structure import NodeSpec, Structure
from ._timeout import timed
from ._tracing import asyncio_only, graph_run, run_metadata, task_config, task_runtime, traced
from ._types import START, Command, Interrupt, Send
from ._writes import input_writes, node_writes, stored_send
from .channels import MISSING
from .managed import STEP

Emit = Callable[..., None]  # (mode, chunk) from the run; (mode, chunk, ns) from a subgraph


class Run:
    """One run of a graph on one thread: the steps from where the log stands to a stop."""

    rejected: BaseException | None = None  # the failure waits for the step's other tasks and
    # gives way to a real one: an answer a response_schema refused, a subgraph that drained
    # (set on the instance only then: one more attribute per run costs every run's lookups)
    #: where a lone task's calls run (``_lone``): the run's task group, or for a subgraph
    #: the group of the task that runs it (None: a step always opens its own task group)
    host: TaskGroup | LoneGroup | None = None

    def __init__(
        self,
        structure: Structure,
        journal: Journal | SubJournal,
        *,
        config: dict[str, Any],
        run_id: str,
        ns: str,
        emit: Emit,
        interrupt_before: tuple[str, ...] = (),
        interrupt_after: tuple[str, ...] = (),
        recursion_limit: int = 25,
        metadata: Mapping[str, Any] | None = None,
        checkpointed: bool = True,
        debug: bool = False,
        pace: Callable[[], Awaitable[None]] | None = None,
        context: Any = None,
        store: Any = None,
        tracer: Any = None,
        control: RunControl | None = None,
        otel: Any = None,
    ) -> None:
        self.structure = structure
        self.journal = journal
        self.config = config
        self.run_id = run_id
        self.ns = ns
        self.emit = emit
        self.quiet = emit is ignore  # nobody streams the run (invoke): its chunks are not built
        self.machine = StepMachine(
            structure, ns=ns, interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            recursion_limit=recursion_limit, metadata=metadata,
        )
        self.metadata = self.machine.metadata
        self.limit = recursion_limit
        self.failure: BaseException | None = None
        self.new_interrupts: list[Interrupt] = []
        self.paused = False  # a subgraph stopped at a breakpoint inside one of this run's tasks
        self.running = 0
        self.checkpointed = checkpointed  # (debug checkpoints are shown only for a stored run)
        self.debug = debug  # build debug payloads only when someone streams them
        self.pace = pace  # a stream consumer's pace: awaited at each step's end
        self.node_errors: dict[str, NodeError] = {}  # an error handler's task id -> what it handles
        self.stateless = False  # a subgraph compiled with checkpointer=False: nothing kept
        self.context = context  # invoke's context=, as the graph's context_schema makes it
        self.store = store
        self.tracer = tracer  # the graph's callbacks run (None: no callbacks wanted)
        self.control = control or RunControl()  # asked to drain: stop before the next step
        self.otel = otel  # its OpenTelemetry spans (``_otel.RunSpans``; None: not traced)
        limit = config.get("max_concurrency")  # (checked by run_graph)
        self.slots = anyio.Semaphore(limit) if limit else None
        self._metadata: dict[str, Any] | None = None
        # UntrackedValue keys: their values live in this run's memory only (``_untrack``)
        self.untracked = structure.state.untracked  # (read per task: kept at hand)
        self.untracked_values: dict[str, Any] = {}
        self.untracked_writes: list[tuple[tuple[Any, ...], list[list[Any]]]] = []
        self.push_args: dict[int, tuple[Any, Any]] = {}  # id(stored Send arg) -> (it, the whole arg)

    def seal(self, entry: Entry) -> None:
        """Seal what the machine decided, under this run's id and namespace."""
        body, step, task_id = entry
        self.journal.add(body, step, task_id, self.run_id, self.ns)

    # -- the run's frame ------------------------------------------------------------

    async def drive(
        self, input: Any, *, resume: Mapping[str, Any] | None, fork: bool,
        null: list[list[Any]] | None, reopen: Callable[[Run], None] | None = None,
    ) -> str:
        """The whole run: its opening events, its steps, ``run.finished``; returns the status.
        ``reopen``: after a fork's opening events, seals the subgraph forks of a replay
        from a subgraph's checkpoint (``_nesting``).

        ``journal`` must be a top-level Journal (a subgraph's run is driven by ``steps``).
        """
        journal = self.journal
        assert isinstance(journal, Journal)
        machine = self.machine
        error: BaseException | None = None
        status = RunStatus.FAILED
        closing: Exception | None = None
        fresh = input is not None and not isinstance(input, Command)
        async with anyio.create_task_group() as tg:
            self.host = tg
            journal.start(tg)
            try:
                for entry in machine.begin(journal.cp, input=input, durability=journal.durability,
                                           fork=fork, resume=resume, null=null):
                    self.seal(entry)
                    if self.debug and isinstance(entry[0], CheckpointBody):
                        self._debug_checkpoint()
                if reopen is not None:
                    reopen(self)
                status = await self.steps(resuming=not fresh)
                self.seal(machine.finish(status))
            except GraphDrained as e:  # stopped between steps: resumable, as a cancelled run
                self.seal(machine.finish(RunStatus.CANCELLED, e))
                error = e
            except NonDeterminismError as e:
                journal.failure = error = e
                if not journal.discard():  # part of the run is already on its way to the store
                    self.seal(machine.finish(RunStatus.FAILED, e))
            except anyio.get_cancelled_exc_class():
                self.seal(machine.finish(RunStatus.CANCELLED))
                raise
            except Exception as e:  # noqa: BLE001 - recorded, re-raised below
                self.seal(machine.finish(RunStatus.FAILED, e))
                journal.failure = error = e
            except BaseException as e:  # SystemExit, KeyboardInterrupt: recorded, then let go
                self.seal(machine.finish(RunStatus.FAILED, e))
                raise
            finally:
                try:
                    await journal.close()  # every way out: the async flusher must end, or it hangs
                except Exception as e:  # noqa: BLE001 - raised below, outside the task group
                    closing = e  # (raised in here it would reach the caller in an ExceptionGroup)
        if closing is not None:
            raise closing
        failure = journal.error()
        if failure is not None:
            raise failure
        if error is not None:
            raise error
        return status

    # -- the loop -----------------------------------------------------------------

    async def steps(self, *, resuming: bool) -> RunStatus:
        """Run steps until none is planned or the run pauses. Returns the run's status."""
        journal = self.journal
        machine = self.machine
        state = self.structure.state
        first = first_step = True
        stop = journal.cp.step + self.limit + (2 if resuming else 1)  # (for managed values)
        if resuming and state.shows(journal.cp.values):
            # as LangGraph: where it resumes, a Command input's update applied
            self.emit("values", state.output(step_values(self.structure, journal.cp)))
            if self.pace is not None:  # (a lazy stream: the next step waits for the consumer)
                await self.pace()
        while True:
            cp = journal.cp
            planned = machine.plan_step(cp, breakpoints=not (first and resuming))
            if isinstance(planned, RunTasks):  # (the common case first)
                if self.control._reason is not None:  # drained: stop before the step starts
                    raise GraphDrained(self.control._reason)
                first = False
                for body, step, task_id in planned.started:
                    journal.add(body, step, task_id, self.run_id, self.ns)
                if resuming and first_step and len(planned.todo) < len(planned.tasks):
                    self._replayed(planned)
                journal.hold = resuming and first_step and _replays(journal.cp)
                await journal.barrier()
                if self.debug:
                    self._trace_starts(planned)
                if self.otel is not None:
                    self.otel.step_started(planned.step, journal.cp.id, len(planned.todo))
                if self.structure.step_timeout is not None:  # TimeoutError when it is over
                    with anyio.fail_after(self.structure.step_timeout):
                        await self._run_step(planned, stop)
                elif state.managed:  # managed values: computed from this step and the run's start
                    await self._run_managed(planned, stop)
                else:
                    await self._run_tasks(planned.todo, planned.step)
                journal.hold = False
                if self.otel is not None:
                    self.otel.step_ended(self.failure, bool(self.new_interrupts) or self.paused)
                if self.failure is not None:
                    raise self.failure
                if self._paused(planned):
                    return RunStatus.INTERRUPTED
                entry, b = machine.step_boundary(journal.cp, planned)
                if self.untracked_writes:
                    self._apply_untracked()
            elif isinstance(planned, InputStep):
                first = False
                finished = [(t, await input_writes(self.structure, cp, t.arg)) for t in planned.tasks]
                entry, b = machine.input_boundary(cp, planned, finished)
            elif isinstance(planned, Seal):
                self.seal_checkpoint(planned.entry)
                continue
            else:
                if planned.breakpoint and not self.ns:  # (a subgraph's: its caller's task shows it)
                    self.emit("updates", {"__interrupt__": ()})  # no Interrupt to answer
                return planned.status
            first_step = False
            journal.add(*entry, self.run_id, self.ns)
            if not self.quiet and state.shows(b.delta):
                self.emit("values", state.output(journal.cp.values))
            if self.debug:  # (as LangGraph: after the step's values)
                self._debug_checkpoint()
            if self.pace is not None:
                await self.pace()
            if machine.after and machine.pauses_after(planned.tasks):
                await journal.barrier()
                if not self.ns:  # (a subgraph's: its caller's task shows it)
                    self.emit("updates", {"__interrupt__": ()})
                return RunStatus.INTERRUPTED

    def _replayed(self, planned: RunTasks) -> None:
        """As LangGraph: a resumed step's tasks that finished before it paused show their
        writes again in the ``updates`` stream, marked cached (they do not run again)."""
        writes = self.journal.cp.writes
        for t in planned.tasks:
            if t.id in writes and t.name != START:
                update = {k: v for k, v in writes[t.id] if k != GOTO} or None
                self.emit("updates", {t.name: self.structure.state.output_of(update),
                                      "__metadata__": {"cached": True}})

    def _paused(self, planned: RunTasks) -> bool:
        """True when the step whose tasks ran ends paused (and what a stream shows then)."""
        journal = self.journal
        if not (self.machine.pauses(journal.cp, bool(self.new_interrupts)) or self.paused):
            return False
        state = self.structure.state
        if self.new_interrupts:
            shown = state.output(step_values(self.structure, journal.cp))  # (a Command's update too)
            self.emit("values", {**(shown if isinstance(shown, dict) else {}),
                                 "__interrupt__": tuple(self.new_interrupts)})
        if not self.ns and any(
            k != GOTO for t in planned.tasks for k, _ in journal.cp.writes.get(t.id, ())
        ):
            # as LangGraph: then the state with the writes of the step's tasks that
            # finished (what invoke returns), also when a subgraph's breakpoint paused it
            self.emit("values", state.output(live_values(self.structure, journal.cp, self.ns)))
        return True

    def seal_checkpoint(self, entry: Entry) -> None:
        self.journal.add(*entry, self.run_id, self.ns)
        if self.debug:
            self._debug_checkpoint()

    # -- tasks ----------------------------------------------------------------------

    async def _run_step(self, planned: RunTasks, stop: int) -> None:
        if self.structure.state.managed:
            await self._run_managed(planned, stop)
        else:
            await self._run_tasks(planned.todo, planned.step)

    async def _run_managed(self, planned: RunTasks, stop: int) -> None:
        """Run the step's tasks where managed values see ``(step, stop)`` (as LangGraph:
        ``stop`` is the step after the last one the recursion limit allows)."""
        token = STEP.set((planned.step, stop))
        try:
            await self._run_tasks(planned.todo, planned.step)
        finally:
            STEP.reset(token)

    async def _run_tasks(self, todo: list[TaskPlan], step: int) -> None:
        if len(todo) == 1 and self.host is not None:  # one task: it runs here (see _lone)
            self.running = 1
            group = LoneGroup(self.host)
            try:
                await self._run_task(todo[0], step, group)
                await group.join()
            except StepFailed as e:  # a call it awaited failed under it: the step fails with that
                await group.abandon()
                raise (group.error or e.error) from None
            except BaseException:
                await group.abandon()
                raise
            return
        async with anyio.create_task_group() as tg:
            self.running = len(todo)
            for t in todo:
                tg.start_soon(self._run_task, t, step, tg)

    async def _run_task(self, task: TaskPlan, step: int, tg: TaskGroup | LoneGroup) -> None:
        journal = self.journal
        try:
            writes, update = await self._execute(task, step, tg)
        except GraphInterrupt as gi:
            self.running -= 1
            self.seal(self.machine.interrupted(task, step, gi.interrupts))
            self.new_interrupts.extend(gi.interrupts)
            self.paused = self.paused or not gi.interrupts
            self.emit("updates", {"__interrupt__": tuple(gi.interrupts)})
            if self.debug:
                trace(self.emit, "tasks", result_payload(task, interrupts=gi.interrupts), step)
            return
        except (Exception, ParentCommand) as e:  # noqa: BLE001 - recorded, then re-raised by steps()
            if isinstance(e, GraphDrained):  # a subgraph stopped between its steps: this task
                self.running -= 1  # ends unfinished, its siblings finish, the run stops
                if self.failure is None:
                    self.failure = self.rejected = e
                return
            if (pending := reopened(e)) is not None:
                # an answer its response_schema refused: the interrupt waits again, and the
                # step's other tasks finish (their answers were good) before it is raised
                self.running -= 1
                self.seal(self.machine.interrupted(task, step, [pending]))
                if self.failure is None:  # raised once the step's tasks end; cancels nothing
                    self.failure = self.rejected = e
                return
            handling = None if isinstance(e, ParentCommand) else self.machine.handling(task, step)
            if handling is not None:  # its error handler runs in its place, in this step
                handler, started = handling
                self.seal(started)
                self.node_errors[handler.id] = NodeError(task.name, e)
                await self._run_task(handler, step, tg)
                return
            self.running -= 1
            if self.debug and isinstance(e, Exception):
                trace(self.emit, "tasks", result_payload(task, error=e), step)
            if self.failure is None or self.failure is self.rejected:  # (a failure wins)
                self.failure = e
                tg.cancel_scope.cancel()
            return
        self.running -= 1
        cached = type(update) is Cached
        if self.untracked:
            writes = self._untrack(task, writes)
        try:
            journal.add(*self.machine.wrote(task, step, writes, cached), self.run_id, self.ns)
        except EncodeError as e:
            if self.failure is None:
                self.failure = encode_writes_error(writes, task.name) or e
                tg.cancel_scope.cancel()
            return
        if cached:  # as LangGraph marks a cache hit in the updates stream
            update = update.update
            self.emit("updates", {task.name: self.structure.state.output_of(update),
                                  "__metadata__": {"cached": True}})
        elif task.name != START and not self.quiet:
            self.emit("updates", {task.name: self.structure.state.output_of(update)})
        if task.name != START and self.debug:
            trace(self.emit, "tasks", result_payload(task, writes), step)
        if self.running > 0:  # siblings still run: make this task's work durable now
            journal.release()  # (a replay's hold must not cost a finished sibling's writes)
            await journal.barrier()

    def _untrack(self, task: TaskPlan, writes: list[list[Any]]) -> list[list[Any]]:
        """``writes`` without what the log must not keep: the writes to UntrackedValue keys
        (applied at the step's end, in memory: ``_apply_untracked``), and those keys of a
        ``Send``'s arg (the task it makes is given the whole arg, from memory)."""
        untracked = self.untracked
        kept, mine = [], []
        for key, value in writes:
            if key in untracked:
                mine.append([key, value])
            elif key == GOTO:
                kept.append([key, [self._stored_send(t) if isinstance(t, Send) else t for t in value]])
            else:
                kept.append([key, value])
        if mine:
            self.untracked_writes.append((task.path, mine))
        return kept

    def _stored_send(self, send: Send) -> Send:
        stored = stored_send(send, self.untracked)
        if stored is not send:
            self.push_args[id(stored.arg)] = (stored.arg, send.arg)
        return stored  # type: ignore[no-any-return]

    def _apply_untracked(self) -> None:
        """The step's writes to UntrackedValue keys, in task-path order (one per key
        unless its channel was made with ``guard=False``)."""
        channels = self.structure.state.channels
        grouped: dict[str, list[Any]] = {}
        for _, mine in sorted(self.untracked_writes, key=lambda pw: path_key(pw[0])):
            for key, value in mine:
                grouped.setdefault(key, []).append(value)
        self.untracked_writes = []
        for key, items in grouped.items():
            spec = channels[key].spec.from_checkpoint(MISSING)
            spec.update(items)
            self.untracked_values[key] = spec.get()

    async def _execute(self, task: TaskPlan, step: int, tg: TaskGroup | LoneGroup,
                       ) -> tuple[list[list[Any]], Any]:
        if task.name == START:
            return await input_writes(self.structure, self.journal.cp, task.arg), None
        node = self.structure.nodes[task.name]
        try:
            if task.push:
                state = self.push_args[id(task.arg)][1] if id(task.arg) in self.push_args else task.arg
            else:
                values = step_values(self.structure, self.journal.cp)
                if self.untracked_values:
                    values = {**values, **self.untracked_values}
                state = self.structure.state.to_node(values, node.input_schema)
        except ValueError as e:  # a state the schema refuses (a pydantic ValidationError)
            e.add_note(f"Before task with name {task.name!r}")  # as LangGraph names it
            raise
        key = None
        if node.cache_policy is not None and self.structure.cache is not None:
            key = cache_key(node.cache_policy, node.fn, task.name, state)
            hit, writes = await lookup(self.structure.cache, key)
            if hit:  # the node does not run: its cached writes are this task's
                return writes, Cached({k: v for k, v in writes if k != GOTO})
        attempt = 1
        started = time.time()
        limit = node.timeout if task.timeout is None else task.timeout  # (a Send's own)
        while True:
            ctx = TaskContext(self, task.id, task.name, tg)
            ctx.step, ctx.path, ctx.attempt = step, task.path, attempt
            ctx.started = started
            try:
                try:
                    if self.slots is not None:  # config max_concurrency: wait for a slot
                        output = await self.in_slot(ctx, limit, task.name, functools.partial(
                            self.call, node, state, ctx))
                    elif limit is None:
                        output = await self.call(node, state, ctx)
                    else:
                        output = await timed(limit, task.name, functools.partial(
                            self.call, node, state, ctx), ctx.set_clock)
                except ParentCommand as pc:  # a subgraph this node ran sent us a command
                    output = pc.command
                done = await node_writes(self.structure, self.journal.cp, node, output, ns=self.ns)
                if key is not None:
                    await store(self.structure.cache, key, done[0], node.cache_policy.ttl)
                return done
            except anyio.get_cancelled_exc_class() as e:
                if not _cancelled_from_outside():  # the node raised it itself
                    error = NodeCancelledError(task.name)  # as LangGraph: a failure, not a cancel
                    self.seal(self.machine.failed(task, step, error, attempt, final=True))
                    raise error from e
                raise
            except (GraphInterrupt, ParentCommand, NonDeterminismError, GraphDrained):
                raise  # not the node's failure: never retried
            except Exception as e:
                e.add_note(f"During task with name {task.name!r} and id {task.id!r}")  # as LangGraph
                if reopened(e) is not None:  # a refused answer: the node runs again once answered
                    self.seal(self.machine.failed(task, step, e, attempt, final=False))
                    raise
                policy = retry_for(node.retry, e, attempt)
                self.seal(self.machine.failed(task, step, e, attempt, final=policy is None))
                if policy is None:
                    raise
                await pause(policy, attempt, is_async=node.is_async)
                attempt += 1

    async def in_slot(self, ctx: TaskContext, limit: Any, name: str,
                      work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work`` (an attempt of the task ``ctx``, under its timeout ``limit``)
        holding one of the run's ``max_concurrency`` slots; a ``@task`` future it awaits
        lends the slot out meanwhile (see ``_func``), so callers never starve their calls."""
        assert self.slots is not None
        async with self.slots:
            ctx.slotted = True
            try:
                return await (work() if limit is None else timed(limit, name, work, ctx.set_clock))
            finally:
                ctx.slotted = False

    async def call(self, node: NodeSpec, arg: Any, ctx: TaskContext) -> Any:
        """Call a node with ``ctx`` current, given the parameters it takes (``config``,
        ``writer``, ``store``, ``runtime``: decided when it was added), inside its
        callbacks run when the run has callbacks, and in its span when the run is traced."""
        if self.otel is not None and ctx.span is None:  # (the span's call comes back here)
            return await self.otel.node(ctx, functools.partial(self.call, node, arg, ctx))
        if self.tracer is None:
            kwargs = kwargs_for(ctx, node.inject) if node.inject else {}
            return await self.call_with(node.fn, node.is_async, (arg,), kwargs, ctx)
        return await traced(self, ctx, node.fn, node.is_async, (arg,), {}, node.inject, None)

    async def call_with(
        self, fn: Callable[..., Any], is_async: bool, args: tuple[Any, ...],
        kwargs: dict[str, Any], ctx: TaskContext,
    ) -> Any:
        """Call user code with ``ctx`` current: async inline, sync in a worker thread."""
        token = enter(ctx)
        try:
            if is_async:
                return await fn(*args, **kwargs)
            result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
            if self.structure.step_timeout is not None:  # a thread cannot be stopped: when the
                await anyio.lowlevel.checkpoint_if_cancelled()  # step ran out of time meanwhile,
            return result  # its result is dropped and the step fails (TimeoutError, as LangGraph)
        except (TypeError, RuntimeError) as e:
            clear = asyncio_only(e)  # langchain-core's async API met trio: say so
            if clear is None:
                raise
            raise clear from e
        finally:
            leave(token)

    # -- what code inside a task reaches (``_context.TaskRuntime``) -----------------

    def base_metadata(self) -> dict[str, Any]:
        """A copy of the metadata every node's config starts from (made once per run)."""
        if self._metadata is None:
            self._metadata = run_metadata(self.config)
        return dict(self._metadata)

    def task_config(self, ctx: TaskContext) -> dict[str, Any]:
        if ctx.config is None:
            ctx.config = task_config(self, ctx)
        return ctx.config

    def task_runtime(self, ctx: TaskContext, previous: Any = None) -> Any:
        if ctx.runtime is None:
            if previous is not None:
                ctx.previous = previous
            ctx.runtime = task_runtime(self, ctx)
        return ctx.runtime

    def recorded_call(self, call: str) -> TaskResult | None:
        record = self.journal.cp.results.get(call)
        return None if record is None else TaskResult.from_map(record)

    def resume_value(self, interrupt: str) -> tuple[bool, Any]:
        resumes = self.journal.resumes
        return (True, resumes[interrupt]) if interrupt in resumes else (False, None)

    def node_error(self, task: str) -> NodeError:
        error = self.node_errors.get(task)
        return recorded_node_error(self.structure, self.journal.cp, self.ns, task) if error is None else error

    async def run_call(
        self, parent: TaskContext, call: str, name: str, fn: Callable[..., Any], is_async: bool,
        args: tuple[Any, ...], kwargs: dict[str, Any], retry: Any, limit: Any = None,
        inject: tuple[str, ...] = (), index: int = 0, cache_policy: Any = None,
    ) -> tuple[bool, Any, dict[str, Any] | None]:
        """Run a ``@task`` call: ``(ok, value or error, its updates chunk)``. The caller
        hands the value over first, then streams the chunk (as LangGraph's caller sees
        its result before the stream shows it)."""
        journal = self.journal
        if journal.hold:  # the replay reached new work: what it replayed so far matched
            journal.release()
            await journal.barrier()
        key = None
        policy = cache_policy or self.structure.cache_policy
        if policy is not None and self.structure.cache is not None:
            key = cache_key(policy, fn, name, *args, **kwargs)
            hit, value = await lookup(self.structure.cache, key)
            if hit:  # recorded as the task's result, marked cached: a replay reads the log
                self.seal(self.machine.task_result(journal.cp, call, name, ok=True, value=value,
                                                   attempt=1, cached=True))
                await journal.barrier()
                return True, value, {name: value, "__metadata__": {"cached": True}}
        attempt = 1
        path = ("push", parent.path, index, True)
        started = time.time()
        while True:
            ctx = TaskContext(self, call, name, parent.tg, step=parent.step, path=path, attempt=attempt,
                              started=started)
            try:
                if self.tracer is not None:  # a child of its caller's run
                    callbacks = parent.config["callbacks"] if parent.config else None
                    attempt_call = functools.partial(traced, self, ctx, fn, is_async, args, kwargs,
                                                     inject, callbacks)
                else:
                    given = {**kwargs_for(ctx, tuple(n for n in inject if n not in kwargs)), **kwargs} \
                        if inject else kwargs
                    attempt_call = functools.partial(self.call_with, fn, is_async, args, given, ctx)
                if self.otel is not None:
                    attempt_call = functools.partial(self.otel.task, ctx, parent, attempt_call)
                if self.slots is not None:
                    value = await self.in_slot(ctx, limit, name, attempt_call)
                else:
                    value = await (attempt_call() if limit is None
                                   else timed(limit, name, attempt_call, ctx.set_clock))
                break
            except GraphInterrupt as gi:
                return False, gi, None
            except anyio.get_cancelled_exc_class():
                raise
            except GraphDrained as e:  # a graph it ran stopped between steps: not its result
                return False, e, None
            except Exception as e:  # noqa: BLE001 - handed to the caller through the future
                e.add_note(f"During task with name {name!r} and id {call!r}")
                if reopened(e) is not None:  # a refused answer: not the call's result (not recorded)
                    return False, e, None
                policy = retry_for(retry or self.structure.retry, e, attempt)
                self.seal(self.machine.task_result(journal.cp, call, name, ok=False, value=repr(e),
                                                   attempt=attempt))
                if policy is None:
                    return False, e, None
                await pause(policy, attempt, is_async=is_async)
                attempt += 1
        try:
            self.seal(self.machine.task_result(journal.cp, call, name, ok=True, value=value,
                                               attempt=attempt))
        except EncodeError as e:
            return False, e, None
        if key is not None:
            await store(self.structure.cache, key, value, policy.ttl)
        await journal.barrier()  # sync mode: durable before the caller continues
        return True, value, {name: value}  # as LangGraph streams a task's result

    async def run_subgraph(
        self, structure: Structure, ctx: TaskContext, input: Any, *, name: str,
        interrupt_before: tuple[str, ...], interrupt_after: tuple[str, ...],
        config: dict[str, Any], limit: int, keep: bool = False, stateless: bool = False,
    ) -> Checkpoint:
        """Run a graph inside the task ``ctx`` on this run's log, under its own namespace
        ``"<node>:<task id>"`` (``|``-joined when deeper; ``|<i>`` for the i-th graph a
        task runs after the first). When the task runs again (a resume, a crash), the
        subgraph folds what it already did and continues: its finished nodes do not run
        again. Its durability points are the caller's; its pause pauses the caller's task
        (GraphInterrupt). Returns the fold it ended at.

        ``keep`` (``compile(checkpointer=True)``): the namespace has no task id (``"node"``,
        ``|<i>`` for the i-th graph a task runs after the first), so the subgraph's fold
        outlives the caller's step: a new call starts from the state the last one left.
        ``stateless`` (``checkpointer=False``): nothing is written; the run is folded in
        memory only, still as a subgraph (its namespace streams, ``Command.PARENT``)."""
        index = ctx.subgraphs
        ctx.subgraphs += 1
        if keep:
            ns = recast(f"{self.ns}|{ctx.name}" if self.ns else ctx.name) + (f"|{index}" if index else "")
        else:
            part = f"{ctx.name}:{ctx.task_id}" + (f"|{index}" if index else "")
            ns = f"{self.ns}|{part}" if self.ns else part
        if stateless:  # a journal of its own, in memory, never committed
            root = Journal(Checkpointer(MemoryLog()), self.journal.thread, Checkpoint(), 0, "exit")
            journal = SubJournal(root, ns)
            resuming = False
        else:
            caller = self.journal
            journal = SubJournal(caller.root if isinstance(caller, SubJournal) else caller, ns)
            # a kept fold was written in this step already (the caller's task runs again)
            resuming = journal.cp.checkpoint > self.journal.cp.checkpoint if keep else bool(
                journal.cp.checkpoint)
        cp = journal.cp

        def emit(mode: str, chunk: Any, deeper: str = "") -> None:
            self.emit(mode, chunk, deeper or ns)  # the top stream keeps what it asked for

        tracer = None
        if self.tracer is not None:  # the subgraph's run: a child of the node that runs it
            callbacks = ctx.config["callbacks"] if ctx.config else self.tracer.get_child()
            tracer = graph_run(config, input, name, parent=callbacks)
        otel = None if self.otel is None else self.otel.subgraph(ctx, ns, name)
        run = Run(
            structure, journal, config=config, run_id=self.run_id, ns=ns, emit=emit,
            interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            metadata=self.metadata, recursion_limit=limit,
            checkpointed=self.checkpointed and not stateless,
            context=self.context, store=self.store, tracer=tracer, debug=self.debug,
            control=self.control, otel=otel,
        )
        run.stateless = stateless or self.stateless
        run.host = ctx.tg
        run.quiet = self.quiet  # (its emit hands all to this run's)
        try:
            if not resuming:
                if input is None or isinstance(input, Command):
                    raise EmptyInputError(f"subgraph {name!r} was given no input")
                run.seal_checkpoint(run.machine.given(cp, input))
            status = await run.steps(resuming=resuming)
            if status == RunStatus.INTERRUPTED:
                cp = journal.cp
                raise GraphInterrupt([interrupt_of(iid, v) for iid, v in cp.interrupts.items()])
        except BaseException as e:
            if tracer is not None:
                tracer.on_chain_error(e)
            if otel is not None:
                otel.finish(journal.cp.id, e)
            raise
        if tracer is not None:
            tracer.on_chain_end(structure.state.output(journal.cp.values))
        if otel is not None:
            otel.finish(journal.cp.id)
        return journal.cp

    def _debug_checkpoint(self) -> None:
        if self.checkpointed and self.debug:
            cp = self.journal.cp
            trace(self.emit, "checkpoints", checkpoint_payload(self.structure, self.journal.thread, self.ns, cp),
                  cp.step)

    def _trace_starts(self, planned: RunTasks) -> None:
        """The ``tasks`` stream's start of each task about to run (as LangGraph: all of
        the step's before any runs), with the state each is given."""
        values = None
        for task in planned.todo:
            if task.name == START:
                continue
            node = self.structure.nodes.get(task.name)
            if task.push or node is None:
                state = task.arg
            else:
                values = step_values(self.structure, self.journal.cp) if values is None else values
                try:
                    state = self.structure.state.to_node(values, node.input_schema)
                except ValueError:
                    state = values  # (the task itself reports the refused state)
            trace(self.emit, "tasks", task_payload(self.structure, task, state), planned.step)

class Cached(NamedTuple):
    """A task's update that came from the node cache (the node did not run)."""

    update: Any


def _replays(cp: Any) -> bool:
    """The open step has recorded @task results (here or in a subgraph) to replay."""
    return bool(cp.results) or any(_replays(child) for child in cp.children.values())


def ignore(mode: str, chunk: Any, ns: str = "") -> None:
    """The ``emit`` of a run nobody streams (``invoke``): the run then builds no chunks."""
    return None


def new_run_id() -> str:
    """64 random bits as 11 URL-safe base64 characters: unique within a thread; every
    event carries it, so it is kept short."""
    return base64.urlsafe_b64encode(os.urandom(8)).rstrip(b"=").decode()


def _cancelled_from_outside() -> bool:
    """This task is being cancelled by someone (an anyio scope, or on asyncio a
    ``task.cancel()``: ``asyncio.wait_for``, a caller's ``TaskGroup``), not just handed
    the cancellation exception by the code it ran."""
    if anyio.current_effective_deadline() == -math.inf:
        return True
    if sniffio.current_async_library() == "asyncio":
        current = sys.modules["asyncio"].current_task()
        return current is not None and current.cancelling() > 0
    return False
