"""The checkpointer read API of LangGraph's savers, derived from the log.

Code that reads checkpoints without a graph (tools, tests, admin scripts) calls
``saver.get_tuple(config)``, ``saver.list(config)`` and ``saver.get(config)``. Here each
answer is a fold of the thread's log, shaped as LangGraph's ``CheckpointTuple``:

- ``config`` names the checkpoint (thread, namespace, checkpoint id);
- ``checkpoint`` is a dict: ``v``, ``id``, ``ts``, ``channel_values`` (the state as
  stored, and the next step's triggers as LangGraph names them), ``channel_versions`` (the seq of the event that last set each channel),
  ``versions_seen`` (empty: lograph plans from the log, not from versions) and
  ``updated_channels``;
- ``metadata`` (``source``, ``step``, ``parents`` and the caller's keys);
- ``parent_config``; ``pending_writes``: ``(task_id, channel, value)`` for what the
  open step recorded (finished tasks' writes, then pending interrupts under
  ``__interrupt__``).

Writing through ``put``/``put_writes`` is refused: only the runtime appends to a log,
so every event is sealed by the engine that decided it and the chain stays verifiable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from lograph.eventlog import Checkpoint, check_ns, check_thread_id
from lograph.eventlog.lowlevel import utc_time

from ._errors import GraphError
from ._history import every_namespace, head_state, history, locate, record_at
from ._resume import interrupt_of
from ._types import Interrupt

if TYPE_CHECKING:
    from ._checkpointer import Checkpointer

CHECKPOINT_VERSION = 4  # the ``v`` LangGraph's current savers write


class CheckpointTuple(NamedTuple):
    """A checkpoint as LangGraph's savers return it (see the module docstring)."""

    config: dict[str, Any]
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    parent_config: dict[str, Any] | None = None
    pending_writes: list[tuple[str, str, Any]] | None = None


class WriteRefusedError(GraphError, TypeError):
    """``put``/``put_writes`` on a lograph store: only the runtime writes a log."""


def refuse_write(method: str) -> WriteRefusedError:
    return WriteRefusedError(
        f"{method}() is refused: a lograph store is an event log that only the runtime "
        "appends to (each event sealed into the thread's hash chain by the engine that "
        "decided it). Change a thread with graph.update_state(...), or run the graph; "
        "copy one with saver.copy_thread(source, target)"
    )


def _target(config: Mapping[str, Any] | None) -> tuple[str, str, str | None]:
    configurable = (config or {}).get("configurable") or {}
    thread = configurable.get("thread_id")
    if thread in (None, ""):
        raise ValueError("the config needs {'configurable': {'thread_id': ...}}")
    thread, ns = str(thread), configurable.get("checkpoint_ns") or ""
    check_thread_id(thread)
    check_ns(ns)
    return thread, ns, configurable.get("checkpoint_id")


def _config(thread: str, ns: str, checkpoint_id: str | None) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def as_tuple(thread: str, ns: str, cp: Checkpoint) -> CheckpointTuple:
    """The fold ``cp`` of the graph at ``ns`` (a record of checkpoint ``cp.id``) as a
    ``CheckpointTuple``."""
    pending: list[tuple[str, str, Any]] = [
        (task, channel, value) for task, writes in cp.writes.items() for channel, value in writes
    ]
    by_task: dict[str, list[Interrupt]] = {}
    for iid, item in cp.interrupts.items():
        by_task.setdefault(item["task_id"], []).append(interrupt_of(iid, item))
    pending += [(task, "__interrupt__", found) for task, found in by_task.items()]
    checkpoint = {
        "v": CHECKPOINT_VERSION,
        "id": cp.id,
        "ts": utc_time(cp.created_at),
        "channel_values": _channel_values(cp),
        "channel_versions": dict(cp.versions),
        "versions_seen": {},
        "updated_channels": list(cp.updated),
    }
    parent = cp.parent_id
    return CheckpointTuple(
        _config(thread, ns, cp.id), checkpoint, dict(cp.metadata),
        _config(thread, ns, parent) if parent else None, pending,
    )


def _channel_values(cp: Checkpoint) -> dict[str, Any]:
    """The state's channels and, as LangGraph's checkpoints hold them, the channels that
    trigger the next step's tasks: ``__start__`` (the input, before the first step) and
    ``branch:to:<node>`` for a node an edge triggers (a join's is not derived here)."""
    values = dict(cp.values)
    for task in cp.next:
        path = task.get("path") or ()
        if not path or path[0] != "pull":
            continue
        if task["name"] == "__start__":
            values["__start__"] = task.get("arg")
        elif task["name"] not in cp.barriers:
            values[f"branch:to:{task['name']}"] = None
    return values


async def get_tuple(saver: Checkpointer, config: Mapping[str, Any]) -> CheckpointTuple | None:
    """The checkpoint ``config`` names, or the thread's latest; None if there is none."""
    thread, ns, checkpoint_id = _target(config)
    actor = saver.actor(thread)
    if checkpoint_id:
        try:
            seq = await locate(saver.log, thread, checkpoint_id)
        except ValueError:
            return None  # as LangGraph's savers: an unknown checkpoint is no tuple
        cp = await record_at(actor, seq, ns)
    else:
        cp = await head_state(actor)
    if not cp.checkpoint or (ns and ns not in cp.children):
        return None
    return as_tuple(thread, ns, cp.children[ns] if ns else cp)


async def list_tuples(
    saver: Checkpointer, config: Mapping[str, Any] | None, *, filter: dict[str, Any] | None = None,
    before: Mapping[str, Any] | None = None, limit: int | None = None,
) -> AsyncIterator[CheckpointTuple]:
    """The thread's checkpoints, newest first (``filter`` on metadata, ``before`` a
    config naming a checkpoint, ``limit``); a config naming a checkpoint lists it alone.
    A config without ``checkpoint_ns`` lists every graph's (the top graph's and its
    subgraphs'), as LangGraph's savers do; ``checkpoint_ns: ""`` the top graph's only."""
    if config is None:
        raise ValueError("list() needs a config naming a thread: lograph lists one thread's log")
    thread, ns, checkpoint_id = _target(config)
    if "checkpoint_ns" not in (config.get("configurable") or {}) and not checkpoint_id:
        async for ns, cp in every_namespace(saver.log, thread, filter=filter, limit=limit,
                                            before=dict(before) if before else None, seal=saver.seal):
            yield as_tuple(thread, ns, cp)
        return
    async for cp in history(saver.log, thread, only=checkpoint_id, filter=filter,
                            before=dict(before) if before else None, limit=limit,
                            seal=saver.seal, ns=ns):
        yield as_tuple(thread, ns, cp)
