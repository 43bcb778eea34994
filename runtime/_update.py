"""``update_state``: a checkpoint made by hand, as if node ``as_node`` had written ``values``.

Rules:
- It takes the thread actor's turn, like a run, and commits in ``sync`` mode: the new
  checkpoint is durable when the call returns its config.
- ``as_node`` None is inferred from the log (the one node that wrote last); the writes
  are shaped as that node's would be (routing included), ``__input__`` as the input's,
  ``END`` plans no next step, ``__copy__`` forks the checkpoint unchanged.
- Its events (``state.updated`` then the checkpoint) are the step machine's.
- Subgraph namespaces are refused: a subgraph's state lives in its caller's open step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import COPY, INPUT

from ._engine import new_run_id
from ._errors import InvalidUpdateError
from ._history import infer_as_node, locate
from ._invoke import metadata_of, target
from ._journal import Journal
from ._machine import StepMachine
from ._structure import Structure
from ._types import END, START
from ._writes import input_writes, node_writes

if TYPE_CHECKING:
    from ._compiled import CompiledGraph


async def update_state(graph: CompiledGraph, config: dict[str, Any], values: Any,
                       as_node: str | None) -> dict[str, Any]:
    saver, thread, ns = target(graph, config)
    if ns:
        raise InvalidUpdateError(
            f"update_state on a subgraph (checkpoint_ns={ns!r}) is not supported: update the "
            "caller's state (its checkpoint_ns ''), or answer the subgraph's interrupt "
            "with Command(resume=...)"
        )
    structure = graph.structure
    actor = saver.actor(thread)
    configurable = config.get("configurable") or {}
    async with actor.turn():
        cp, head, base = (actor.cached or Checkpoint()).copy(), actor.head, actor.base
        if configurable.get("checkpoint_id"):
            seq = await locate(saver.log, thread, configurable["checkpoint_id"])
            if seq != cp.checkpoint:
                cp, base = await actor.load_branch(seq)
        node = as_node or await infer_as_node(saver.log, thread, cp)
        if node not in (END, START, COPY, INPUT) and node not in structure.nodes:
            raise InvalidUpdateError(f"as_node={node!r} is not a node of this graph")
        writes = [] if node == COPY else await writes_as(structure, cp, node, values)
        machine = StepMachine(structure, ns=ns, metadata=metadata_of(config))
        entries, _ = machine.update(cp, node, values, writes)
        journal = Journal(saver, thread, cp, head, "sync")
        run_id = new_run_id()
        for body, step, task_id in entries:
            journal.add(body, run_id=run_id, step=step, task_id=task_id, ns=ns)
        await journal.close()
        actor.advanced(journal.cp, journal.next_seq - 1, base)
        await actor.maybe_snapshot(journal.cp)
        return {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": journal.cp.id}}


async def writes_as(structure: Structure, cp: Checkpoint, node: str, values: Any) -> list[list[Any]]:
    """``values`` as the writes of ``node`` (``__input__``: the input's; ``END``: plain)."""
    if node == END:
        return [] if values is None else [[k, v] for k, v in structure.state.updates(values, END)]
    if node in (START, INPUT):
        return await input_writes(structure, cp, values)
    return (await node_writes(structure, cp, structure.nodes[node], values, ns=""))[0]
