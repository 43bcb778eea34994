"""``CompiledGraph``: the run API (ainvoke/astream/get_state/update_state/history).

Async first; every sync method calls its async twin through the one blocking portal.
"""

from __future__ import annotations

import concurrent.futures
import copy
import queue
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from lograph.eventlog import (
    GENESIS,
    Checkpoint,
    CorruptLogError,
    Event,
    Kind,
    MemoryLog,
    decode,
    encode,
    parse_checkpoint_id,
    verify_link,
)
from lograph.eventlog._fold import NULL_TASK, apply

from ._channels import reduce_writes
from ._checkpointer import Checkpointer
from ._context import GraphInterrupt, TaskContext, in_loop_thread
from ._context import _current as _current_task
from ._engine import Run, new_run_id
from ._errors import EmptyInputError, InvalidUpdateError, NonDeterminismError, ResumeError
from ._journal import Journal, SubJournal
from ._step import GOTO, INPUT_TASK, TaskPlan, boundary, live_values, plan, start_next
from ._sync import run_sync
from ._types import (
    DURABILITIES,
    END,
    OVERWRITE,
    START,
    Command,
    Interrupt,
    Overwrite,
    PregelTask,
    StateSnapshot,
    is_overwrite,
)

if TYPE_CHECKING:
    from ._actor import ThreadActor
    from ._graph import Structure

STREAM_MODES = ("values", "updates", "custom", "debug")
_RESERVED = {"thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class CompiledGraph:
    def __init__(
        self, structure: Structure, checkpointer: Checkpointer | bool | None,
        interrupt_before: tuple[str, ...], interrupt_after: tuple[str, ...], *, name: str,
    ) -> None:
        self.structure = structure
        self.checkpointer = checkpointer if isinstance(checkpointer, Checkpointer) else None
        self.inherits = checkpointer is None or checkpointer is True  # runs as a subgraph when nested
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.name = name
        self._defaults: dict[str, Any] = {}  # with_config's: under every call's config

    # -- configuration ----------------------------------------------------------------

    def with_config(self, config: dict[str, Any] | None = None, **kwargs: Any) -> CompiledGraph:
        """This graph with ``config`` (and ``kwargs``) under every call's config, as
        LangGraph's ``with_config``: ``configurable`` and ``metadata`` merge key by key,
        ``tags`` add up, the call's other keys win."""
        graph = copy.copy(self)
        graph._defaults = merge_configs(self._defaults, {**(config or {}), **kwargs})
        return graph

    def _config(self, config: dict[str, Any] | None) -> dict[str, Any] | None:
        return merge_configs(self._defaults, config) if self._defaults else config

    async def abatch(
        self, inputs: Sequence[Any], config: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        *, return_exceptions: bool = False, **kwargs: Any,
    ) -> list[Any]:
        """``ainvoke`` each input at once (one config for all, or one per input); the
        outputs in input order. Every input runs to its end; then the first failure (in
        input order) is raised as it is, or with ``return_exceptions=True`` each failure
        is returned in its place."""
        configs = list(config) if isinstance(config, Sequence) else [config] * len(inputs)
        if len(configs) != len(inputs):
            raise ValueError(f"abatch got {len(inputs)} inputs and {len(configs)} configs")
        out: list[Any] = [None] * len(inputs)

        failed: list[int] = []

        async def one(i: int) -> None:
            try:
                out[i] = await self.ainvoke(inputs[i], configs[i], **kwargs)
            except Exception as e:  # noqa: BLE001 - returned, or raised below as it is
                out[i] = e
                failed.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(len(inputs)):
                tg.start_soon(one, i)
        if failed and not return_exceptions:
            raise out[min(failed)]
        return out

    def batch(self, inputs: Sequence[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        return run_sync(lambda: self.abatch(inputs, config, **kwargs), method="batch", amethod="abatch")

    def _target(self, config: dict[str, Any] | None, *, need_saver: bool = True) -> tuple[Checkpointer, str, str]:
        configurable = (config or {}).get("configurable") or {}
        if self.checkpointer is None:
            if need_saver:
                raise ValueError("this graph has no checkpointer: compile(checkpointer=...) first")
            return Checkpointer(MemoryLog()), "", ""
        if "thread_id" not in configurable or configurable["thread_id"] in (None, ""):
            raise ValueError(
                "a graph with a checkpointer needs config={'configurable': {'thread_id': ...}} "
                "(also accepted: checkpoint_ns, checkpoint_id)"
            )
        return self.checkpointer, str(configurable["thread_id"]), configurable.get("checkpoint_ns") or ""

    @staticmethod
    def _metadata(config: dict[str, Any] | None) -> dict[str, Any]:
        config = config or {}
        out = {}
        for source in (config.get("configurable") or {}, config.get("metadata") or {}):
            for k, v in source.items():
                if k not in _RESERVED and not k.startswith("__") and isinstance(v, str | int | float | bool):
                    out[k] = v
        return out

    async def _locate(self, saver: Checkpointer, thread: str, checkpoint_id: str) -> int:
        """The seq of checkpoint ``checkpoint_id`` in ``thread``, or a ValueError saying so."""
        try:
            seq, prefix = parse_checkpoint_id(checkpoint_id)
        except ValueError:
            raise ValueError(f"checkpoint_id {checkpoint_id!r} is not a lograph checkpoint id") from None
        events = await saver.log.read(thread, after=seq - 1, upto=seq) if seq > 0 else []
        if not events or events[0].kind != Kind.CHECKPOINT or events[0].hash[:8].hex() != prefix:
            raise ValueError(f"checkpoint_id {checkpoint_id!r} does not exist in thread {thread!r}")
        return seq

    # -- running ---------------------------------------------------------------------

    async def _run(
        self, input: Any, config: dict[str, Any] | None, *, durability: str | None,
        emit: Any, interrupt_before: Any = None, interrupt_after: Any = None,
        modes: tuple[str, ...] = (), pace: Any = None,
    ) -> dict[str, Any]:
        durability = durability or "async"
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
        ephemeral = self.checkpointer is None
        saver, thread, ns = self._target(config, need_saver=False)
        if ephemeral:
            durability = "exit"
        configurable = (config or {}).get("configurable") or {}
        actor = saver.actor(thread)
        async with actor.turn():
            cp, head, base = (actor.cached or Checkpoint()).copy(), actor.head, actor.base
            target = configurable.get("checkpoint_id")
            fork = False
            if target:
                seq = await self._locate(saver, thread, target)
                if seq != cp.checkpoint:
                    (cp, base), fork = await actor.load_branch(seq), True
            resume = self._resume_map(input, cp) if isinstance(input, Command) else None
            if input is None and not cp.checkpoint:
                raise EmptyInputError(f"thread {thread!r} has nothing to resume: pass an input")
            before = self._known(_names(interrupt_before, self.interrupt_before), "interrupt_before")
            after = self._known(_names(interrupt_after, self.interrupt_after), "interrupt_after")
            limit = (config or {}).get("recursion_limit")
            limit = 25 if limit is None else limit  # (as LangGraph, None is the default)
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"recursion_limit must be a whole number of steps, at least 1; got {limit!r}")
            if input is not None and not isinstance(input, Command):
                # a bad input fails here, before anything is written
                writes = self.structure.state.updates(input, START)
                encode(input, path="the input")
                if self.structure.state.kind == "pydantic":  # the state its nodes would get
                    changed = reduce_writes(self.structure.state.channels, cp.values, writes)
                    self.structure.state.to_node({**cp.values, **changed})
            run = Run(
                self.structure, Journal(saver, thread, cp, head, durability), config=config or {},
                run_id=new_run_id(), ns=ns, emit=emit, interrupt_before=before, interrupt_after=after,
                recursion_limit=limit,
                metadata=self._metadata(config),
            )
            run.checkpointed = not ephemeral
            run.debug = "debug" in modes
            run.pace = pace
            status = await self._drive(run, input, resume, fork)
            journal = run.journal
            actor.advanced(journal.cp, journal.next_seq - 1, base)
            if durability != "exit" or status != "failed":
                await actor.maybe_snapshot(journal.cp, finished=True)  # run.finished is last
            return self._output(journal.cp)

    async def _drive(self, run: Run, input: Any, resume: dict[str, Any] | None, fork: bool) -> str:
        journal = run.journal
        error: BaseException | None = None
        status = "failed"
        step = journal.cp.step + 1
        command = input if isinstance(input, Command) else None
        closing: Exception | None = None
        null: list[list[Any]] | None = None
        if command is not None and (command.update is not None or command.goto):
            null = run.command_writes(command)  # bad input fails here, before any event
            encode(null, path="Command(update=...) given as input")
        async with anyio.create_task_group() as tg:
            journal.start(tg)
            try:
                fresh = input is not None and command is None
                started: dict[str, Any] = {"resume": not fresh, "durability": journal.durability}
                if fork:
                    started["fork"] = True
                if run.metadata:
                    started["metadata"] = run.metadata
                journal.add(Kind.RUN_STARTED, started, run_id=run.run_id, ns=run.ns)
                if fork and not fresh:  # first: what the run is given belongs to the new branch
                    run.add_checkpoint("fork", step, {}, journal.cp.next, journal.cp.barriers)
                if resume:
                    journal.add(Kind.RESUME, {"values": resume, "metadata": run.metadata},
                                run_id=run.run_id, ns=run.ns)
                if null is not None:
                    journal.add(Kind.NODE_WRITES, {"name": INPUT_TASK, "writes": null,
                                                   "metadata": run.metadata},
                                run_id=run.run_id, step=journal.cp.step + 1, task_id=NULL_TASK,
                                ns=run.ns)
                if fresh:
                    run.add_checkpoint("input", step, {}, start_next(input), journal.cp.barriers)
                status = await run.steps(resuming=not fresh)
                journal.add(Kind.RUN_FINISHED, {"status": status}, run_id=run.run_id, ns=run.ns)
            except NonDeterminismError as e:
                error = e
                if not journal.discard():  # part of the run is already on its way to the store
                    journal.add(Kind.RUN_FINISHED, {"status": "failed", "error": repr(e)},
                                run_id=run.run_id, ns=run.ns)
            except anyio.get_cancelled_exc_class():
                journal.add(Kind.RUN_FINISHED, {"status": "cancelled"}, run_id=run.run_id, ns=run.ns)
                raise
            except Exception as e:  # noqa: BLE001 - recorded, re-raised below
                journal.add(Kind.RUN_FINISHED, {"status": "failed", "error": repr(e)}, run_id=run.run_id, ns=run.ns)
                error = e
            except BaseException as e:  # SystemExit, KeyboardInterrupt: recorded, then let go
                journal.add(Kind.RUN_FINISHED, {"status": "failed", "error": repr(e)}, run_id=run.run_id, ns=run.ns)
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

    def _known(self, names: tuple[str, ...], what: str) -> tuple[str, ...]:
        unknown = [n for n in names if n != "*" and n not in self.structure.nodes]
        if unknown:
            raise ValueError(
                f"{what} names {unknown[0]!r}, which is not a node of this graph "
                f"(nodes: {sorted(self.structure.nodes)})"
            )
        return names

    def _resume_map(self, command: Command, cp: Checkpoint) -> dict[str, Any] | None:
        if not cp.checkpoint:
            raise EmptyInputError("a Command as input needs a thread with state; pass the input itself")
        if command.resume is None:
            return None
        pending = list(cp.interrupts)
        if not pending:
            raise ResumeError("Command(resume=...) but nothing is waiting for an answer on this thread")
        value = command.resume
        if isinstance(value, dict) and value and all(isinstance(k, str) and len(k) == 32 for k in value):
            unknown = [k for k in value if k not in cp.interrupts]
            if unknown:
                raise ResumeError(f"no pending interrupt has id {unknown[0]!r}; pending: {pending}")
            return dict(value)
        if len(pending) > 1:
            raise ResumeError(
                f"{len(pending)} interrupts are pending: resume with a map "
                f"{{interrupt_id: value}}; pending ids: {pending}"
            )
        return {pending[0]: value}

    def _output(self, cp: Checkpoint) -> dict[str, Any]:
        values = _detached(live_values(self.structure, cp))
        returns = self.structure.state.returns
        if returns is not None:
            values = {k: values[k] for k in returns if k in values}
        if cp.interrupts:
            values["__interrupt__"] = [Interrupt(v["value"], iid) for iid, v in cp.interrupts.items()]
        return values

    async def ainvoke(
        self, input: Any, config: dict[str, Any] | None = None, *, durability: str | None = None,
        interrupt_before: Any = None, interrupt_after: Any = None, stream_mode: Any = "values",
        **_: Any,
    ) -> Any:
        ctx = _current_task.get()
        if ctx is not None and self._nests_in(ctx):
            return await self._nested(input, ctx)
        if stream_mode != "values":  # as LangGraph: the list of what that stream yields
            chunks = CompiledGraph.astream(  # (input as given: a subclass wrapped it already)
                self, input, config, stream_mode=stream_mode, durability=durability,
                interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            )
            async with aclosing(chunks):
                return [chunk async for chunk in chunks]
        config = self._config(config)
        return await self._run(input, config, durability=durability, emit=_ignore,
                               interrupt_before=interrupt_before, interrupt_after=interrupt_after)

    def invoke(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        ctx = _current_task.get()
        if ctx is not None and self._nests_in(ctx) and not in_loop_thread():
            # a sync node (in a worker thread) runs a subgraph: run it on the node's loop
            from anyio.from_thread import run as run_from_thread

            return run_from_thread(self._nested, input, ctx)
        return run_sync(lambda: self.ainvoke(input, config, **kwargs), method="invoke", amethod="ainvoke")

    # -- subgraphs -------------------------------------------------------------------

    def _nests_in(self, ctx: TaskContext) -> bool:
        """Run as a subgraph of the task ``ctx``: no store of its own, or the caller's."""
        journal = ctx.run.journal
        root = journal.root if isinstance(journal, SubJournal) else journal
        return self.inherits or self.checkpointer is root.saver

    async def _nested(self, input: Any, ctx: TaskContext) -> Any:
        """Run this graph inside the task ``ctx``, on the caller's log, under its own namespace.

        The namespace is ``"<node>:<task id>"`` (joined with ``|`` when nested deeper), so
        when the caller's task runs again (a resume, a crash) the subgraph folds what it
        already did from the log and continues: its finished nodes do not run again.
        """
        parent = ctx.run
        index = ctx.subgraphs
        ctx.subgraphs += 1
        part = f"{ctx.name}:{ctx.task_id}" + (f":{index}" if index else "")
        ns = f"{parent.ns}|{part}" if parent.ns else part
        journal = parent.journal
        journal = SubJournal(journal.root if isinstance(journal, SubJournal) else journal, ns)
        cp = journal.cp
        resuming = bool(cp.checkpoint)

        def emit(mode: str, chunk: Any, deeper: str = "") -> None:
            parent.emit(mode, chunk, deeper or ns)  # the top stream keeps what it asked for

        run = Run(
            self.structure, journal, config=self._config(parent.config) or {}, run_id=parent.run_id,
            ns=ns, emit=emit, interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after, metadata=parent.metadata,
            recursion_limit=self._defaults.get("recursion_limit") or parent.limit,
        )
        run.checkpointed = parent.checkpointed
        if not resuming:
            if input is None or isinstance(input, Command):
                raise EmptyInputError(f"subgraph {self.name!r} was given no input")
            run.add_checkpoint("input", cp.step + 1, {}, start_next(self._own_keys(input)), {})
        status = await run.steps(resuming=resuming)
        if status == "interrupted":
            cp = journal.cp
            raise GraphInterrupt([Interrupt(v["value"], iid) for iid, v in cp.interrupts.items()])
        return self._output(journal.cp)

    def _own_keys(self, value: Any) -> Any:
        """A caller's state as this graph's input: the keys this graph has."""
        if not isinstance(value, dict):
            if hasattr(value, "model_dump"):
                value = {k: getattr(value, k) for k in type(value).model_fields}
            elif hasattr(value, "__dataclass_fields__"):
                value = {k: getattr(value, k) for k in value.__dataclass_fields__}
            else:
                return value
        channels = self.structure.state.channels
        return {k: v for k, v in value.items() if k in channels}

    async def astream(
        self, input: Any, config: dict[str, Any] | None = None, *, stream_mode: Any = "updates",
        durability: str | None = None, interrupt_before: Any = None, interrupt_after: Any = None,
        subgraphs: bool = False, **_: Any,
    ) -> AsyncIterator[Any]:
        """Yield the run's chunks: ``chunk`` (one mode) or ``(mode, chunk)``; with
        ``subgraphs=True`` (as LangGraph) each is prefixed by the namespace of the graph
        it comes from, ``()`` for this one, ``("node:task_id", ...)`` for a subgraph."""
        config = self._config(config)
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
        for m in modes:
            if m not in STREAM_MODES:
                raise ValueError(f"unknown stream_mode {m!r}; use one of {STREAM_MODES}")
        single = isinstance(stream_mode, str)
        # The run emits without waiting (emit is called from inside the engine), but at
        # each step's end it waits until the consumer has taken everything emitted so
        # far: the run is never more than a step ahead, so closing the stream early stops
        # it before the next step, as a LangGraph generator would.
        send, receive = anyio.create_memory_object_stream[Any](float("inf"))
        drained = anyio.Event()
        drained.set()

        def emit(mode: str, chunk: Any, ns: str = "") -> None:
            nonlocal drained
            if mode in modes and (subgraphs or not ns or mode == "custom"):
                if drained.is_set():
                    drained = anyio.Event()
                item = (chunk,) if single else (mode, chunk)
                if subgraphs:
                    item = (tuple(ns.split("|")) if ns else (), *item)
                send.send_nowait(item[0] if len(item) == 1 else item)

        async def pace() -> None:
            await drained.wait()

        failed: list[Exception] = []

        async def produce() -> None:
            async with send:
                try:
                    await self._run(input, config, durability=durability, emit=emit,
                                    interrupt_before=interrupt_before,
                                    interrupt_after=interrupt_after, modes=tuple(modes), pace=pace)
                except Exception as e:  # noqa: BLE001 - raised as it is, after the task group
                    failed.append(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            try:
                async with receive:
                    async for item in receive:
                        yield item
                        if not receive.statistics().current_buffer_used:
                            drained.set()  # the consumer asks for more than the run emitted
            except GeneratorExit:  # closed early: stop the run (recorded as cancelled)
                tg.cancel_scope.cancel()
        if failed:
            raise failed[0]

    def stream(self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Any]:
        from ._sync import in_event_loop, portal

        if in_event_loop():
            raise RuntimeError("stream() was called inside a running event loop; use `async for ... in graph.astream(...)`")
        items: queue.Queue[tuple[str, Any]] = queue.Queue()
        asked: list[anyio.Event] = []  # set when this thread wants the next item

        async def pump() -> None:
            try:
                # closed here, in this task, also when cancelled (an async generator left to
                # the loop's finalizer would exit its task group from another task)
                async with aclosing(self.astream(input, config, **kwargs)) as chunks:
                    async for item in chunks:
                        want = anyio.Event()
                        asked.append(want)
                        items.put(("item", item))
                        await want.wait()  # the run advances only as fast as this thread reads
            except BaseException as e:  # noqa: BLE001 - handed to the consuming thread
                items.put(("error", e))
            else:
                items.put(("end", None))

        the_portal = portal()
        future = the_portal.start_task_soon(pump)
        try:
            while True:
                kind, value = items.get()
                if kind == "item":
                    yield value
                    the_portal.call(asked.pop().set)
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            if not future.done():  # closed early: cancel the run and wait until it has stopped
                future.cancel()
                concurrent.futures.wait([future])

    # -- reading state ---------------------------------------------------------------

    async def _checkpoint_at(self, config: dict[str, Any] | None) -> tuple[Checkpointer, str, Checkpoint, bool]:
        saver, thread, _ = self._target(config)
        target = ((config or {}).get("configurable") or {}).get("checkpoint_id")
        actor = saver.actor(thread)
        if target:
            seq = await self._locate(saver, thread, target)
            return saver, thread, await _record_at(actor, seq), False
        return saver, thread, await _head_state(actor), True

    async def aget_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        config = self._config(config) or {}
        _, thread, cp, live = await self._checkpoint_at(config)
        ns = (config.get("configurable") or {}).get("checkpoint_ns") or ""
        if ns:  # a subgraph's state: it lives in the open step of the top graph
            graph: CompiledGraph | None = self
            for part in ns.split("|"):
                graph = graph._subgraph(part.split(":", 1)[0]) if graph is not None else None
            return _snapshot_of(graph, thread, ns, cp.children.get(ns) or Checkpoint(),
                                live=live, subgraphs=subgraphs, root=cp)
        return self._snapshot(thread, ns, cp, live=live, subgraphs=subgraphs, root=cp)

    def _subgraph(self, node: str) -> CompiledGraph | None:
        """The compiled graph node ``node`` is, if it is one (a graph run inside a node's
        code is not known here: its state is shown as stored)."""
        spec = self.structure.nodes.get(node)
        return spec.subgraph if spec is not None else None

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        return run_sync(lambda: self.aget_state(config, subgraphs=subgraphs), method="get_state", amethod="aget_state")

    def _snapshot(
        self, thread: str, ns: str, cp: Checkpoint, *, live: bool, subgraphs: bool = False,
        root: Checkpoint | None = None,
    ) -> StateSnapshot:
        return _snapshot_of(self, thread, ns, cp, live=live, subgraphs=subgraphs, root=root)


    async def aget_state_history(
        self, config: dict[str, Any], *, filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None, limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        config = self._config(config) or {}
        saver, thread, ns = self._target(config)
        events = await saver.log.read(thread)
        _verified(thread, events)
        # as LangGraph's savers list it: a config naming a checkpoint lists that one only
        only = (config.get("configurable") or {}).get("checkpoint_id")
        below = None
        if before:
            bid = (before.get("configurable") or {}).get("checkpoint_id")
            if bid:
                below = parse_checkpoint_id(bid)[0]
        count = 0
        for cp in reversed(_records(events, thread)):
            if below is not None and cp.checkpoint >= below:
                continue
            if only and cp.id != only:
                continue
            if filter and any(cp.metadata.get(k) != v for k, v in filter.items()):
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield self._snapshot(thread, ns, cp, live=False)

    def get_state_history(self, config: dict[str, Any], **kwargs: Any) -> Iterator[StateSnapshot]:
        async def collect() -> list[StateSnapshot]:
            return [s async for s in self.aget_state_history(config, **kwargs)]

        return iter(run_sync(collect, method="get_state_history", amethod="aget_state_history"))

    # -- updating state --------------------------------------------------------------

    async def aupdate_state(
        self, config: dict[str, Any], values: Any, as_node: str | None = None, **_: Any,
    ) -> dict[str, Any]:
        config = self._config(config) or {}
        saver, thread, ns = self._target(config)
        if ns:
            raise InvalidUpdateError(
                f"update_state on a subgraph (checkpoint_ns={ns!r}) is not supported: update the "
                "caller's state (its checkpoint_ns ''), or answer the subgraph's interrupt "
                "with Command(resume=...)"
            )
        actor = saver.actor(thread)
        configurable = config.get("configurable") or {}
        async with actor.turn():
            cp, head, base = (actor.cached or Checkpoint()).copy(), actor.head, actor.base
            if configurable.get("checkpoint_id"):
                seq = await self._locate(saver, thread, configurable["checkpoint_id"])
                if seq != cp.checkpoint:
                    cp, base = await actor.load_branch(seq)
            node = as_node or await self._infer_as_node(saver, thread, cp)
            if node not in (END, START, "__copy__", "__input__") and node not in self.structure.nodes:
                raise InvalidUpdateError(f"as_node={node!r} is not a node of this graph")
            journal = Journal(saver, thread, cp, head, "sync")
            run = Run(self.structure, journal, config=config, run_id=new_run_id(), ns=ns,
                      emit=_ignore, interrupt_before=(), interrupt_after=(), recursion_limit=0,
                      metadata=self._metadata(config))
            step = cp.step + 1 if cp.checkpoint else 0  # as LangGraph: an empty thread's update is step 0
            if node == "__copy__":
                body = run._checkpoint_body("fork", step, {}, cp.next, cp.barriers)
            else:
                name = START if node == "__input__" else node
                writes = [] if node == END and values is None else (
                    await run._start_writes(values) if name == START
                    else (await run._node_writes(self.structure.nodes[name], values))[0]
                    if name != END else [[k, v] for k, v in self.structure.state.updates(values, END)]
                )
                b = boundary(self.structure, cp, [(TaskPlan("update", name, ("pull", name)), writes)])
                nxt = [] if name == END else b.next
                body = run._checkpoint_body("update", step, b.delta, nxt, b.barriers)
            journal.add(Kind.STATE_UPDATED, {"as_node": node, "values": values, "metadata": run.metadata},
                        run_id=run.run_id, step=step, ns=ns)
            journal.add(Kind.CHECKPOINT, body, run_id=run.run_id, step=step, ns=ns)
            await journal.close()
            actor.advanced(journal.cp, journal.next_seq - 1, base)
            await actor.maybe_snapshot(journal.cp)
            return {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": journal.cp.id}}

    def update_state(self, config: dict[str, Any], values: Any, as_node: str | None = None, **kw: Any) -> dict[str, Any]:
        return run_sync(lambda: self.aupdate_state(config, values, as_node, **kw),
                        method="update_state", amethod="aupdate_state")

    async def _infer_as_node(self, saver: Checkpointer, thread: str, cp: Checkpoint) -> str:
        if not cp.checkpoint:
            return START
        writers: list[str] = []
        by_seq: dict[int, Event] = {}
        low = cp.checkpoint
        cursor = cp.checkpoint
        while True:  # walk back over the step that made the checkpoint, reading in windows
            if cursor and cursor not in by_seq:
                low, upto = max(0, cursor - 64), low
                by_seq.update((e.seq, e) for e in await saver.log.read(thread, after=low, upto=upto))
            if cursor == cp.checkpoint:
                cursor = by_seq[cursor].parent
                continue
            if not cursor or (by_seq[cursor].kind == Kind.CHECKPOINT and not by_seq[cursor].ns):
                break
            e = by_seq[cursor]
            if e.kind == Kind.NODE_WRITES and not e.ns:
                writers.append(decode(e.body)["name"])
            elif e.kind == Kind.STATE_UPDATED and not e.ns:  # update_state(as_node=...) wrote last
                node = decode(e.body)["as_node"]
                writers.append(START if node == "__input__" else node)
            cursor = e.parent
        names = sorted({w for w in writers if w not in (START, INPUT_TASK)})
        if len(names) == 1:
            return names[0]
        if not names:
            return START if any(w == START for w in writers) or not writers else names[0]
        raise InvalidUpdateError(f"ambiguous update: several nodes wrote last ({names}); pass as_node=")


def _snapshot_of(
    graph: CompiledGraph | None, thread: str, ns: str, cp: Checkpoint, *, live: bool,
    subgraphs: bool = False, root: Checkpoint | None = None,
) -> StateSnapshot:
    """``cp`` as a StateSnapshot; ``graph`` None shows a subgraph's values as stored."""
    base = {"thread_id": thread, "checkpoint_ns": ns}
    if not cp.checkpoint:
        return StateSnapshot({}, (), {"configurable": base}, None, None, None, (), ())
    tasks = _shown_order(graph, plan(cp, ns, commands=live))
    by_task: dict[str, list[Interrupt]] = {}
    for iid, item in cp.interrupts.items():
        by_task.setdefault(item["task_id"], []).append(Interrupt(item["value"], iid))
    children = root.children if root is not None else {}

    def state_of(t: TaskPlan) -> Any:
        if not subgraphs:
            return None
        child_ns = f"{ns}|{t.name}:{t.id}" if ns else f"{t.name}:{t.id}"
        child = children.get(child_ns)
        if child is None:
            return None
        sub = graph._subgraph(t.name) if graph is not None else None
        return _snapshot_of(sub, thread, child_ns, child, live=live, subgraphs=True, root=root)

    pregel = tuple(
        PregelTask(
            t.id, t.name, (_PATH_NAMES.get(t.path[0], t.path[0]), *t.path[1:]),
            error=cp.errors.get(t.id), interrupts=tuple(by_task.get(t.id, ())),
            state=state_of(t), result=_result(cp.writes[t.id]) if t.id in cp.writes
            else dict(t.arg) if t.name == START and isinstance(t.arg, dict) else None,
        )
        for t in tasks
    )
    if live:
        values = graph.structure.state.output(live_values(graph.structure, cp, ns)) if graph is not None else cp.values
        nxt = tuple(t.name for t in tasks if t.id not in cp.writes)
    else:
        values = graph.structure.state.output(cp.values) if graph is not None else cp.values
        nxt = tuple(t.name for t in tasks)
    parent = cp.parent_id
    return StateSnapshot(
        _detached(values) if isinstance(values, dict)
        else values.copy() if isinstance(values, list | set | deque) else values,
        nxt, {"configurable": {**base, "checkpoint_id": cp.id}}, dict(cp.metadata),
        _iso(cp.created_at),
        {"configurable": {**base, "checkpoint_id": parent}} if parent else None,
        pregel, tuple(i for p in pregel for i in p.interrupts),
    )


_PATH_NAMES = {"pull": "__pregel_pull", "push": "__pregel_push"}  # as LangGraph shows them


def _shown_order(graph: CompiledGraph | None, tasks: list[TaskPlan]) -> list[TaskPlan]:
    """A snapshot's tasks (and ``next``) as LangGraph lists them: the ``Send`` tasks in
    the order sent, then the triggered nodes in the order the graph declares them.
    (The engine applies writes in task-path order; this is only how they are shown.)"""
    if graph is None:
        return tasks
    declared = {name: i for i, name in enumerate(graph.structure.nodes)}
    return sorted(tasks, key=lambda t: (0, t.path[1]) if t.push else (1, declared.get(t.name, -1)))


def _detached(values: dict[str, Any]) -> dict[str, Any]:
    """Values handed to callers: containers copied, so appending to a returned list (or
    setting a key of a returned dict) cannot change the thread's cached state."""
    return {k: v.copy() if isinstance(v, list | dict | set | deque) else v for k, v in values.items()}


def _result(writes: list[list[Any]]) -> dict[str, Any]:
    """A task's writes as it returned them (an Overwrite is stored in its plain spelling)."""
    return {k: Overwrite(v[OVERWRITE]) if is_overwrite(v) else v for k, v in writes if k != GOTO}


def _names(override: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if override is None:
        return default
    return (override,) if isinstance(override, str) else tuple(override)


def _ignore(mode: str, chunk: Any, ns: str = "") -> None:
    return None


async def _head_state(actor: ThreadActor) -> Checkpoint:
    """The fold at the thread's head without waiting for a running turn."""
    head, loaded = await actor.read_head()
    if loaded is None:
        assert actor.cached is not None
        return actor.cached.copy()
    cp, base = loaded
    if head and not actor.busy and (actor.cached is None or actor.head < head):
        actor.cached, actor.head, actor.base = cp.copy(), head, base  # the next read is warm
    return cp


async def _record_at(actor: ThreadActor, seq: int) -> Checkpoint:
    """The record of checkpoint ``seq``, as history shows it: the checkpoint with what
    happened in its step (results, errors, interrupts) on the first branch that went on
    from it."""
    cp = await actor.load(seq)
    states = {seq: cp}
    after = seq
    while states:
        events = await actor.saver.log.read(actor.thread, after=after, upto=after + 64)
        if not events:
            break
        for e in events:
            base = states.pop(e.parent, None)
            if base is None:
                continue  # another branch, or a later fork from the same event
            if e.kind == Kind.CHECKPOINT and not e.ns:
                return base
            apply(base, e)
            states[e.seq] = base
        after = events[-1].seq
    return next(iter(states.values()), cp)


def _verified(thread: str, events: list[Event]) -> None:
    """Check every event's link (CorruptLogError naming the first bad row), as loading a
    branch does: history is never served from an edited log."""
    hashes = {0: GENESIS}
    for e in events:
        parent = hashes.get(e.parent)
        if parent is None or not verify_link(e, parent):
            raise CorruptLogError(thread, e.seq, "hash chain broken: the event was edited or its "
                                  "parent removed; run `lograph verify` for details")
        hashes[e.seq] = e.hash


def _records(events: list[Event], thread: str = "") -> list[Checkpoint]:
    """Every checkpoint of every branch, as a record of its step (open-step events included)."""
    states: dict[int, Checkpoint] = {}
    by_seq = {e.seq: e for e in events}
    records: dict[int, Checkpoint] = {}

    def state_at(seq: int) -> Checkpoint:
        chain: list[Event] = []
        while seq:
            chain.append(by_seq[seq])
            seq = by_seq[seq].parent
        cp = Checkpoint()
        for e in reversed(chain):
            apply(cp, e)
        return cp

    for e in events:
        base = states.pop(e.parent, None)
        if base is None:
            base = state_at(e.parent) if e.parent else Checkpoint()
        if e.kind == Kind.CHECKPOINT and not e.ns and base.checkpoint and base.checkpoint not in records:
            records[base.checkpoint] = base.copy()
        try:
            apply(base, e)
        except Exception as err:
            raise CorruptLogError(thread, e.seq, f"cannot decode: {err}") from err
        states[e.seq] = base
    for cp in states.values():
        if cp.checkpoint and cp.checkpoint not in records:
            records[cp.checkpoint] = cp
    return [records[k] for k in sorted(records)]


def merge_configs(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """``override`` over ``base`` as LangGraph merges run configs."""
    out = dict(base)
    for key, value in (override or {}).items():
        if value is None and key in out:  # as LangGraph: None leaves the value as it was
            continue
        if key in ("configurable", "metadata") and isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        elif key == "tags" and isinstance(value, list):
            out[key] = [*(out.get(key) or []), *value]
        else:
            out[key] = value
    return out
