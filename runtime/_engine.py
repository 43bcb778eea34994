"""The superstep engine: runs a graph's steps on a thread's journal.

Rules:
- Decide, then do: each step's tasks are planned from the folded checkpoint; their
  ``node.started`` events and the checkpoint before them are made durable together
  (one commit per step in ``sync`` mode) before any of them runs.
- Tasks of a step run concurrently in one task group; a finished task's writes are
  recorded as it finishes (and committed at once in ``sync`` mode if siblings are
  still running, so a crash never re-runs it); all writes are applied together at the
  step boundary in task-path order.
- Resuming re-plans the open step from the log: tasks with recorded writes are not run
  again; their writes join the boundary as if they had just finished.
- A failing task cancels its running siblings, is recorded as ``node.failed`` and its
  exception propagates; ``interrupt()`` is recorded and ends the run as "interrupted"
  once the step's other tasks have finished.
"""

from __future__ import annotations

import base64
import functools
import inspect
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from lograph.eventlog import EncodeError, Kind

from ._channels import reduce_writes
from ._context import GraphInterrupt, ParentCommand, TaskContext, enter, leave
from ._errors import GraphRecursionError, InvalidUpdateError, NonDeterminismError
from ._journal import Journal, encode_writes_error
from ._step import GOTO, NULL_TASK, TaskPlan, boundary, live_values, null_task, plan, step_values
from ._types import END, START, Command, Interrupt, Send, retry_for

if TYPE_CHECKING:
    from ._graph import Branch, NodeSpec, Structure

Emit = Callable[..., None]  # (mode, chunk) from the run; (mode, chunk, ns) from a subgraph


@functools.lru_cache(maxsize=1024)
def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class Run:
    """One run of a graph on one thread: the steps from where the log stands to a stop."""

    def __init__(
        self,
        structure: Structure,
        journal: Journal,
        *,
        config: dict[str, Any],
        run_id: str,
        ns: str,
        emit: Emit,
        interrupt_before: tuple[str, ...],
        interrupt_after: tuple[str, ...],
        recursion_limit: int,
        metadata: dict[str, Any],
    ) -> None:
        self.structure = structure
        self.journal = journal
        self.config = config
        self.run_id = run_id
        self.ns = ns
        self.emit = emit
        self.before = interrupt_before
        self.after = interrupt_after
        self.limit = recursion_limit
        self.metadata = metadata
        self.failure: BaseException | None = None
        self.new_interrupts: list[Interrupt] = []
        self.paused = False  # a subgraph stopped at a breakpoint inside one of this run's tasks
        self.running = 0
        self.checkpointed = True
        self.debug = False  # build debug payloads only when someone streams them
        self.pace: Callable[[], Awaitable[None]] | None = None  # a stream consumer's pace

    # -- the loop -----------------------------------------------------------------

    async def steps(self, *, resuming: bool) -> str:
        """Run steps until none is planned or the run pauses. Returns the run's status."""
        journal = self.journal
        taken = 0
        first = first_step = True
        state = self.structure.state
        if resuming and state.shows(journal.cp.values):
            self.emit("values", state.output(journal.cp.values))  # as LangGraph: where it resumes
        while True:
            cp = journal.cp
            tasks = plan(cp, self.ns)
            null = [(null_task(), cp.writes[NULL_TASK])] if NULL_TASK in cp.writes else []
            if not tasks:
                if not null:
                    return "done"
                b = boundary(self.structure, cp, null)  # a Command input alone
                self.add_checkpoint("loop", cp.step + 1, b.delta, b.next, b.barriers)
                continue
            if not (first and resuming) and _matches(self.before, tasks):
                self.emit("updates", {"__interrupt__": ()})  # a breakpoint: no Interrupt to answer
                return "interrupted"
            first = False
            if taken >= self.limit and tasks[0].name != START:
                raise GraphRecursionError(
                    f"recursion limit of {self.limit} reached without hitting a stop condition; "
                    "raise it with config={'recursion_limit': N} or check the graph for a loop"
                )
            self._check_known(tasks)
            step = cp.step + 1
            if tasks[0].name == START:  # the input step runs no user code: nothing to record
                finished = [(t, await self._start_writes(t.arg)) for t in tasks]
                # a dict input's writes are its items: the fold can take them from ``next``
                plain = all(isinstance(t.arg, dict) and len(w) == len(t.arg) for t, w in finished)
                b = boundary(self.structure, cp, finished + null, recorded=plain and not null)
            else:
                todo = [t for t in tasks if t.id not in cp.writes]
                for t in todo:
                    started = {"name": t.name} if t.path == ("pull", t.name) else {"name": t.name, "path": list(t.path)}
                    journal.add(Kind.NODE_STARTED, started, run_id=self.run_id, step=step, task_id=t.id, ns=self.ns)
                journal.hold = resuming and first_step and _replays(cp)
                await journal.barrier()
                await self._run_tasks(todo, step)
                journal.hold = False
                if self.failure is not None:
                    raise self.failure
                if self.new_interrupts or self.paused or journal.cp.interrupts:
                    if self.new_interrupts:
                        shown = state.output(journal.cp.values)
                        self.emit("values", {**(shown if isinstance(shown, dict) else {}),
                                             "__interrupt__": tuple(self.new_interrupts)})
                        if not self.ns and any(
                            k != GOTO for t in tasks for k, _ in journal.cp.writes.get(t.id, ())
                        ):
                            # as LangGraph: then the state with the writes of the step's
                            # tasks that finished (what invoke returns)
                            self.emit("values", state.output(live_values(self.structure, journal.cp, self.ns)))
                    return "interrupted"
                writes = journal.cp.writes
                # (a Command input's goto adds tasks the fold cannot see in ``next``: no refs)
                b = boundary(self.structure, journal.cp, [(t, writes[t.id]) for t in tasks] + null,
                             recorded=not null)
            first_step = False
            self.add_checkpoint("loop", step, b.delta, b.next, b.barriers)
            taken += 0 if tasks[0].name == START else 1
            if state.shows(b.delta):
                self.emit("values", state.output(journal.cp.values))
            if self.pace is not None:
                await self.pace()
            if _matches(self.after, tasks):
                await journal.barrier()
                self.emit("updates", {"__interrupt__": ()})
                return "interrupted"

    def _check_known(self, tasks: list[TaskPlan]) -> None:
        for t in tasks:
            if t.name != START and t.name not in self.structure.nodes:
                raise NonDeterminismError(
                    f"the log plans node {t.name!r} for this step, but the graph has no such node "
                    f"(nodes: {sorted(self.structure.nodes)})"
                )

    def add_checkpoint(
        self, source: str, step: int, delta: dict[str, Any], nxt: list[dict[str, Any]],
        barriers: dict[str, list[str]],
    ) -> None:
        body = self._checkpoint_body(source, step, delta, nxt, barriers)
        self.journal.add(Kind.CHECKPOINT, body, run_id=self.run_id, step=step, ns=self.ns)
        if self.checkpointed and self.debug:
            self.emit("debug", self._debug_checkpoint())

    def _checkpoint_body(
        self, source: str, step: int, delta: dict[str, Any], nxt: list[dict[str, Any]],
        barriers: dict[str, list[str]],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"source": source, "delta": delta, "next": nxt}
        if barriers:
            body["barriers"] = barriers
        if self.metadata:
            body["metadata"] = self.metadata
        return body

    # -- tasks ----------------------------------------------------------------------

    async def _run_tasks(self, todo: list[TaskPlan], step: int) -> None:
        async with anyio.create_task_group() as tg:
            self.running = len(todo)
            if len(todo) == 1:  # no sibling to run beside: save a task spawn
                await self._run_task(todo[0], step, tg)
                return
            for t in todo:
                tg.start_soon(self._run_task, t, step, tg)

    async def _run_task(self, task: TaskPlan, step: int, tg: Any) -> None:
        journal = self.journal
        try:
            writes, update = await self._execute(task, step, tg)
        except GraphInterrupt as gi:
            self.running -= 1
            journal.add(Kind.INTERRUPT, {"interrupts": [{"id": i.id, "value": i.value} for i in gi.interrupts]},
                        run_id=self.run_id, step=step, task_id=task.id, ns=self.ns)
            self.new_interrupts.extend(gi.interrupts)
            self.paused = self.paused or not gi.interrupts
            self.emit("updates", {"__interrupt__": tuple(gi.interrupts)})
            return
        except (Exception, ParentCommand) as e:  # noqa: BLE001 - recorded, then re-raised by steps()
            self.running -= 1
            if self.failure is None:
                self.failure = e
                tg.cancel_scope.cancel()
            return
        self.running -= 1
        try:
            journal.add(Kind.NODE_WRITES, {"name": task.name, "writes": writes},
                        run_id=self.run_id, step=step, task_id=task.id, ns=self.ns)
        except EncodeError as e:
            if self.failure is None:
                self.failure = encode_writes_error(writes, task.name) or e
                tg.cancel_scope.cancel()
            return
        if task.name != START:
            self.emit("updates", {task.name: self.structure.state.output_of(update)})
        if task.name != START and self.debug:
            self.emit("debug", {"type": "task_result", "step": step, "timestamp": _now(),
                                "payload": {"id": task.id, "name": task.name, "error": None,
                                            "result": update, "interrupts": []}})
        if self.running > 0:  # siblings still run: make this task's work durable now
            journal.release()  # (a replay's hold must not cost a finished sibling's writes)
            await journal.barrier()

    async def _execute(self, task: TaskPlan, step: int, tg: Any) -> tuple[list[list[Any]], Any]:
        if task.name == START:
            return await self._start_writes(task.arg), None
        node = self.structure.nodes[task.name]
        try:
            state = task.arg if task.push else self.structure.state.to_node(
                step_values(self.structure, self.journal.cp))
        except ValueError as e:  # a state the schema refuses (a pydantic ValidationError)
            e.add_note(f"Before task with name {task.name!r}")  # as LangGraph names it
            raise
        if self.debug:
            self.emit("debug", {"type": "task", "step": step, "timestamp": _now(),
                            "payload": {"id": task.id, "name": task.name, "input": state, "triggers": []}})
        attempt = 1
        while True:
            ctx = TaskContext(self, task.id, task.name, tg)
            try:
                try:
                    output = await self.call(node.fn, node.is_async, state, ctx)
                except ParentCommand as pc:  # a subgraph this node ran sent us a command
                    output = pc.command
                return await self._node_writes(node, output)
            except (GraphInterrupt, ParentCommand, NonDeterminismError, anyio.get_cancelled_exc_class()):
                raise  # not the node's failure: never retried
            except Exception as e:
                policy = retry_for(node.retry, e, attempt)
                final = policy is None
                self.journal.add(
                    Kind.NODE_FAILED,
                    {"name": task.name, "error": repr(e), "type": type(e).__name__,
                     "attempt": attempt, "final": final},
                    run_id=self.run_id, step=step, task_id=task.id, ns=self.ns,
                )
                if policy is None:
                    raise
                await anyio.sleep(policy.delay(attempt))
                attempt += 1

    async def call(self, fn: Callable[..., Any], is_async: bool, arg: Any, ctx: TaskContext) -> Any:
        """Call a node with ``ctx`` current (and ``config=`` if it takes one)."""
        kwargs = {"config": self.config} if _accepts(fn, "config") else {}
        return await self.call_with(fn, is_async, (arg,), kwargs, ctx)

    async def call_with(
        self, fn: Callable[..., Any], is_async: bool, args: tuple[Any, ...],
        kwargs: dict[str, Any], ctx: TaskContext,
    ) -> Any:
        """Call user code with ``ctx`` current: async inline, sync in a worker thread."""
        token = enter(ctx)
        try:
            if is_async:
                return await fn(*args, **kwargs)
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
        finally:
            leave(token)

    # -- writes ---------------------------------------------------------------------

    async def _start_writes(self, value: Any) -> list[list[Any]]:
        writes = [[k, v] for k, v in self.structure.state.updates(value, START)]
        goto = await self._route(START, writes)
        if goto:
            _check_targets(self.structure, repr(START), goto)
        return [*writes, [GOTO, goto]] if goto else writes

    def command_writes(self, command: Command) -> list[list[Any]]:
        """A ``Command(update=, goto=)`` given as input, as the open step's first writes.

        Raises InvalidUpdateError (an unknown key or node) before anything is written.
        """
        writes = [[k, v] for k, v in self.structure.state.updates(command.update, "__input__")]
        goto = _targets(command.goto)
        if goto:
            _check_targets(self.structure, "Command(goto=...) given as input", goto)
            writes.append([GOTO, goto])
        return writes

    async def _node_writes(self, node: NodeSpec, output: Any) -> tuple[list[list[Any]], Any]:
        goto: list[Any] = []
        if isinstance(output, Command):
            if output.graph == Command.PARENT:
                if not self.ns:
                    raise InvalidUpdateError(
                        f"node {node.name!r} returned Command(graph=Command.PARENT), but its graph "
                        "is not running as a subgraph"
                    )
                raise ParentCommand(Command(update=output.update, goto=output.goto))
            update = output.update
            goto = _targets(output.goto)
        elif isinstance(output, Send):
            update, goto = None, [output]
        else:
            update = output
            if node.subgraph is not None and isinstance(update, dict):  # its keys that are ours
                update = {k: v for k, v in update.items() if k in self.structure.state.channels}
        writes = [[k, v] for k, v in self.structure.state.updates(update, node.name)]
        goto += await self._route(node.name, writes)
        if goto:
            _check_targets(self.structure, repr(node.name), goto)
            writes.append([GOTO, goto])
        return writes, (dict(update) if isinstance(update, dict) else update)

    async def _route(self, name: str, writes: list[list[Any]]) -> list[Any]:
        """Evaluate ``name``'s conditional edges on the state plus its own writes."""
        if name not in self.structure.branches:
            return []
        return await route(self.structure, step_values(self.structure, self.journal.cp), name, writes)

    def _debug_checkpoint(self) -> dict[str, Any]:
        cp = self.journal.cp
        base = {"thread_id": self.journal.thread, "checkpoint_ns": self.ns}
        parent = cp.parent_id
        return {"type": "checkpoint", "step": cp.step, "timestamp": _now(),
                "payload": {"values": self.structure.state.output(cp.values),
                            "metadata": cp.metadata, "next": [t["name"] for t in cp.next],
                            "config": {"configurable": {**base, "checkpoint_id": cp.id}},
                            "parent_config": {"configurable": {**base, "checkpoint_id": parent}}
                            if parent else None}}


def _check_targets(structure: Structure, who: str, goto: list[Any]) -> None:
    """Refuse a step that would plan a node the graph does not have, before it is
    written: ``who``'s ``Command(goto=...)``, ``Send`` or conditional edge."""
    for target in goto:
        node = target.node if isinstance(target, Send) else target
        if node != END and node not in structure.nodes:
            what = f"Send({node!r}, ...)" if isinstance(target, Send) else repr(node)
            raise InvalidUpdateError(
                f"{who} sends the graph to {what}, which is not a node of this graph "
                f"(nodes: {sorted(structure.nodes)})"
            )


def _targets(goto: Any) -> list[Any]:
    if goto is None or goto == ():
        return []
    if isinstance(goto, str | Send):
        return [goto]
    return list(goto)


async def route(
    structure: Structure, values: dict[str, Any], name: str, writes: list[list[Any]]
) -> list[Any]:
    """Where ``name``'s conditional edges send the step, given the state ``values`` the
    node saw and the node's ``writes`` (the engine runs it; replay verification too)."""
    branches = structure.branches.get(name)
    if not branches:
        return []
    local = {**values, **reduce_writes(structure.state.channels, values, [(k, v) for k, v in writes])}
    state = structure.state.to_node(local)
    out: list[Any] = []
    for br in branches:
        result = br.path(state)
        if br.is_async or inspect.isawaitable(result):
            result = await result
        out += _branch_targets(br, result)
    return out


def _branch_targets(br: Branch, result: Any) -> list[Any]:
    items = result if isinstance(result, list | tuple) else [result]
    out = []
    for item in items:
        if isinstance(item, Send):
            out.append(item)
            continue
        if br.path_map is not None:
            if item not in br.path_map:
                raise ValueError(
                    f"conditional edge returned {item!r}, which is not in its path map "
                    f"{sorted(map(str, br.path_map))}"
                )
            item = br.path_map[item]
        if item is None or item == START:
            raise ValueError(
                f"conditional edge returned {item!r}, which is not a destination: return a "
                "node's name, END, a Send, or a list of them"
            )
        if item == END:
            continue
        out.append(item)
    return out


def _replays(cp: Any) -> bool:
    """The open step has recorded @task results (here or in a subgraph) to replay."""
    return bool(cp.results) or any(_replays(child) for child in cp.children.values())


def _matches(names: tuple[str, ...], tasks: list[TaskPlan]) -> bool:
    if not names:
        return False
    return any(t.name != START and ("*" in names or t.name in names) for t in tasks)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def new_run_id() -> str:
    """64 random bits as 11 URL-safe base64 characters: unique within a thread; every
    event carries it, so it is kept short."""
    return base64.urlsafe_b64encode(os.urandom(8)).rstrip(b"=").decode()
