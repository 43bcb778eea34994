"""A table of bad inputs, one test each: a clear error, and the log left unchanged.

Each test builds a thread with some history, records every thread's events, makes one
bad call, checks the error (its type, and a message naming the offending thing and what
to do), then checks that the store holds exactly what it held before. Where a bad value
comes from a node while a run is under way, the run's failure is recorded (that is the
audit trail) but the bad value never reaches the log and the thread's state is unchanged.

Rows: an edge or interrupt list naming an unknown node; a write to a key not in the
schema; a value the codec cannot store; a resume with nothing pending; a resume map with
an unknown id; a checkpoint_id that does not exist; a missing thread_id; a corrupted row;
a store written by a newer schema version; a read-only or missing database file;
PostgreSQL stopped mid-run (retried, then a clear error; consistent; resumes).
"""

from __future__ import annotations

import dataclasses
import operator
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict, TypeVar

import anyio
import asyncpg
import pydantic
import pytest

from lograph.adapters._bridge import Bridge
from lograph.adapters.pgserver import TempPostgres
from lograph.adapters.postgres import SCHEMA_VERSION as PG_SCHEMA_VERSION
from lograph.adapters.postgres import PostgresLog
from lograph.eventlog import (
    CorruptLogError,
    EncodeError,
    Event,
    Kind,
    SchemaVersionError,
    StoreUnavailableError,
    chain_hash,
    decode,
    encode,
)
from lograph.runtime import (
    END,
    START,
    Checkpointer,
    Command,
    EmptyInputError,
    GraphValidationError,
    InvalidUpdateError,
    Overwrite,
    ResumeError,
    Send,
    StateGraph,
    add_messages,
    interrupt,
)
from tests import _store_postgres as pg
from tests._reliability import tally
from tests._stores import open_saver
from tests.faults import bodies, finished, verify_chain

pytestmark = pytest.mark.anyio
E = TypeVar("E", bound=BaseException)



class State(TypedDict, total=False):
    log: Annotated[list, operator.add]
    x: Any


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


def builder() -> StateGraph:
    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("b", lambda s: {"log": ["b"]})
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", END)
    return b


def asking() -> StateGraph:
    def ask(state: State) -> dict[str, Any]:
        return {"log": [f"answer:{interrupt('ok?')}"]}

    b = StateGraph(State)
    b.add_node("ask", ask)
    b.add_edge(START, "ask")
    return b


async def everything(log: Any) -> dict[str, list[Event]]:
    """Every event of every thread: what "the log is unchanged" compares."""
    return {info.thread: await log.read(info.thread) for info in await log.threads()}


@asynccontextmanager
async def unchanged(log: Any, row: str) -> AsyncIterator[None]:
    """Check that the block leaves every thread's events as they were."""
    before = await everything(log)
    yield
    after = await everything(log)
    assert after == before, f"{row}: the log changed"
    tally("bad_inputs", calls_refused=1)


async def refused(
    log: Any, row: str, error: type[E], call: Callable[[], Awaitable[Any]], *names: str,
) -> E:
    """``call`` raises ``error`` (not wrapped in a group) naming ``names``; the log is unchanged."""
    async with unchanged(log, row):
        with pytest.raises(error) as info:
            await call()
    message = str(info.value)
    for name in names:
        assert name in message, f"{row}: the error does not name {name!r}: {message}"
    return info.value


@asynccontextmanager
async def saver_with_history(store_kind: str, tmp_path: Path) -> AsyncIterator[tuple[Checkpointer, Any]]:
    """A store with a finished thread "done" and a thread "asking" waiting for an answer."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("done"), durability="sync")
        await asking().compile(checkpointer=saver).ainvoke({"log": []}, cfg("asking"))
        yield saver, graph


# --- unknown nodes ---------------------------------------------------------------------------


async def test_an_edge_naming_an_unknown_node(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        for wire, where in (
            (lambda b: b.add_edge("a", "ghost"), "target"),
            (lambda b: b.add_edge("ghost", "a"), "source"),
            (lambda b: b.add_edge(["a", "ghost"], "b"), "join"),
            (lambda b: b.add_conditional_edges("a", lambda s: "x", {"x": "ghost"}), "path map"),
        ):
            b = builder()
            wire(b)

            async def compile_it(b: StateGraph = b) -> Any:
                return b.compile(checkpointer=saver)

            err = await refused(saver.log, f"edge ({where})", GraphValidationError, compile_it, "'ghost'")
            assert isinstance(err, ValueError)


async def test_an_interrupt_list_naming_an_unknown_node(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        for option in ("interrupt_before", "interrupt_after"):

            async def compile_it(option: str = option) -> Any:
                return builder().compile(checkpointer=saver, **{option: ["a", "ghost"]})

            await refused(saver.log, option, GraphValidationError, compile_it, "'ghost'")


async def test_a_per_call_interrupt_list_naming_an_unknown_node(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        for option in ("interrupt_before", "interrupt_after"):

            async def run(option: str = option) -> Any:
                return await graph.ainvoke({"log": ["x"]}, cfg("done"), **{option: ["ghost"]})

            await refused(saver.log, f"per-call {option}", ValueError, run, "'ghost'")


# --- keys not in the schema -------------------------------------------------------------------


async def test_update_state_writing_a_key_not_in_the_schema(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        err = await refused(
            saver.log, "update_state unknown key", InvalidUpdateError,
            lambda: graph.aupdate_state(cfg("done"), {"nope": 1}, as_node="a"), "'nope'", "schema",
        )
        assert isinstance(err, ValueError)
        await refused(
            saver.log, "update_state unknown as_node", InvalidUpdateError,
            lambda: graph.aupdate_state(cfg("done"), {"log": ["x"]}, as_node="ghost"), "'ghost'",
        )


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_an_input_writing_a_key_not_in_the_schema(
    anyio_backend: str, store_kind: str, tmp_path: Path, mode: str
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        await refused(
            saver.log, "input unknown key", InvalidUpdateError,
            lambda: graph.ainvoke({"log": ["x"], "nope": 1}, cfg("done"), durability=mode), "'nope'",
        )


async def check_failed_run_left_no_bad_write(
    saver: Checkpointer, graph: Any, thread: str, before: Any, channel: str
) -> None:
    """A node's bad write failed its run: the failure is recorded, the write is not."""
    events = await saver.log.read(thread)
    verify_chain(events)
    assert finished(events)[-1] == "failed"
    written = [c for b in bodies(events, Kind.NODE_WRITES) for c, _ in b["writes"]]
    assert channel not in written, f"the bad write to {channel!r} reached the log"
    assert (await graph.aget_state(cfg(thread))).values == before


async def test_a_node_writing_a_key_not_in_the_schema(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        b = builder()
        b.add_node("bad", lambda s: {"nope": 1})
        b.add_edge("b", "bad")
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), interrupt_before=["bad"])
        before = (await graph.aget_state(cfg("t"))).values
        with pytest.raises(InvalidUpdateError) as info:
            await graph.ainvoke(None, cfg("t"), durability="async")
        assert "'bad'" in str(info.value) and "'nope'" in str(info.value)
        await check_failed_run_left_no_bad_write(saver, graph, "t", before, "nope")
        tally("bad_inputs", calls_refused=1)


def going_to(how: str, target: Any) -> StateGraph:
    """"a" then "b", except that "b" sends the graph to ``target`` (``how``: its own
    Command, a Send, or its conditional edge)."""
    b = StateGraph(State)
    b.add_node("a", lambda s: {"log": ["a"]})
    if how == "command":
        b.add_node("b", lambda s: Command(update={"log": ["b"]}, goto=target))
    elif how == "send":
        b.add_node("b", lambda s: Command(update={"log": ["b"]}, goto=[Send(target, {})]))
    else:
        b.add_node("b", lambda s: {"log": ["b"]})
        b.add_conditional_edges("b", lambda s: target)
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    return b


@pytest.mark.parametrize("how", ["command", "send", "router"])
async def test_a_node_sending_the_graph_to_an_unknown_node(
    anyio_backend: str, store_kind: str, tmp_path: Path, how: str
) -> None:
    """The run fails at that node, naming both; no checkpoint ever plans the unknown node
    (it would fail every later run on the thread as a replay of a node that is not there)."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = going_to(how, "ghost").compile(checkpointer=saver)
        with pytest.raises(InvalidUpdateError) as info:
            await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        assert "'b'" in str(info.value) and "'ghost'" in str(info.value)
        events = await saver.log.read("t")
        assert finished(events) == ["failed"]
        for body in bodies(events, Kind.CHECKPOINT) + bodies(events, Kind.NODE_WRITES):
            assert "ghost" not in repr(body)
        state = await graph.aget_state(cfg("t"))
        assert state.values == {"log": ["in", "a"]} and state.next == ("b",)
        tally("bad_inputs", calls_refused=1)


@pytest.mark.parametrize("how", ["send", "router"])
async def test_a_send_to_end_fails_its_node(
    anyio_backend: str, store_kind: str, tmp_path: Path, how: str
) -> None:
    """END is where a run stops, not a node a packet can go to: the node that sends one
    fails (LangGraph's "Cannot send a packet to the END node"), and no checkpoint plans it;
    a Command input that sends one is refused with nothing written."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = going_to(how, END if how == "send" else Send(END, {})).compile(checkpointer=saver)
        with pytest.raises(InvalidUpdateError, match="Cannot send a packet to the END node") as info:
            await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        assert "'b'" in str(info.value)
        events = await saver.log.read("t")
        assert finished(events) == ["failed"]
        assert all(t["name"] != END for body in bodies(events, Kind.CHECKPOINT) for t in body["next"])
        state = await graph.aget_state(cfg("t"))
        assert state.values == {"log": ["in", "a"]} and state.next == ("b",)
        await refused(
            saver.log, "Command input sends to END", InvalidUpdateError,
            lambda: graph.ainvoke(Command(goto=Send(END, {})), cfg("t")), "Cannot send a packet to the END node",
        )


async def test_update_state_sending_the_graph_to_an_unknown_node(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        await refused(
            saver.log, "update_state goto unknown", InvalidUpdateError,
            lambda: graph.aupdate_state(cfg("done"), Command(goto="zzz"), as_node="a"), "'zzz'",
        )


@pytest.mark.parametrize("bad", [None, START])
async def test_a_conditional_edge_returning_no_destination(
    anyio_backend: str, store_kind: str, tmp_path: Path, bad: Any
) -> None:
    """As LangGraph: a router must return a node, END or a Send; None is a bug, not END."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = going_to("router", bad).compile(checkpointer=saver)
        with pytest.raises(ValueError, match="not a destination") as info:
            await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="sync")
        assert repr(bad) in str(info.value)
        assert (await graph.aget_state(cfg("t"))).next == ("b",)


@pytest.mark.parametrize("limit", [0, -1, "5", 2.5, True])
async def test_a_recursion_limit_that_is_not_a_positive_whole_number(
    anyio_backend: str, store_kind: str, tmp_path: Path, limit: Any
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        await refused(
            saver.log, "bad recursion_limit", ValueError,
            lambda: graph.ainvoke({"log": ["x"]}, cfg("new") | {"recursion_limit": limit}),
            "recursion_limit", repr(limit),
        )


class Typed(pydantic.BaseModel):
    log: Annotated[list, operator.add] = []
    n: int = 0
    chat: Annotated[list, add_messages] = []


class Ranged(pydantic.BaseModel):
    lo: int
    hi: int
    log: Annotated[list, operator.add] = []

    @pydantic.model_validator(mode="after")
    def ordered(self) -> Ranged:
        if self.lo > self.hi:
            raise ValueError(f"lo>hi ({self.lo}>{self.hi})")
        return self


async def test_an_input_making_a_state_the_pydantic_model_refuses(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """The check is the model's on the state the first node would get (as LangGraph's
    nodes get it): validators that read several fields see them all."""
    b = StateGraph(Ranged)
    b.add_node("a", lambda s: {"log": [s.hi - s.lo]})
    b.add_edge(START, "a")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        assert await graph.ainvoke({"lo": 2, "hi": 5}, cfg("t")) == {"lo": 2, "hi": 5, "log": [3]}
        await refused(saver.log, "pydantic cross-field", pydantic.ValidationError,
                      lambda: graph.ainvoke({"lo": 9}, cfg("t")), "lo>hi")
        await refused(saver.log, "pydantic missing field", pydantic.ValidationError,
                      lambda: graph.ainvoke({"lo": 1}, cfg("new")), "hi")


async def test_an_input_the_pydantic_state_model_refuses(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """As LangGraph: the input's keys without a reducer are validated by the state's
    model before any node runs (an invalid one is refused, nothing written); a
    reducer gets its values as given (a message as a tuple or a bare string)."""
    ran: list[Any] = []
    b = StateGraph(Typed)
    b.add_node("a", lambda s: ran.append(s.n) or {"log": ["a"]})
    b.add_edge(START, "a")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = b.compile(checkpointer=saver)
        await refused(saver.log, "pydantic input", pydantic.ValidationError,
                      lambda: graph.ainvoke({"n": "many"}, cfg("t")), "n")
        assert ran == []
        out = await graph.ainvoke({"n": 3, "chat": ("user", "hi"), "log": Overwrite(["x"])}, cfg("t"))
        assert ran == [3]
        assert [m.content for m in out["chat"]] == ["hi"] and out["log"] == ["x", "a"]
        out = await graph.ainvoke({"chat": "hello", "n": Overwrite(4)}, cfg("t"))
        assert [m.content for m in out["chat"]] == ["hi", "hello"] and out["n"] == 4


# --- values the codec cannot store ----------------------------------------------------------------


class Opaque:
    """Not registered with the codec."""


async def test_update_state_with_a_value_the_codec_cannot_store(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        err = await refused(
            saver.log, "update_state unstorable", EncodeError,
            lambda: graph.aupdate_state(cfg("done"), {"x": Opaque()}, as_node="a"),
            "'x'", "Opaque",
        )
        assert isinstance(err, TypeError)


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_an_input_with_a_value_the_codec_cannot_store(
    anyio_backend: str, store_kind: str, tmp_path: Path, mode: str
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        await refused(
            saver.log, "input unstorable", EncodeError,
            lambda: graph.ainvoke({"x": Opaque()}, cfg("done"), durability=mode), "'x'", "Opaque",
        )


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_a_node_returning_a_value_the_codec_cannot_store(
    anyio_backend: str, store_kind: str, tmp_path: Path, mode: str
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        b = builder()
        b.add_node("bad", lambda s: {"x": Opaque(), "log": ["bad"]})
        b.add_edge("b", "bad")
        graph = b.compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), interrupt_before=["bad"])
        before = (await graph.aget_state(cfg("t"))).values
        with pytest.raises(EncodeError) as info:
            await graph.ainvoke(None, cfg("t"), durability=mode)
        for name in ("'x'", "'bad'", "Opaque"):
            assert name in str(info.value), str(info.value)
        await check_failed_run_left_no_bad_write(saver, graph, "t", before, "x")
        tally("bad_inputs", calls_refused=1)


# --- resumes -------------------------------------------------------------------------------------


async def test_a_resume_with_nothing_pending(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        err = await refused(
            saver.log, "resume, nothing pending", ResumeError,
            lambda: graph.ainvoke(Command(resume="yes"), cfg("done")), "nothing is waiting",
        )
        assert isinstance(err, RuntimeError)  # what LangGraph raises for a resume it cannot place
        await refused(
            saver.log, "resume, empty thread", EmptyInputError,
            lambda: graph.ainvoke(Command(resume="yes"), cfg("never-ran")),
        )
        await refused(
            saver.log, "invoke(None), empty thread", EmptyInputError,
            lambda: graph.ainvoke(None, cfg("never-ran")), "'never-ran'",
        )


async def test_a_resume_map_with_an_unknown_id(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        graph = asking().compile(checkpointer=saver)
        (pending,) = (await graph.aget_state(cfg("asking"))).interrupts
        ghost = "f" * 32
        await refused(
            saver.log, "resume map, unknown id", ResumeError,
            lambda: graph.ainvoke(Command(resume={ghost: "yes"}), cfg("asking")), ghost, pending.id,
        )
        await refused(  # one known id does not let the unknown one through
            saver.log, "resume map, one unknown id", ResumeError,
            lambda: graph.ainvoke(Command(resume={pending.id: "yes", ghost: "no"}), cfg("asking")),
            ghost,
        )
        out = await graph.ainvoke(Command(resume={pending.id: "yes"}), cfg("asking"))
        assert out["log"] == ["answer:yes"]


# --- configs -------------------------------------------------------------------------------------


async def test_a_checkpoint_id_that_does_not_exist(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):
        other = (await graph.aget_state(cfg("asking"))).config["configurable"]["checkpoint_id"]
        for cid, says in (
            ("00000000-0000-0063-0000-000000000000", "does not exist in thread 'done'"),
            (other, "does not exist in thread 'done'"),  # a checkpoint of another thread
            ("yesterday", "not a lograph checkpoint id"),
        ):
            at = cfg("done", checkpoint_id=cid)
            for what, call in (
                ("aget_state", lambda at=at: graph.aget_state(at)),
                ("ainvoke(None)", lambda at=at: graph.ainvoke(None, at)),
                ("ainvoke(input)", lambda at=at: graph.ainvoke({"log": ["x"]}, at)),
                ("aupdate_state", lambda at=at: graph.aupdate_state(at, {"log": ["x"]}, as_node="a")),
            ):
                await refused(saver.log, f"checkpoint_id {cid!r}, {what}", ValueError, call, cid, says)


async def test_a_missing_thread_id(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):

        async def history(config: Any) -> Any:
            return [s async for s in graph.aget_state_history(config)]

        configs: list[Any] = [
            None, {}, {"configurable": {}}, {"configurable": {"thread_id": None}},
            {"configurable": {"thread_id": ""}}, {"configurable": {"checkpoint_id": "x"}},
        ]
        for config in configs:
            for what, call in (
                ("ainvoke", lambda c=config: graph.ainvoke({"log": ["x"]}, c)),
                ("aget_state", lambda c=config: graph.aget_state(c)),
                ("aupdate_state", lambda c=config: graph.aupdate_state(c, {"log": ["x"]}, as_node="a")),
                ("aget_state_history", lambda c=config: history(c)),
            ):
                await refused(saver.log, f"{what} with {config}", ValueError, call, "thread_id")


async def test_astream_raises_errors_as_they_are(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, graph):

        async def stream(config: Any) -> Any:
            return [c async for c in graph.astream({"log": ["x"]}, config)]

        await refused(saver.log, "astream without thread_id", ValueError, lambda: stream({}), "thread_id")


# --- corrupted rows ----------------------------------------------------------------------------


async def raw_pg(sql: str, *args: Any) -> Any:
    dsn = await pg.dsn()

    async def run() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.execute(sql, *args)
        finally:
            await conn.close()

    return await Bridge.here().run(run)


async def overwrite(store_kind: str, log: Any, thread: str, seq: int, body: bytes, digest: bytes) -> None:
    """Edit one stored row behind the store's back (a disk fault, or a hand-edited table)."""
    if store_kind == "memory":
        events = log._events[thread]
        events[seq - 1] = dataclasses.replace(events[seq - 1], body=body, hash=digest)
    elif store_kind == "sqlite":
        conn = sqlite3.connect(log.path)
        with conn:
            conn.execute("UPDATE events SET body = ?, hash = ? WHERE thread = ? AND seq = ?",
                         (body, digest, thread, seq))
        conn.close()
    else:
        await raw_pg(f'UPDATE "{log.schema}".events SET body = $1, hash = $2 '
                     "WHERE thread = $3 AND seq = $4", body, digest, thread, seq)


async def test_a_corrupted_row_names_the_thread_and_position(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        log = saver.log
        events = await log.read("done")
        third = events[2]
        # an edited body: the hash chain breaks at that event
        await overwrite(store_kind, log, "done", 3, third.body + b"\x00", third.hash)
        fresh = builder().compile(checkpointer=Checkpointer(log))  # a new process: no cache
        for what, call in (
            ("aget_state", lambda: fresh.aget_state(cfg("done"))),
            ("ainvoke", lambda: fresh.ainvoke({"log": ["x"]}, cfg("done"))),
            ("ainvoke(None)", lambda: fresh.ainvoke(None, cfg("done"))),
            ("aupdate_state", lambda: fresh.aupdate_state(cfg("done"), {"log": ["x"]}, as_node="a")),
        ):
            err = await refused(log, f"edited row, {what}", CorruptLogError, call, "'done'", "event 3")
            assert (err.thread, err.seq) == ("done", 3)
        await overwrite(store_kind, log, "done", 3, third.body, third.hash)  # repaired
        assert (await fresh.aget_state(cfg("done"))).values == {"log": ["in", "a", "b"]}

        # an undecodable body sealed with a valid hash (the newest event: the chain holds)
        last = events[-1]
        parent = events[-2]
        junk = b"\xff\xfe not cbor"
        digest = chain_hash(parent.hash, last.seq, last.parent, last.kind, last.run_id, last.step,
                            last.task_id, last.ns, last.ts, junk)
        await overwrite(store_kind, log, "done", last.seq, junk, digest)
        fresh = builder().compile(checkpointer=Checkpointer(log))
        err = await refused(log, "undecodable row", CorruptLogError,
                            lambda: fresh.aget_state(cfg("done")), "'done'", f"event {last.seq}")
        assert err.seq == last.seq


@pytest.mark.parametrize("edit", ["tampered", "undecodable"])
async def test_the_history_of_a_corrupted_log_is_an_error(
    anyio_backend: str, store_kind: str, tmp_path: Path, edit: str
) -> None:
    async with saver_with_history(store_kind, tmp_path) as (saver, _):
        events = await saver.log.read("done")
        row = next(e for e in events if e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "a")
        if edit == "tampered":  # node a "wrote" something else: still valid CBOR
            body = decode(row.body)
            body["writes"] = [["log", ["forged"]]]
            data = encode(body, path="test")
        else:
            data = row.body + b"\x00"
        await overwrite(store_kind, saver.log, "done", row.seq, data, row.hash)
        fresh = builder().compile(checkpointer=Checkpointer(saver.log))

        async def history() -> Any:
            return [s async for s in fresh.aget_state_history(cfg("done"))]

        await refused(saver.log, f"{edit} row, history", CorruptLogError, history,
                      "'done'", f"event {row.seq}")


# --- stores ----------------------------------------------------------------------------------------


def sql_rows(path: Path, query: str) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


async def test_a_sqlite_store_written_by_a_newer_schema_version(anyio_backend: str, tmp_path: Path) -> None:
    from lograph.adapters.sqlite import SqliteSaver

    path = tmp_path / "newer.db"
    async with SqliteSaver.from_conn_string(path) as saver:
        await builder().compile(checkpointer=saver).ainvoke({"log": ["in"]}, cfg("t"))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError) as info:
        async with SqliteSaver.from_conn_string(path):
            pass
    for name in (str(path), "99", "newer lograph", "upgrade"):
        assert name in str(info.value)
    assert path.read_bytes() == before, "the newer store was changed"
    tally("bad_inputs", calls_refused=1)


async def test_a_postgres_store_written_by_a_newer_schema_version(anyio_backend: str) -> None:
    from lograph.adapters.postgres import AsyncPostgresSaver

    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        await saver.setup()
        await builder().compile(checkpointer=saver).ainvoke({"log": ["in"]}, cfg("t"))
        before = await saver.log.read("t")
    await raw_pg(f'INSERT INTO "{schema}".lograph_schema_version (version) VALUES ($1)',
                 PG_SCHEMA_VERSION + 1)
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        with pytest.raises(SchemaVersionError, match="newer lograph"):
            await saver.setup()
        graph = builder().compile(checkpointer=saver)
        for call in (lambda: graph.aget_state(cfg("t")), lambda: graph.ainvoke({"log": ["x"]}, cfg("t"))):
            with pytest.raises(SchemaVersionError, match=f"version {PG_SCHEMA_VERSION + 1}"):
                await call()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        log._ready = True  # read past the version check, to see what is stored
        assert await log.read("t") == before
    tally("bad_inputs", calls_refused=3)


def immutable(path: Path, on: bool) -> bool:
    """Make ``path`` unwritable even for root (chattr +i); False where that is not possible."""
    if os.geteuid() != 0:
        path.chmod(0o444 if on else 0o644)
        return True
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    done = subprocess.run([chattr, "+i" if on else "-i", str(path)], capture_output=True)
    return done.returncode == 0


async def test_a_read_only_sqlite_database(anyio_backend: str, tmp_path: Path) -> None:
    from lograph.adapters.sqlite import SqliteSaver

    path = tmp_path / "ro.db"
    async with SqliteSaver.from_conn_string(path) as saver:
        await builder().compile(checkpointer=saver).ainvoke({"log": ["in"]}, cfg("t"))
    before = path.read_bytes()
    uri = f"file:{path}?mode=ro"
    with pytest.raises(StoreUnavailableError, match="read-only") as info:
        async with SqliteSaver.from_conn_string(uri):
            pass
    assert uri in str(info.value) and "writable" in str(info.value)
    if immutable(path, True):  # the file itself cannot be written
        try:
            with pytest.raises(StoreUnavailableError, match=r"read-only|cannot open") as info:
                async with SqliteSaver.from_conn_string(path):
                    pass
            assert str(path) in str(info.value)
        finally:
            immutable(path, False)
    assert path.read_bytes() == before, "the read-only store was changed"
    tally("bad_inputs", calls_refused=2)


async def test_a_missing_sqlite_database(anyio_backend: str, tmp_path: Path) -> None:
    from lograph.adapters.sqlite import SqliteSaver

    missing_dir = tmp_path / "gone" / "store.db"
    with pytest.raises(StoreUnavailableError, match="directory") as info:
        async with SqliteSaver.from_conn_string(missing_dir):
            pass
    assert str(missing_dir.parent) in str(info.value)
    assert not missing_dir.parent.exists()
    missing_file = tmp_path / "never.db"
    with pytest.raises(StoreUnavailableError, match="cannot open"):
        async with SqliteSaver.from_conn_string(f"file:{missing_file}?mode=rw"):
            pass
    assert not missing_file.exists()
    tally("bad_inputs", calls_refused=2)


async def test_a_read_only_postgres_database(anyio_backend: str) -> None:
    """A server that refuses writes (default_transaction_read_only); see the test below
    for the error's form in every mode."""
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
        await builder().compile(checkpointer=Checkpointer(log)).ainvoke({"log": ["in"]}, cfg("t"))
    async with await PostgresLog.open(
        dsn, schema=schema, retry_for=0.5, server_settings={"default_transaction_read_only": "on"}
    ) as log:
        graph = builder().compile(checkpointer=Checkpointer(log))
        await refused(log, "read-only PostgreSQL", StoreUnavailableError,
                      lambda: graph.ainvoke({"log": ["x"]}, cfg("t"), durability="async"),
                      "read-only", "append")


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_a_store_error_reaches_the_caller_as_it_is(anyio_backend: str, mode: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
    async with await PostgresLog.open(
        dsn, schema=schema, retry_for=0.2, server_settings={"default_transaction_read_only": "on"}
    ) as log:
        graph = builder().compile(checkpointer=Checkpointer(log))
        with pytest.raises(StoreUnavailableError, match="read-only"):
            await graph.ainvoke({"log": ["x"]}, cfg("t"), durability=mode)


# --- PostgreSQL stopped mid-run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Any:
    """A server of this module's own: these tests stop it (the session's server stays up)."""
    server = pg.start_server(fsync=False, max_connections=30)
    try:
        yield server
    finally:
        server.stop()


def outage_graph(saver: Checkpointer, ran: list[str], stop: Callable[[], None]) -> Any:
    """START -> a -> b -> c; b stops the server the first time it runs."""

    def node(name: str) -> Any:
        def run(state: State) -> dict[str, Any]:
            ran.append(name)
            if name == "b" and ran.count("b") == 1:
                stop()
            return {"log": [name]}

        return run

    b = StateGraph(State)
    for name in ("a", "b", "c"):
        b.add_node(name, node(name))
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver)


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
@pytest.mark.parametrize("placed", [False, True])
async def test_postgres_stopped_mid_run(
    anyio_backend: str, own_server: TempPostgres, mode: str, placed: bool
) -> None:
    # placed: the run takes a place in its thread's queue, committed without waiting for
    # the WAL's flush, which the server's kill may lose: its log records it again
    def cfg(thread: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread, **(
            {"multitask_strategy": "enqueue"} if placed else {})}}

    schema = pg.fresh_schema()
    expected = {"log": ["in", "a", "b", "c"]}
    async with await PostgresLog.open(own_server.dsn, schema=schema, retry_for=30) as log:
        await log.setup()

        # 1. down for less than the retry budget: the run waits it out and finishes
        restarts: list[threading.Thread] = []

        def stop_for_a_while() -> None:
            own_server.kill()
            def restart_soon() -> None:
                time.sleep(0.5)
                own_server.restart()

            later = threading.Thread(target=restart_soon)
            later.start()
            restarts.append(later)

        ran: list[str] = []
        graph = outage_graph(Checkpointer(log), ran, stop_for_a_while)
        try:
            assert await graph.ainvoke({"log": ["in"]}, cfg("brief"), durability=mode) == expected
        finally:
            for later in restarts:
                await anyio.to_thread.run_sync(later.join)
        assert ran == ["a", "b", "c"]
        events = await log.read("brief")
        verify_chain(events)
        assert finished(events) == ["done"]

        # 2. down for longer than the budget: a clear error, then the thread resumes
        log.retry_for = 1.0
        ran = []
        graph = outage_graph(Checkpointer(log), ran, own_server.kill)
        started = time.monotonic()
        try:
            with pytest.raises(StoreUnavailableError) as info:
                await graph.ainvoke({"log": ["in"]}, cfg("long"), durability=mode)
            # retried with backoff (a refused connection alone fails in milliseconds); the
            # budget is not overrun, so giving up may come before a whole second
            assert time.monotonic() - started >= 0.15, "no retry before giving up"
            assert "kept failing for 1.0s" in str(info.value) and "server" in str(info.value)
        finally:
            await anyio.to_thread.run_sync(own_server.restart)
        log.retry_for = 30
        events = await log.read("long")
        verify_chain(events)  # consistent: whole batches only
        durable = {decode(e.body)["name"] for e in events if e.kind == Kind.NODE_WRITES}
        before = list(ran)
        fresh = outage_graph(Checkpointer(log), ran, lambda: None)
        try:
            out = await fresh.ainvoke(None, cfg("long"), durability=mode)
        except EmptyInputError:  # nothing of the run reached the server
            assert not any(e.kind == Kind.CHECKPOINT for e in events)
            out = await fresh.ainvoke({"log": ["in"]}, cfg("long"), durability=mode)
        assert out == expected
        for name in ("a", "b", "c"):
            again = ran.count(name) - before.count(name)
            assert again == (0 if name in durable else 1), (name, before, ran, durable)
        final = await log.read("long")
        verify_chain(final)
        assert final[: len(events)] == events
        assert finished(final)[-1] == "done"
    tally("bad_inputs", calls_refused=1, outages_survived=2)
