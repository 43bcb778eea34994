"""A thread's log as a readable timeline: one row per event, in seq order. Pure.

A row says when (``ts``), which step and node, what happened (``kind``), how long it
took (a node's writes, failure or interrupt: since its ``node.started``; a run's end:
since its ``run.started``), a one-line summary of the body (writes, routing,
interrupts and resume values, checkpoint ids) and who asked for it (the metadata of
``run.started``, ``resume`` and ``state.updated``: the scalar keys of the caller's
``config["configurable"]`` and ``config["metadata"]``).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import bodies as b
from ._audit import body_of, decode_body, started_attempt
from ._errors import DecodeError
from ._event import Event, Kind, checkpoint_id, utc_time
from ._fold import id_hash

__all__ = ["TimelineCursor", "TimelineRow", "format_timeline", "short", "timeline"]

_RUN_LEVEL = (Kind.RUN_STARTED, Kind.RUN_FINISHED, Kind.RESUME)

_repr = reprlib.Repr()
_repr.maxstring = 48
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4
_repr.maxlevel = 3


def short(value: Any, width: int = 60) -> str:
    """A one-line, bounded repr; chat messages as ``role: 'text'``."""
    text = _message(value)
    if text is None:
        if isinstance(value, list) and value and all(_message(v) is not None for v in value):
            inner = ", ".join(str(_message(v)) for v in value[:2])
            text = f"[{inner}{', ...' if len(value) > 2 else ''}]"
        else:
            text = _repr.repr(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _message(value: Any) -> str | None:
    role = _role(value)
    content = getattr(value, "content", None)
    if role is None or content is None:
        return None
    calls = getattr(value, "tool_calls", None)
    extra = f" +{len(calls)} tool call{'s' if len(calls) > 1 else ''}" if calls else ""
    return f"{role}: {_repr.repr(content)}{extra}"


def _role(value: Any) -> str | None:
    """A chat message's role: its ``type``, a class attribute (a message dataclass) or a
    field of a model with ``content`` and ``id`` (langchain-core's messages)."""
    role = getattr(type(value), "type", None)
    if role is None:
        fields = getattr(value, "__dict__", None)
        if isinstance(fields, dict) and "content" in fields and "id" in fields:
            role = fields.get("type")
    return role if isinstance(role, str) else None


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One event of a timeline. ``step`` is None for run-level events (run start and end,
    resume), which belong to no step."""

    seq: int
    parent: int
    ts: float
    step: int | None
    kind: str
    node: str
    duration: float | None
    summary: str
    who: str
    run_id: str
    task_id: str
    ns: str = ""

    @property
    def branches(self) -> bool:
        """True where the event does not follow the previous seq (a fork, or another branch)."""
        return self.parent != self.seq - 1


def _who(metadata: Any) -> str:
    if not isinstance(metadata, Mapping):
        return ""
    return " ".join(f"{k}={v}" for k, v in metadata.items() if isinstance(v, str | int | float | bool))


def _writes(writes: Iterable[Sequence[Any]]) -> str:
    parts = []
    for channel, value in writes:
        if channel == b.GOTO:
            targets = ", ".join(t if isinstance(t, str) else short(t, 32) for t in value or ())
            parts.append(f"-> {targets}")
        else:
            parts.append(f"{channel}={short(value, 48)}")
    return "; ".join(parts) or "(no writes)"


def _next(nxt: Iterable[Mapping[str, Any]]) -> str:
    return ", ".join(str(t.get("name")) for t in nxt) or "END"


_Described = tuple[str, float | None, str, str]  # node, duration, summary, who


class _Timeline:
    """The state a timeline carries from row to row (start times, task names)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self.runs: dict[str, float] = {}

    def row(self, e: Event) -> TimelineRow:
        try:
            body, _ = decode_body(e)
        except DecodeError as err:
            return self._make(e, "", None, f"<cannot decode: {err}>", "")
        data = body_of(e.kind, body)
        describe = _DESCRIBE.get(type(data))
        if describe is None:  # not a body this lograph reads: show it as it is
            shown = body if isinstance(body, dict) else {"value": body}
            return self._make(e, self.names.get(e.task_id, ""), None, short(shown), "")
        return self._make(e, *describe(self, e, data, body))

    def _make(self, e: Event, node: str, duration: float | None, summary: str, who: str) -> TimelineRow:
        step = None if e.kind in _RUN_LEVEL else e.step
        if e.ns:  # an event of a subgraph: "team/write", the nodes that ran subgraphs first
            where = "/".join(part.split(":", 1)[0] for part in e.ns.split("|"))
            node = f"{where}/{node}" if node else where
        return TimelineRow(e.seq, e.parent, e.ts, step, e.kind, node, duration, summary, who,
                           e.run_id, e.task_id, e.ns)

    def _since(self, table: dict[str, float], key: str, ts: float) -> float | None:
        start = table.get(key)
        return None if start is None else max(ts - start, 0.0)

    # one per body class (``_DESCRIBE``): (node, duration, summary, who) of its row

    def _run_started(self, e: Event, d: b.RunStarted, body: Any) -> _Described:
        self.runs[e.run_id] = e.ts
        what = "fork" if d.fork else "resume" if d.resume else "new input"
        return "", None, f"{what}, durability={d.durability}", _who(d.metadata)

    def _node_started(self, e: Event, d: b.NodeStarted, body: Any) -> _Described:
        self.started[e.task_id] = e.ts
        self.names[e.task_id] = d.name
        attempt = started_attempt(body)
        return d.name, None, f"attempt {attempt}" if attempt > 1 else "", ""

    def _node_writes(self, e: Event, d: b.NodeWrites, body: Any) -> _Described:
        return d.name, self._since(self.started, e.task_id, e.ts), _writes(d.writes), ""

    def _node_failed(self, e: Event, d: b.NodeFailed, body: Any) -> _Described:
        final = "final" if d.final else "will retry"
        text = f"{d.error} (attempt {d.attempt}, {final})"
        return d.name, self._since(self.started, e.task_id, e.ts), text, ""

    def _task_result(self, e: Event, d: b.TaskResult, body: Any) -> _Described:
        return d.name, None, f"-> {short(d.value)}" if d.ok else f"failed: {d.value}", ""

    def _interrupts(self, e: Event, d: b.Interrupts, body: Any) -> _Described:
        items = [f"{short(i.value)} (id {i.id[:8]})" for i in d.interrupts]
        name = self.names.get(e.task_id, "")
        return name, self._since(self.started, e.task_id, e.ts), "waits for: " + "; ".join(items), ""

    def _resume(self, e: Event, d: b.Resume, body: Any) -> _Described:
        items = [f"{str(k)[:8]} <- {short(v)}" for k, v in d.values.items()]
        return "", None, "answer " + "; ".join(items), _who(d.metadata)

    def _state_updated(self, e: Event, d: b.StateUpdated, body: Any) -> _Described:
        node = str(d.as_node)
        text = "fork (copy)" if node == b.COPY else f"values={short(d.values)}"
        return node, None, text, _who(d.metadata)

    def _checkpoint(self, e: Event, d: b.CheckpointBody, body: Any) -> _Described:
        changed = ", ".join(map(str, d.delta)) or "nothing"
        text = f"{d.source.value}: next {_next(d.next)}; changed {changed}; id {checkpoint_id(e.seq, id_hash(e))}"
        return "", None, text, ""

    def _run_finished(self, e: Event, d: b.RunFinished, body: Any) -> _Described:
        text = d.status.value + (f": {d.error}" if d.error else "")
        return "", self._since(self.runs, e.run_id, e.ts), text, ""


_DESCRIBE: dict[type[Any], Callable[[_Timeline, Event, Any, Any], _Described]] = {
    b.RunStarted: _Timeline._run_started,
    b.NodeStarted: _Timeline._node_started,
    b.NodeWrites: _Timeline._node_writes,
    b.NodeFailed: _Timeline._node_failed,
    b.TaskResult: _Timeline._task_result,
    b.Interrupts: _Timeline._interrupts,
    b.Resume: _Timeline._resume,
    b.StateUpdated: _Timeline._state_updated,
    b.CheckpointBody: _Timeline._checkpoint,
    b.RunFinished: _Timeline._run_finished,
}


def timeline(events: Iterable[Event]) -> list[TimelineRow]:
    """One row per event, in the order given (oldest first)."""
    state = _Timeline()
    return [state.row(e) for e in events]


class TimelineCursor:
    """A timeline built incrementally (``lograph log --follow``): feed events as they come."""

    def __init__(self) -> None:
        self._state = _Timeline()

    def rows(self, events: Iterable[Event]) -> list[TimelineRow]:
        return [self._state.row(e) for e in events]


def format_timeline(rows: Iterable[TimelineRow]) -> str:
    """The rows as aligned plain text, one line per event, times in UTC (for a console or a file)."""
    table = [["seq", "time (UTC)", "step", "node", "event", "took", "summary", "who"]]
    for r in rows:
        took = "" if r.duration is None else f"{r.duration * 1000:.0f} ms"
        when = utc_time(r.ts, "%Y-%m-%d %H:%M:%S.%f")
        when = when[:-3] if "range" not in when else when
        summary = f"(after #{r.parent}) {r.summary}" if r.branches else r.summary
        table.append([str(r.seq), when, "" if r.step is None else str(r.step), r.node, r.kind, took, summary, r.who])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 2)]
    lines = []
    for row in table:
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        lines.append((f"{head}  {row[-2]}" + (f"  [{row[-1]}]" if row[-1] else "")).rstrip())
    return "\n".join(lines)
