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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._audit import decode_body
from ._errors import DecodeError
from ._event import Event, Kind, checkpoint_id

__all__ = ["TimelineCursor", "TimelineRow", "format_timeline", "short", "timeline"]

GOTO = "__goto__"
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
    role = getattr(type(value), "type", None)
    content = getattr(value, "content", None)
    if not isinstance(role, str) or content is None:
        return None
    calls = getattr(value, "tool_calls", None)
    extra = f" +{len(calls)} tool call{'s' if len(calls) > 1 else ''}" if calls else ""
    return f"{role}: {_repr.repr(content)}{extra}"


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
    if not isinstance(metadata, dict):
        return ""
    return " ".join(f"{k}={v}" for k, v in metadata.items() if isinstance(v, str | int | float | bool))


def _writes(writes: Any) -> str:
    parts = []
    for channel, value in writes or ():
        if channel == GOTO:
            targets = ", ".join(t if isinstance(t, str) else short(t, 32) for t in value or ())
            parts.append(f"-> {targets}")
        else:
            parts.append(f"{channel}={short(value, 48)}")
    return "; ".join(parts) or "(no writes)"


def _next(nxt: Any) -> str:
    return ", ".join(str(t.get("name")) for t in nxt or ()) or "END"


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
        body = body if isinstance(body, dict) else {"value": body}
        node, duration, summary, who = self._describe(e, body)
        return self._make(e, node, duration, summary, who)

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

    def _describe(self, e: Event, body: dict[str, Any]) -> tuple[str, float | None, str, str]:
        kind = e.kind
        name = str(body.get("name", "")) if "name" in body else self.names.get(e.task_id, "")
        if kind == Kind.RUN_STARTED:
            self.runs[e.run_id] = e.ts
            what = "fork" if body.get("fork") else "resume" if body.get("resume") else "new input"
            return "", None, f"{what}, durability={body.get('durability', '?')}", _who(body.get("metadata"))
        if kind == Kind.NODE_STARTED:
            self.started[e.task_id] = e.ts
            self.names[e.task_id] = name
            attempt = int(body.get("attempt", 1))
            return name, None, f"attempt {attempt}" if attempt > 1 else "", ""
        if kind == Kind.NODE_WRITES:
            return name, self._since(self.started, e.task_id, e.ts), _writes(body.get("writes")), ""
        if kind == Kind.NODE_FAILED:
            final = "final" if body.get("final", True) else "will retry"
            text = f"{body.get('error')} (attempt {body.get('attempt', 1)}, {final})"
            return name, self._since(self.started, e.task_id, e.ts), text, ""
        if kind == Kind.TASK_RESULT:
            text = f"-> {short(body.get('value'))}" if body.get("ok") else f"failed: {body.get('value')}"
            return name, None, text, ""
        if kind == Kind.INTERRUPT:
            items = [f"{short(i.get('value'))} (id {str(i.get('id'))[:8]})" for i in body.get("interrupts") or ()]
            return name, self._since(self.started, e.task_id, e.ts), "waits for: " + "; ".join(items), ""
        if kind == Kind.RESUME:
            items = [f"{str(k)[:8]} <- {short(v)}" for k, v in (body.get("values") or {}).items()]
            return "", None, "answer " + "; ".join(items), _who(body.get("metadata"))
        if kind == Kind.STATE_UPDATED:
            node = str(body.get("as_node"))
            values = body.get("values")
            text = "fork (copy)" if node == "__copy__" else f"values={short(values)}"
            return node, None, text, _who(body.get("metadata"))
        if kind == Kind.CHECKPOINT:
            changed = ", ".join(map(str, body.get("delta") or ())) or "nothing"
            text = (f"{body.get('source', '')}: next {_next(body.get('next'))}; changed {changed}; "
                    f"id {checkpoint_id(e.seq, e.hash)}")
            return "", None, text, ""
        if kind == Kind.RUN_FINISHED:
            error = body.get("error")
            text = str(body.get("status")) + (f": {error}" if error else "")
            return "", self._since(self.runs, e.run_id, e.ts), text, ""
        return name, None, short(body), ""


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
    from datetime import UTC, datetime

    table = [["seq", "time (UTC)", "step", "node", "event", "took", "summary", "who"]]
    for r in rows:
        took = "" if r.duration is None else f"{r.duration * 1000:.0f} ms"
        when = datetime.fromtimestamp(r.ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        summary = f"(after #{r.parent}) {r.summary}" if r.branches else r.summary
        table.append([str(r.seq), when, "" if r.step is None else str(r.step), r.node, r.kind, took, summary, r.who])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 2)]
    lines = []
    for row in table:
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        lines.append((f"{head}  {row[-2]}" + (f"  [{row[-1]}]" if row[-1] else "")).rstrip())
    return "\n".join(lines)
