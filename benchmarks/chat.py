"""chat: one thread, many turns; latency over turns, storage per turn, reads and a fork.

Per turn ``ainvoke`` gets one user message and the one node appends a ~300-byte reply
to ``messages: Annotated[list, operator.add]``. Then, on the same saver: ``get_state``
warm (median of repeats) and cold, the full ``get_state_history`` list, and a fork:
``ainvoke`` with a new message on the config of the history entry that ended turn
``chat_fork_turn``. Cold (not for the memory store): a new saver opened on the same
file or database beside the first, timed from opening to ``get_state`` returning;
once after the turns and once more after the fork, whose branch is then the head.

Storage is the store's bytes after the turns minus before them (after warm-up turns
on another thread, which also prepare every pooled connection), divided by the turns:
SQLite's file plus -wal after a TRUNCATE checkpoint; PostgreSQL's
``pg_total_relation_size`` of the engine's tables.
"""

from __future__ import annotations

import time
from typing import Any

from ._common import Ctx, WrongResult, config, mean, percentile
from ._stores import Place
from .graphs import chat_builder, chat_input

THREAD = "chat"
GET_STATE_REPEATS = 20
EDGE = 10  # turns averaged at each end


def _messages(values: Any) -> int:
    return len((values or {}).get("messages", ()))


def _fork_point(history: list[Any], turn: int) -> Any:
    """The history entry at the end of ``turn``: 2*turn messages and nothing next."""
    for entry in history:
        if not entry.next and _messages(entry.values) == 2 * turn:
            return entry
    raise WrongResult(f"no history entry ends turn {turn} ({len(history)} entries)")


async def _turns(ctx: Ctx, graph: Any, m: dict[str, Any]) -> None:
    latencies: list[float] = []
    for turn in range(1, ctx.sizes.chat_turns + 1):
        t = time.perf_counter()
        out = await graph.ainvoke(chat_input(turn), config(THREAD), durability=ctx.mode)
        latencies.append(time.perf_counter() - t)
    if _messages(out) != 2 * ctx.sizes.chat_turns:
        raise WrongResult(f"after {ctx.sizes.chat_turns} turns: {_messages(out)} messages")
    edge = min(EDGE, max(1, len(latencies) // 2))
    first, last = latencies[:edge], latencies[-edge:]
    m["edge"] = edge
    m["first_ms"] = mean(first) * 1e3
    m["last_ms"] = mean(last) * 1e3
    m["growth"] = m["last_ms"] / m["first_ms"]
    m["growth_median"] = percentile(last, 50) / percentile(first, 50)
    m["latencies_ms"] = [x * 1e3 for x in latencies]


async def _cold(ctx: Ctx, place: Place) -> tuple[float, int]:
    """Open a new saver on the same file or database and read the head: ms, messages."""
    t = time.perf_counter()
    async with ctx.engine.saver(place, fresh=False) as cold:
        graph = chat_builder(ctx.engine.api).compile(checkpointer=cold)
        snap = await graph.aget_state(config(THREAD))
        ms = (time.perf_counter() - t) * 1e3
    return ms, _messages(snap.values)


async def run(ctx: Ctx) -> dict[str, Any]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    turns, mode = ctx.sizes.chat_turns, ctx.mode
    durable = place.kind != "memory"
    m: dict[str, Any] = {"turns": turns}
    async with ctx.engine.saver(place) as saver:
        graph = chat_builder(ctx.engine.api).compile(checkpointer=saver)
        for i in range(ctx.sizes.chat_warmup):  # fills every pooled connection's caches
            await graph.ainvoke(chat_input(i), config("warm-up"), durability=mode)
        before = await ctx.stores.storage_bytes(place)
        await _turns(ctx, graph, m)
        after = await ctx.stores.storage_bytes(place)
        if after is not None and before is not None:
            m["storage_bytes"] = after - before
            m["bytes_per_turn"] = (after - before) / turns

        reads: list[float] = []
        for _ in range(GET_STATE_REPEATS):
            t = time.perf_counter()
            snap = await graph.aget_state(config(THREAD))
            reads.append(time.perf_counter() - t)
        if _messages(snap.values) != 2 * turns:
            raise WrongResult(f"get_state: {_messages(snap.values)} messages, expected {2 * turns}")
        m["get_state_warm_ms"] = percentile(reads, 50) * 1e3
        if durable:
            m["get_state_cold_ms"], count = await _cold(ctx, place)
            if count != 2 * turns:
                raise WrongResult(f"cold get_state: {count} messages, expected {2 * turns}")

        t = time.perf_counter()
        history = [s async for s in graph.aget_state_history(config(THREAD))]
        m["history_ms"] = (time.perf_counter() - t) * 1e3
        m["history_len"] = len(history)

        point = _fork_point(history, ctx.sizes.chat_fork_turn)
        t = time.perf_counter()
        out = await graph.ainvoke(chat_input(-1), point.config, durability=mode)
        m["fork_ms"] = (time.perf_counter() - t) * 1e3
        expected = 2 * ctx.sizes.chat_fork_turn + 2
        if _messages(out) != expected:
            raise WrongResult(f"fork: {_messages(out)} messages, expected {expected}")
        if durable:  # the head is now the fork's branch
            m["get_state_cold_after_fork_ms"], count = await _cold(ctx, place)
            if count != expected:
                raise WrongResult(f"cold get_state after the fork: {count} messages, expected {expected}")
    return m
