"""Driving a run: from ``ainvoke``'s arguments to a finished run on the thread's log.

Rules:
- Every argument is checked, and a bad one refused, before the first event is sealed:
  durability, the recursion limit, breakpoints, a resume's interrupt ids, the input
  (the schema maps it, the codec can store it, a pydantic state accepts it).
- A run takes the thread actor's turn for its whole length: runs and updates on one
  thread never interleave within a process.
- A config naming a checkpoint other than the head runs on a new branch from it (a
  fork); the run's frame and its steps are the step machine's (``_machine``).
- After the run the actor's cached fold moves to the journal's, and a snapshot may be
  stored (not after a failed ``exit`` run: nothing of it was written).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lograph.eventlog import Checkpoint, encode

from ._channels import reduce_writes
from ._checkpointer import target
from ._engine import Emit, Run, new_run_id
from ._errors import EmptyInputError, ResumeError
from ._history import locate
from ._injection import RunControl, coerce_context
from ._journal import Journal, RunTurn
from ._nesting import Reopen, at_subgraph_checkpoint
from ._otel import run_spans
from ._place import strategy_of, thread_place
from ._step import interrupt_id, plan, recast
from ._tracing import graph_run, wants_callbacks
from ._types import DURABILITIES, START, Command
from ._writes import command_writes

if TYPE_CHECKING:
    from ._compiled import CompiledGraph

_TRACED = frozenset({"debug", "checkpoints", "tasks"})  # the modes built from the run's trace
_RESERVED = {"thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map", "multitask_strategy"}


def metadata_of(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata a run records: plain values of ``configurable`` and
    ``metadata``, without lograph's own keys."""
    config = config or {}
    out = {}
    for source in (config.get("configurable") or {}, config.get("metadata") or {}):
        for k, v in source.items():
            if k not in _RESERVED and not k.startswith("__") and isinstance(v, str | int | float | bool):
                out[k] = v
    # every event of the run that records it must be storable: refused here, before the
    # first is sealed (a string with a lone surrogate, a key that is not a string)
    encode(out, path="the config's metadata")
    return out


async def run_graph(
    graph: CompiledGraph, input: Any, config: dict[str, Any] | None, *, durability: str | None,
    emit: Emit, interrupt_before: Any = None, interrupt_after: Any = None,
    modes: tuple[str, ...] = (), pace: Callable[[], Awaitable[None]] | None = None,
    context: Any = None, handlers: Sequence[Any] = (), control: RunControl | None = None,
    claim: RunTurn | None = None,
) -> Any:
    """Run ``graph`` on the thread ``config`` names; returns what ``invoke`` returns.
    ``claim``: a worker's claimed run's turn, which already holds its thread's place in
    the queue (others take theirs, see ``_place``)."""
    durability = durability or "async"
    strategy = strategy_of(config)
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
    ephemeral = graph.checkpointer is None
    saver, thread, ns = target(graph, config, need_saver=False)
    configurable = (config or {}).get("configurable") or {}
    if ns:  # a subgraph's checkpoint: the top graph runs from it (see ``_nesting``)
        if graph._graph_at(ns)[0] is None:
            raise ValueError(f"Subgraph {recast(ns)} not found")
        ns = graph._graph_at(ns)[1] if configurable.get("checkpoint_id") else ""
    if ephemeral:
        durability = "exit"
    actor = saver.actor(thread)
    # A place only when the call names a strategy, on every store alike: one on every run
    # costs more than 5% of a short run on SQLite and PostgreSQL. A plain call holds its
    # thread's turn instead, which writes nothing (in one process the thread's actor
    # already runs plain calls one after another).
    direct = not (ephemeral or claim is not None)
    queued = direct and configurable.get("multitask_strategy") is not None
    async with thread_place(saver, thread, strategy, queued=queued, turn=direct) as (place, head_read), \
            actor.turn(claim.head if claim is not None else head_read):
        cp, head, base = (actor.cached or Checkpoint()).copy(), actor.head, actor.base
        # (without a checkpointer nothing was kept to go back to: as LangGraph, not looked up)
        checkpoint_id = None if ephemeral else configurable.get("checkpoint_id")
        if place is not None:
            checkpoint_id = place.fork or checkpoint_id  # (after a rolled-back run: its start)
            pace = place.pace(pace)
        fork = False
        reopen: Reopen | None = None
        if ns:
            seq = await locate(saver.log, thread, str(checkpoint_id))
            found = await at_subgraph_checkpoint(actor, cp, ns, seq, input)
            if found is not None:
                cp, base, reopen = found
                fork = True
        elif checkpoint_id:
            seq = await locate(saver.log, thread, checkpoint_id)
            if seq != cp.checkpoint:
                (cp, base), fork = await actor.load_branch(seq), True
        resume = resume_map(input, cp, fork=fork) if isinstance(input, Command) else None
        if input is None and not cp.checkpoint:
            raise EmptyInputError(f"thread {thread!r} has nothing to resume: pass an input")
        before = known(graph, _names(interrupt_before, graph.interrupt_before), "interrupt_before")
        after = known(graph, _names(interrupt_after, graph.interrupt_after), "interrupt_after")
        limit = recursion_limit(config)
        max_concurrency(config)
        null = _checked_input(graph, input, cp, stored=not ephemeral)
        context = coerce_context(graph.context_schema, context)
        if control is not None and not isinstance(control, RunControl):
            raise TypeError(f"control must be a RunControl, got {type(control).__name__}")
        tracer = graph_run(config, input, getattr(graph.io, "run_name", graph.name), handlers) \
            if wants_callbacks(config, handlers) else None
        run_id = new_run_id()
        otel = run_spans(graph.name, thread, run_id, durability)  # None: not traced
        run = Run(
            graph.structure, Journal(saver, thread, cp, head, durability, stored=not ephemeral,
                                     place=place or claim),
            config=config or {},
            run_id=run_id, ns="", emit=emit, interrupt_before=before, interrupt_after=after,
            recursion_limit=limit, metadata=metadata_of(config), checkpointed=not ephemeral,
            debug=not _TRACED.isdisjoint(modes), pace=pace, context=context, store=graph.store, tracer=tracer,
            control=control,
            otel=otel,
        )
        try:
            status = await run.drive(input, resume=resume, fork=fork, null=null, reopen=reopen)
        except BaseException as e:
            if tracer is not None:
                tracer.on_chain_error(e)
            if otel is not None:
                otel.finish(run.journal.cp.id, e)
            raise
        if otel is not None:
            otel.finish(run.journal.cp.id, status=status)
        journal = run.journal
        assert isinstance(journal, Journal)
        actor.advanced(journal.cp, journal.next_seq - 1, base)
        if not ephemeral and (durability != "exit" or status != "failed"):
            await actor.maybe_snapshot(journal.cp, finished=True)  # run.finished is last
        output = graph.output(journal.cp)
        if run.untracked_values and isinstance(output, dict):  # what the run kept in memory
            returns = graph.structure.state.returns
            output.update((k, v) for k, v in run.untracked_values.items() if returns is None or k in returns)
        if tracer is not None:
            tracer.on_chain_end(output)
        return output


def _checked_input(graph: CompiledGraph, input: Any, cp: Checkpoint, *, stored: bool = True,
                   ) -> list[list[Any]] | None:
    """Refuse a bad input before anything is written (one the codec cannot store, when
    the run is ``stored``); a Command input's writes (or None)."""
    state = graph.structure.state
    if isinstance(input, Command):
        if input.update is None and not input.goto:
            return None
        null = command_writes(graph.structure, input)
        if stored:
            encode(null, path="Command(update=...) given as input")
        return null
    if input is not None:
        writes = state.updates(input, START)
        if stored:
            encode(input, path="the input")
        if state.kind == "pydantic":  # the state its nodes would get
            changed = reduce_writes(state.channels, cp.values, writes)
            state.to_node({**cp.values, **changed})
    return None


def recursion_limit(config: Mapping[str, Any] | None) -> int:
    """The run's recursion limit: 25 unless the config says (None too, as LangGraph)."""
    limit = (config or {}).get("recursion_limit")
    limit = 25 if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"recursion_limit must be a whole number of steps, at least 1; got {limit!r}")
    return limit


def max_concurrency(config: Mapping[str, Any] | None) -> None:
    """Refuse a ``max_concurrency`` that is not a whole number of tasks (None: no limit)."""
    value = (config or {}).get("max_concurrency")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"max_concurrency must be a whole number of tasks, at least 1; got {value!r}")


def known(graph: CompiledGraph, names: tuple[str, ...], what: str) -> tuple[str, ...]:
    unknown = [n for n in names if n != "*" and n not in graph.structure.nodes]
    if unknown:
        raise ValueError(
            f"{what} names {unknown[0]!r}, which is not a node of this graph "
            f"(nodes: {sorted(graph.structure.nodes)})"
        )
    return names


def resume_map(command: Command[Any], cp: Checkpoint, *, fork: bool = False) -> dict[str, Any] | None:
    """The answers of ``Command(resume=...)`` by interrupt id; ResumeError when they do
    not fit what is pending.

    A thread paused with tasks to run and no interrupt pending (a breakpoint, a failed or
    cancelled step, an update that planned nodes) is continued, as LangGraph continues
    it: the answer goes to the first ``interrupt()`` of the step's first task that has
    not run yet (LangGraph's goes to whichever task of the step asks first)."""
    if not cp.checkpoint:
        raise EmptyInputError("a Command as input needs a thread with state; pass the input itself")
    if command.resume is None:
        return None
    pending = list(cp.interrupts)
    value = command.resume
    if not pending:
        waiting = next((t.id for t in plan(cp, commands=False) if t.name != START and t.id not in cp.writes), None)
        if waiting is None:
            raise ResumeError("Command(resume=...) but nothing is waiting for an answer on this thread")
        if fork:  # (the fork's checkpoint gives the step's tasks new ids)
            raise ResumeError("Command(resume=...) at an earlier checkpoint where no interrupt is "
                              "pending: continue from it with invoke(None, config)")
        if _by_id(value):
            raise ResumeError(f"no pending interrupt has id {next(iter(value))!r}: none is pending")
        return {interrupt_id(waiting, 0): value}
    if _by_id(value):
        unknown = [k for k in value if k not in cp.interrupts]
        if unknown:
            raise ResumeError(f"no pending interrupt has id {unknown[0]!r}; pending: {pending}")
        return dict(value)
    if len(pending) > 1:
        raise ResumeError(  # (LangGraph's wording first)
            "When there are multiple pending interrupts, you must specify the interrupt id when "
            f"resuming: {len(pending)} interrupts are pending; resume with a map "
            f"{{interrupt_id: value}}; pending ids: {pending}"
        )
    return {pending[0]: value}


def _by_id(value: Any) -> bool:
    """A resume value that is a map of answers by interrupt id."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and len(k) == 32 for k in value)


def _names(override: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if override is None:
        return default
    return (override,) if isinstance(override, str) else tuple(override)
