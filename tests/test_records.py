"""The stored records' constructors: ``quick_init`` keeps a frozen dataclass's meaning, and
a ``CheckedAppend`` is checked whenever one is made."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from lograph.eventlog import GENESIS, Append, Event, Kind, make_event
from lograph.eventlog.bodies import CheckpointBody, NodeStarted, RunStarted
from lograph.eventlog.lowlevel import CheckedAppend


def _events(n: int, start: int = 1) -> list[Event]:
    out, digest = [], GENESIS
    for seq in range(start, start + n):
        e = make_event(digest, seq=seq, parent=seq - 1, kind=Kind.NODE_STARTED, ts=1.0, body=b"\xa0")
        out.append(e)
        digest = e.hash
    return out


def test_a_quick_init_record_is_built_as_its_dataclass_would_be() -> None:
    e = Event(1, 0, "checkpoint", "r", 2, "t", "ns", 1.5, b"b", b"h")
    assert e == Event(seq=1, parent=0, kind="checkpoint", run_id="r", step=2, task_id="t", ns="ns",
                      ts=1.5, body=b"b", hash=b"h")
    assert [f.name for f in dataclasses.fields(Event)] == list(inspect.signature(Event).parameters)
    assert dataclasses.replace(e, seq=7).seq == 7 and dataclasses.replace(e, seq=7).hash == b"h"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.seq = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Event(1, 0, "checkpoint")  # type: ignore[call-arg]
    # defaults, and a default factory called for each record
    a, b = RunStarted(True, "exit"), RunStarted(resume=True, durability="exit")
    assert a == b and a.fork is False and a.metadata == {} and a.metadata is not b.metadata
    assert NodeStarted("n").path == ()
    body = CheckpointBody("loop", {}, [])
    assert body.barriers == {} and body.ids_derived is True and body.id_hash is None


def test_quick_init_refuses_what_it_would_change() -> None:
    from lograph.eventlog.lowlevel import quick_init

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass
    class NotFrozen:
        x: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class NotInInit:
        x: int
        y: int = field(init=False, default=0)

    for cls in (NoSlots, NotFrozen, PostInit, NotInInit):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)


def test_a_checked_append_is_checked_whenever_it_is_made() -> None:
    events = _events(2)
    item = CheckedAppend("t", events, 0)
    assert isinstance(item, Append) and item.events == tuple(events)  # a tuple: it cannot change
    with pytest.raises(ValueError, match="densely"):
        CheckedAppend("t", events, 3)
    with pytest.raises(ValueError, match="at least one event"):
        CheckedAppend("t", [], 0)
    with pytest.raises(ValueError, match="NUL"):
        CheckedAppend("a\x00b", events, 0)
    with pytest.raises(ValueError, match="densely"):  # a copy with other fields is checked again
        dataclasses.replace(item, expect_head=5)
    # a plain Append is not checked when made: the store checks it (the contract suite)
    assert Append("t", tuple(events), 3).expect_head == 3
