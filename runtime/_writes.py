"""What a node's output, an input or an update writes: channel writes plus routing.

Rules:
- A task's writes are ``[[channel, value], ...]`` as the state schema maps its output
  (``StateCodec.updates``), then, under ``GOTO``, where it sends the graph: its
  ``Command(goto=...)`` / ``Send`` first, then its conditional edges' choices.
- Conditional edges are evaluated on the state the task saw plus its own writes; they
  are user code (maybe async) and run here, at the task's end, so a resumed step reads
  the routing from the log instead of running them again.
- A target that is not a node of the graph is refused here, before anything is written.

The live run, ``update_state`` and the replay verifier shape writes through these.
"""

from __future__ import annotations

import inspect
from typing import Any

from lograph.eventlog import Checkpoint
from lograph.eventlog.bodies import GOTO, INPUT

from ._channels import reduce_writes
from ._errors import InvalidUpdateError, NoParentError, ParentCommand
from ._step import step_values
from ._structure import Branch, NodeSpec, Structure
from ._timeout import sync_timeout_unsupported
from ._types import END, START, Command, Send

Writes = list[list[Any]]


async def input_writes(structure: Structure, cp: Checkpoint, value: Any) -> Writes:
    """The ``__start__`` task's writes for the input ``value`` (its items, then routing)."""
    writes = [[k, v] for k, v in structure.state.updates(value, START)]
    goto = await routed(structure, cp, START, writes) if START in structure.branches else None
    if goto:
        check_targets(structure, repr(START), goto)
    return [*writes, [GOTO, goto]] if goto else writes


def command_writes(structure: Structure, command: Command[Any]) -> Writes:
    """A ``Command(update=, goto=)`` given as input, as the open step's first writes.

    Raises InvalidUpdateError (an unknown key or node) before anything is written.
    """
    writes = command_update(structure, command.update, INPUT)
    goto = targets(command.goto)
    if goto:
        check_targets(structure, "Command(goto=...) given as input", goto)
        writes.append([GOTO, goto])
    return writes


def command_update(structure: Structure, update: Any, who: str) -> Writes:
    """A Command's ``update`` as writes: a dict (or a model...) as any update, or, as
    LangGraph takes it, a list of ``(key, value)`` pairs (a key may come more than once)."""
    state = structure.state
    if state.kind != "root" and isinstance(update, list | tuple) and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in update):
        return [[k, v] for key, value in update for k, v in state.updates({key: value}, who)]
    return [[k, v] for k, v in state.updates(update, who)]


async def node_writes(
    structure: Structure, cp: Checkpoint, node: NodeSpec, output: Any, *, ns: str,
) -> tuple[Writes, Any]:
    """Node ``node``'s writes for ``output``, and the update as it is streamed.

    A ``Command(graph=Command.PARENT)`` raises ParentCommand for the caller's task (or
    InvalidUpdateError when the graph is not running as a subgraph: ``ns`` empty).
    """
    if structure.triggers is not None:  # a Pregel node: its writers write what it returns,
        # a Command or a Send too (a value like any other, as LangGraph's Pregel writes it)
        writes = [[k, v] for k, v in structure.state.updates(output, node.name)]
        return writes, structure.state.streamed(writes)  # type: ignore[attr-defined]
    goto: list[Any] = []
    if isinstance(output, list | tuple) and any(isinstance(o, Command) for o in output):
        return await _many_writes(structure, cp, node, output, ns=ns)
    if isinstance(output, Command):
        _check_parent(node, output, ns)
        update = output.update
        goto = targets(output.goto)
        if isinstance(update, list | tuple):  # (key, value) pairs, as LangGraph takes them
            writes = command_update(structure, update, node.name)
            shown = _shown(writes)
            return await _routed_writes(structure, cp, node, writes, goto), shown
    elif isinstance(output, Send):
        update, goto = None, [output]
    else:
        update = output
        if node.subgraph is not None and isinstance(update, dict):
            update = {k: v for k, v in update.items() if k in structure.state.channels}  # its keys that are ours
    writes = [[k, v] for k, v in structure.state.updates(update, node.name)]
    if isinstance(update, dict):
        shown = dict(update)
    elif update is None or structure.state.output_key is not None:
        shown = update
    else:  # an object (a model, a dataclass): the writes it made, as LangGraph streams them
        shown = {k: v for k, v in writes}
    if node.name in structure.branches:
        goto += await routed(structure, cp, node.name, writes)
    if goto:
        check_targets(structure, repr(node.name), goto)
        writes.append([GOTO, goto])
    return writes, shown


def _check_parent(node: NodeSpec, command: Command[Any], ns: str) -> None:
    if command.graph != Command.PARENT:
        return
    if not ns:
        raise NoParentError(node.name, Command(update=command.update, goto=command.goto))
    raise ParentCommand(Command(update=command.update, goto=command.goto))


async def _many_writes(
    structure: Structure, cp: Checkpoint, node: NodeSpec, outputs: list[Any] | tuple[Any, ...],
    *, ns: str,
) -> tuple[Writes, Any]:
    """A node that returned a list of Commands and plain updates (a ToolNode whose tools
    return Commands), as LangGraph takes it: each item's writes in order (a key may be
    written more than once), all their gotos; streamed as one dict, or as a list of
    one-key dicts when a key is written twice."""
    for o in outputs:
        if isinstance(o, Command):
            _check_parent(node, o, ns)
    writes: Writes = []
    goto: list[Any] = []
    for o in outputs:
        update = o.update if isinstance(o, Command) else o
        writes += command_update(structure, update, node.name) if isinstance(o, Command) \
            else ([k, v] for k, v in structure.state.updates(update, node.name))
        if isinstance(o, Command):
            goto += targets(o.goto)
    shown = _shown(writes)
    if structure.state.output_key is not None and len(writes) > 1:  # a state of one value: the values
        shown = [v for k, v in writes if k == structure.state.output_key]
    if node.name in structure.branches:
        goto += await routed(structure, cp, node.name, writes)
    if goto:
        check_targets(structure, repr(node.name), goto)
        writes.append([GOTO, goto])
    return writes, shown


async def _routed_writes(structure: Structure, cp: Checkpoint, node: NodeSpec, writes: Writes,
                         goto: list[Any]) -> Writes:
    """``writes`` with the node's routing: ``goto`` then its conditional edges' choices."""
    if node.name in structure.branches:
        goto = goto + await routed(structure, cp, node.name, writes)
    if goto:
        check_targets(structure, repr(node.name), goto)
        writes.append([GOTO, goto])
    return writes


def _shown(writes: Writes) -> Any:
    """Writes as the ``updates`` stream shows them (as LangGraph): one dict, or a list of
    one-key dicts when a key is written more than once."""
    keys = [k for k, _ in writes]
    return {k: v for k, v in writes} if len(set(keys)) == len(keys) else [{k: v} for k, v in writes]


async def routed(structure: Structure, cp: Checkpoint, name: str, writes: Writes) -> list[Any]:
    """Evaluate ``name``'s conditional edges on the step's state plus its own writes."""
    if name not in structure.branches:
        return []
    return await route(structure, step_values(structure, cp), name, writes)


def check_targets(structure: Structure, who: str, goto: list[Any]) -> None:
    """Refuse a step that would plan a node the graph does not have, before it is
    written: ``who``'s ``Command(goto=...)``, ``Send`` or conditional edge."""
    for target in goto:
        node = target.node if isinstance(target, Send) else target
        if node == END and isinstance(target, Send):  # (LangGraph's wording first)
            raise InvalidUpdateError(f"Cannot send a packet to the END node: {who} sends Send({END!r}, ...); "
                                     "route to END by name to end the run")
        if node != END and node not in structure.nodes:
            what = f"Send({node!r}, ...)" if isinstance(target, Send) else repr(node)
            raise InvalidUpdateError(
                f"{who} sends the graph to {what}, which is not a node of this graph "
                f"(nodes: {sorted(structure.nodes)})"
            )
        if isinstance(target, Send) and target.timeout is not None and not structure.nodes[node].is_async:
            raise sync_timeout_unsupported(node)  # (a sync node cannot be stopped in-process)


def targets(goto: Any) -> list[Any]:
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
        result = br.path(state if br.input_schema is None else structure.state.to_node(local, br.input_schema))
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




def stored_send(send: Any, untracked: frozenset[str]) -> Any:
    """A ``Send`` as the log keeps it: without the UntrackedValue keys of its dict arg
    (the same object when it has none)."""
    if not isinstance(send, Send) or not isinstance(send.arg, dict) or untracked.isdisjoint(send.arg):
        return send
    return Send(send.node, {k: v for k, v in send.arg.items() if k not in untracked}, timeout=send.timeout)
