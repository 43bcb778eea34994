"""Read a thread of the golden store back, through the public API, into plain JSON data.

The generator records what lograph 111fa4b read back; the test reads the same rows back
with today's code and compares. The JSON form (``canon``) keeps every type exactly and
is independent of lograph's own codec, so a codec that changed both ways cannot hide a
difference: a tuple is ``{"!tuple": [...]}``, a dict keeps its key order, a class is
named by module and name (lograph's own classes by name only, so moving one between
lograph's private modules is no difference; its public name is checked separately by
the test).
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
from collections.abc import Mapping
from contextlib import redirect_stdout
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from lograph.eventlog import (
    Event,
    checkpoint_records,
    decode,
    event_from_json,
    event_to_json,
    format_timeline,
    summarize,
    timeline,
    typed,
)
from lograph.runtime import verify_thread

# --- the JSON form -----------------------------------------------------------------------------

_SCALAR_REPR = (datetime, date, time, timedelta, tzinfo, Decimal, UUID, Fraction, complex)


def class_name(cls: type) -> str:
    if cls.__module__.split(".")[0] == "lograph":
        return f"lograph:{cls.__qualname__}"
    return f"{cls.__module__}:{cls.__qualname__}"


def canon(value: Any) -> Any:
    """``value`` as JSON data that differs whenever the value's type or content differs."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"!float": repr(value)}  # NaN and infinities too; 1.0 never becomes 1
    if type(value) is list:
        return [canon(v) for v in value]
    if type(value) is dict and all(type(k) is str and not k.startswith("!") for k in value):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, type):
        return {"!class": class_name(value)}
    name = class_name(type(value))
    if type(value) is tuple:
        return {"!tuple": [canon(v) for v in value]}
    if type(value) in (set, frozenset):
        members = sorted((canon(v) for v in value), key=lambda c: json.dumps(c, sort_keys=True))
        return {f"!{type(value).__name__}": members}
    if type(value) in (bytes, bytearray):
        return {f"!{type(value).__name__}": value.hex()}
    if isinstance(value, enum.Enum):
        return {"!enum": [name, value.name]}
    if isinstance(value, BaseException):
        return {"!exception": [name, canon(value.args)]}
    if isinstance(value, BaseModel):
        return {"!model": [name, canon(dict(value.__dict__)), sorted(value.model_fields_set),
                           canon(value.__pydantic_extra__)]}
    if dataclasses.is_dataclass(value):
        fields = {f.name: canon(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"!dataclass": [name, fields]}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"!namedtuple": [name, {f: canon(getattr(value, f)) for f in value._fields}]}
    if isinstance(value, Mapping):
        return {"!map": [name, [[canon(k), canon(v)] for k, v in value.items()]]}
    if isinstance(value, _SCALAR_REPR):
        return {"!value": [name, repr(value)]}
    if isinstance(value, list | tuple | set | frozenset):
        return {"!sequence": [name, [canon(v) for v in value]]}
    return {"!repr": [name, repr(value)]}


def first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (dict key order counts), or None."""
    if type(expected) is not type(actual):
        return f"{path or '.'}: expected {_brief(expected)}, read back {_brief(actual)}"
    if isinstance(expected, dict):
        if list(expected) != list(actual):
            return f"{path or '.'}: keys {list(expected)} expected, read back {list(actual)}"
        for k in expected:
            found = first_difference(expected[k], actual[k], f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(e, a, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path or '.'}: {len(expected)} items expected, read back {len(actual)}"
        return None
    if expected != actual:
        return f"{path or '.'}: expected {_brief(expected)}, read back {_brief(actual)}"
    return None


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


# --- rows: the committed form of an event ------------------------------------------------------


def event_row(e: Event) -> list[Any]:
    return [e.seq, e.parent, e.kind, e.run_id, e.step, e.task_id, e.ns, e.ts, e.body.hex(), e.hash.hex()]


def row_event(row: list[Any]) -> Event:
    seq, parent, kind, run_id, step, task_id, ns, ts, body, digest = row
    return Event(seq=seq, parent=parent, kind=kind, run_id=run_id, step=step, task_id=task_id,
                 ns=ns, ts=ts, body=bytes.fromhex(body), hash=bytes.fromhex(digest))


# --- what is read back -------------------------------------------------------------------------


def _key(config: dict[str, Any]) -> str:
    # (without the ``checkpoint_map`` a subgraph's config carries since 111fa4b: the keys
    # name the checkpoint as 111fa4b's did)
    return json.dumps({k: v for k, v in config["configurable"].items() if k != "checkpoint_map"},
                      sort_keys=True)


def _verdict(v: Any) -> dict[str, Any]:
    return {"ok": v.ok, "events": v.events, "head": v.head, "head_hash": v.head_hash.hex(),
            "chain": [str(p) for p in v.chain], "snapshots": list(v.snapshots),
            "divergence": None if v.divergence is None else str(v.divergence),
            "replayed": v.replayed, "problem": v.problem}


async def read_back(saver: Any, graph: Any, thread: str) -> dict[str, Any]:
    """Everything the golden test compares for one thread, as JSON data.

    ``saver`` holds the thread's events; ``graph`` is the graph that wrote them,
    compiled on ``saver``. Sections: the stored rows, each event's decoded body, typed
    form and JSON form, the timeline, the thread summary, the checkpoint records, the
    state (with and without subgraphs), the history, the state at every checkpoint of
    the history and of every subgraph shown there, and the verdicts of ``verify``.
    """
    events: list[Event] = await saver.log.read(thread)
    cfg = {"configurable": {"thread_id": thread}}
    out: dict[str, Any] = {"rows": [event_row(e) for e in events]}  # (not kept: events.json)
    out["bodies"] = [canon(decode(e.body)) for e in events]
    out["typed"] = [[type(t).__name__, t.exact, t.kind] for t in map(typed, events)]
    # the JSON form (``lograph log --json``): its bodies, and that the rest is the row
    as_json = [event_to_json(e, thread) for e in events]
    out["json"] = [j["body"] for j in as_json]
    out["json_is_the_row"] = all(event_from_json(j) == e and j["hash"] == e.hash.hex()
                                 for j, e in zip(as_json, events, strict=True))
    out["timeline"] = format_timeline(timeline(events)).splitlines()
    infos = {i.thread: i for i in await saver.log.threads()}
    summary = summarize(infos[thread], events)
    # (``bytes`` is what the store keeps: SQLite and PostgreSQL compress large bodies)
    out["summary"] = canon(dataclasses.replace(summary, bytes=0))
    out["info"] = canon(dataclasses.replace(infos[thread], bytes=0))
    out["records"] = [canon(r) for r in checkpoint_records(events)]
    out["state"] = canon(await graph.aget_state(cfg))
    with_subgraphs = canon(await graph.aget_state(cfg, subgraphs=True))
    out["state_subgraphs"] = {"!same_as": "state"} if with_subgraphs == out["state"] else with_subgraphs
    history = [s async for s in graph.aget_state_history(cfg)]
    out["history"] = [canon(s) for s in history]
    listed = {_key(s.config): i for i, s in enumerate(history)}
    at: dict[str, Any] = {}
    todo = [s.config for s in history]
    while todo:
        config = todo.pop(0)
        key = _key(config)
        if key in at:
            continue
        state = await graph.aget_state(config, subgraphs=True)
        same = key in listed and canon(state) == out["history"][listed[key]]
        at[key] = {"!same_as_history": listed[key]} if same else canon(state)
        todo += [t.state.config for t in state.tasks if t.state is not None
                 and t.state.config["configurable"].get("checkpoint_id")]
    out["state_at"] = at
    out["verify"] = _verdict(await verify_thread(saver, thread))
    out["verify_replay"] = _verdict(await verify_thread(saver, thread, graph=graph))
    return out


# --- the command line, on a SQLite file ---------------------------------------------------------

CLI_COMMANDS: list[list[str]] = [
    ["threads", "{db}", "--json"],
    ["--plain", "threads", "{db}"],
    ["verify", "{db}", "--json"],
    ["--plain", "verify", "{db}"],
]
CLI_THREAD_COMMANDS: list[list[str]] = [
    ["--plain", "log", "{db}", "{thread}"],
    ["state", "{db}", "{thread}", "--json"],
    ["history", "{db}", "{thread}", "--json"],
]
#: ``log --json`` repeats the rows and the JSON bodies already compared: one thread
CLI_JSON_LOG = "cmd-1"


def run_cli(db: str, threads: list[str]) -> dict[str, Any]:
    """The output and exit code of ``lograph`` commands on the SQLite file ``db`` (call
    outside any event loop: the command runs its own)."""
    from lograph.adapters.cli import main

    commands = [[a.format(db=db) for a in c] for c in CLI_COMMANDS]
    commands += [[a.format(db=db, thread=t) for a in c] for t in threads for c in CLI_THREAD_COMMANDS]
    commands.append(["log", db, CLI_JSON_LOG, "--json"])
    out = {}
    for argv in commands:
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            code = main(argv)
        key = " ".join("DB" if a == db else a for a in argv)
        out[key] = {"exit": code, "stdout": buffer.getvalue().replace(db, "DB").splitlines()}
    return out
