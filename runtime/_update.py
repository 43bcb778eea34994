"""``update_state``: a checkpoint made by hand, as if node ``as_node`` had written ``values``.

Rules:
- It takes the thread actor's turn, like a run, and commits in ``sync`` mode: the new
  checkpoint is durable when the call returns its config.
- ``as_node`` None is inferred from the log (the one node that wrote last); the writes
  are shaped as that node's would be (routing included), ``__input__`` as the input's,
  ``END`` plans no next step, ``__copy__`` forks the checkpoint unchanged (given a list of updates, then applies
  them to the copy as one superstep).
- Its events (``state.updated`` then the checkpoint) are the step machine's.
- A subgraph's namespace (``checkpoint_ns``, and its ``checkpoint_id``) updates that
  subgraph, as its own nodes would: its ``update`` checkpoint follows the one named (a
  new branch from there when the thread has moved on), or where the subgraph is (where
  it ended, once its caller's step is over). Running the top graph from the config it
  returns continues the subgraph from there. A namespace of a graph the top graph does
  not know is refused (``Subgraph X not found``).
- ``bulk_update_state``: supersteps of updates, each applied together as one checkpoint
  (as a step applies its tasks' writes) on the one before, in one commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import COPY, INPUT

from ._checkpointer import target
from ._engine import new_run_id
from ._errors import InvalidUpdateError
from ._history import infer_as_node, last_of, locate
from ._invoke import metadata_of
from ._journal import Journal
from ._machine import StepMachine
from ._place import thread_place
from ._step import recast
from ._structure import Structure
from ._types import END, START
from ._writes import input_writes, node_writes

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


async def update_state(graph: CompiledGraph, config: dict[str, Any], values: Any,
                       as_node: str | None) -> dict[str, Any]:
    """One update; as LangGraph, ``as_node="__copy__"`` with a list of ``(values,
    as_node)`` pairs (or ``StateUpdate`` items) forks the checkpoint and applies them to the
    copy as one superstep."""
    if as_node == COPY and isinstance(values, list) and values:
        return await bulk_update(graph, config, [[(None, COPY)], [_pair(item) for item in values]])
    return await bulk_update(graph, config, [[(values, as_node)]])


def _pair(item: Any) -> tuple[Any, str | None]:
    if not isinstance(item, Sequence) or isinstance(item, str) or len(item) < 2:
        raise InvalidUpdateError(f"Invalid update item: {item!r} when copying checkpoint: "
                                 "pass (values, as_node) pairs or StateUpdate")
    return item[0], item[1]


async def bulk_update(graph: CompiledGraph, config: dict[str, Any],
                      supersteps: Sequence[Sequence[tuple[Any, str | None]]]) -> dict[str, Any]:
    """Each superstep's updates ``(values, as_node)`` applied together as one checkpoint,
    each superstep on the one before; all written in one commit, or nothing (a bad
    update anywhere raises before anything is written). Returns the last one's config."""
    saver, thread, ns = target(graph, config)
    if ns:
        sub, ns = graph._graph_at(ns)
        if sub is None:  # as LangGraph: this graph's nodes would write the wrong state there
            raise ValueError(f"Subgraph {recast(ns)} not found")
        graph = sub
    if not supersteps:
        raise ValueError("No supersteps provided: bulk_update_state needs at least one superstep")
    for updates in supersteps:
        if not updates:
            raise ValueError("No updates provided: each superstep of bulk_update_state needs at least one update")
        if len(updates) > 1 and any(node in (None, END, START, COPY, INPUT) for _, node in updates):
            raise InvalidUpdateError(
                "a superstep of several updates takes each as_node= a node of the graph "
                f"(got {[node for _, node in updates]}); put __copy__, __input__ or END alone")
    structure = graph.structure
    actor = saver.actor(thread)
    configurable = config.get("configurable") or {}
    # (across processes, as a plain run: the thread's turn, or a place behind its run)
    async with thread_place(saver, thread, "enqueue", queued=False, turn=True) as (_, known), \
            actor.turn(known):
        cp, head, base = (actor.cached or Checkpoint()).copy(), actor.head, actor.base
        if configurable.get("checkpoint_id"):
            seq = await locate(saver.log, thread, configurable["checkpoint_id"])
            if seq != (_own(cp, ns).checkpoint if ns else cp.checkpoint):
                cp, base = await actor.load_branch(seq)  # a new branch from it
        elif ns and ns not in cp.children:  # its caller's step is over: from where it ended
            ended = await last_of(actor, cp, ns)
            if ended is None:
                raise InvalidUpdateError(f"the subgraph at checkpoint_ns={ns!r} has no state on this thread")
            cp, base = await actor.load_branch(ended.head)
        machine = StepMachine(structure, ns=ns, metadata=metadata_of(config))
        journal = Journal(saver, thread, cp, head, "sync")
        run_id = new_run_id()
        last: str | None = None  # as_node of the superstep before, for inferring the next
        for updates in supersteps:
            cp = _own(journal.cp, ns)
            if len(updates) == 1:
                values, node = updates[0]
                if node is None:
                    node = last if last is not None else await infer_as_node(saver.log, thread, cp, ns)
                _known(structure, node)
                writes = [] if node == COPY else await writes_as(structure, cp, node, values)
                entries, _ = machine.update(cp, node, values, writes)
                last = node
            else:
                together = []
                for values, name in updates:
                    assert name is not None
                    _known(structure, name)
                    together.append((name, values, await writes_as(structure, cp, name, values)))
                entries, _ = machine.update_together(cp, together)
                names = sorted({name for name, _, _ in together})
                last = names[0] if len(names) == 1 else _AMBIGUOUS
            for body, step, task_id in entries:
                journal.add(body, run_id=run_id, step=step, task_id=task_id, ns=ns)
        await journal.close()
        actor.advanced(journal.cp, journal.next_seq - 1, base)
        await actor.maybe_snapshot(journal.cp)
        own = _own(journal.cp, ns)
        done: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": own.id}
        if ns:  # as LangGraph: a subgraph's names the checkpoint of each graph around it
            done["checkpoint_map"] = {**own.metadata.get("parents", {}), ns: own.id}
        return {"configurable": done}


def _own(cp: Checkpoint, ns: str) -> Checkpoint:
    """The fold of the graph at ``ns`` (the subgraph a namespaced update addresses)."""
    return (cp.children.get(ns) or Checkpoint()) if ns else cp


_AMBIGUOUS = "\x00several"  # the superstep before updated several nodes: nothing to infer


def _known(structure: Structure, node: str) -> None:
    if node == _AMBIGUOUS:
        raise InvalidUpdateError("ambiguous update: the superstep before updated several nodes; pass as_node=")
    if node not in (END, START, COPY, INPUT) and node not in structure.nodes:
        raise InvalidUpdateError(f"as_node={node!r} is not a node of this graph")


async def writes_as(structure: Structure, cp: Checkpoint, node: str, values: Any) -> list[list[Any]]:
    """``values`` as the writes of ``node`` (``__input__``: the input's; ``END``: plain)."""
    if node == END:
        return [] if values is None else [[k, v] for k, v in structure.state.updates(values, END)]
    if node in (START, INPUT):
        return await input_writes(structure, cp, values)
    return (await node_writes(structure, cp, structure.nodes[node], values, ns=""))[0]
