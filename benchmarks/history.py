"""history: reads on a long chat thread: get_state warm and cold, full history, a fork.

Set-up (not timed): ``history_turns`` chat turns on one thread in the cell's mode, and
the full history once, to find the fork point. Then ``history_repeats`` read rounds
and as many fork rounds (reads first: a fork changes what the history holds); each
figure is the median of its repeats:

- ``get_state_warm_ms``: ``aget_state`` in this process (the median of
  ``get_state_repeats`` reads per round);
- ``get_state_cold_ms`` (SQLite and PostgreSQL): a new process (``benchmarks._cold``)
  opens a saver on the same file or database and reads the head: open + read, imports
  excluded (``cold_process_ms`` is the whole process, interpreter and imports included);
  ``cold_repeats`` processes per read round, the median of them all;
- ``open_read_close_ms`` (SQLite and PostgreSQL): what a service does per request, in
  this process: open a saver on the store (``from_conn_string``), compile the graph,
  ``aget_state`` of the thread, close (the median of ``open_repeats`` per round);
- ``history_ms``: the full ``aget_state_history`` list;
- ``history_limit5_ms``: ``aget_state_history(limit=5)``, the newest five (its cost
  should follow what it returns, not the thread's length);
- ``history_cold_ms`` (SQLite and PostgreSQL): a new process opens a saver and lists the
  full history: open + list, imports excluded;
- ``fork_ms``: ``ainvoke`` with a new message on the config of the history entry that
  ended turn ``fork_turn`` (each fork round forks from that same entry);
- ``get_state_cold_after_fork_ms``: cold again, now that the fork's branch is the head.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from . import _env
from ._common import Ctx, WrongResult, config, median, messages, percentile
from ._stores import Place
from .graphs import chat_builder, chat_input

THREAD = "history"


def _fork_point(history: list[Any], turn: int) -> Any:
    """The history entry at the end of ``turn``: 2*turn messages and nothing next."""
    for entry in history:
        if not entry.next and messages(entry.values) == 2 * turn:
            return entry
    raise WrongResult(f"no history entry ends turn {turn} ({len(history)} entries)")


async def cold_read(engine: str, place: Place, thread: str, read: str = "state") -> dict[str, Any]:
    """Run ``benchmarks._cold`` in a new interpreter; its JSON plus ``process_ms``."""
    spec = {"engine": engine, "thread": thread, "read": read, "place": {
        "kind": place.kind, "path": str(place.path) if place.path else None,
        "dsn": place.dsn, "schema": place.schema}}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_env.ROOT), env.get("PYTHONPATH")) if p)
    t = time.perf_counter()
    done = await anyio.run_process([sys.executable, "-m", "benchmarks._cold", json.dumps(spec)],
                                   cwd=_env.ROOT, env=env, check=False)
    process_ms = (time.perf_counter() - t) * 1e3
    if done.returncode != 0:
        raise RuntimeError(f"the cold-read process failed (exit {done.returncode}):\n"
                           f"{done.stderr.decode(errors='replace')}")
    return {**json.loads(done.stdout.decode().strip().splitlines()[-1]), "process_ms": process_ms}


class History:
    def __init__(self, ctx: Ctx, graph: Any, place: Place) -> None:
        self.ctx, self.graph, self.place = ctx, graph, place
        self.repeats = ctx.sizes.history_repeats
        self.rounds = 2 * self.repeats
        self.turns = ctx.sizes.history_turns
        self.durable = place.kind != "memory"
        self.point: Any = None
        self.times: dict[str, list[float]] = {}
        self.history_len = 0

    def _add(self, metric: str, ms: float) -> None:
        self.times.setdefault(metric, []).append(ms)

    async def build(self) -> None:
        for turn in range(1, self.turns + 1):
            await self.graph.ainvoke(chat_input(turn), config(THREAD), durability=self.ctx.mode)
        history = [s async for s in self.graph.aget_state_history(config(THREAD))]
        self.point = _fork_point(history, self.ctx.sizes.fork_turn)

    async def _cold(self, metric: str, expected: int) -> None:
        got = await cold_read(self.ctx.engine.name, self.place, THREAD)
        if got["messages"] != expected:
            raise WrongResult(f"{metric}: {got['messages']} messages, expected {expected}")
        self._add(metric, got["ms"])
        prefix = metric.removesuffix("_ms")
        self._add(f"{prefix}_read_ms", got["read_ms"])
        self._add(f"{prefix}_process_ms", got["process_ms"])

    async def _reads(self) -> None:
        reads = []
        for _ in range(self.ctx.sizes.get_state_repeats):
            t = time.perf_counter()
            snap = await self.graph.aget_state(config(THREAD))
            reads.append(time.perf_counter() - t)
            if messages(snap.values) != 2 * self.turns:
                raise WrongResult(f"get_state: {messages(snap.values)} messages, expected {2 * self.turns}")
        self._add("get_state_warm_ms", percentile(reads, 50) * 1e3)
        if self.durable:  # a cold process is the noisiest figure here: take several
            for _ in range(self.ctx.sizes.cold_repeats):
                await self._cold("get_state_cold_ms", 2 * self.turns)
        if self.durable:
            await self._per_request()
        t = time.perf_counter()
        history = [s async for s in self.graph.aget_state_history(config(THREAD))]
        self._add("history_ms", (time.perf_counter() - t) * 1e3)
        self.history_len = len(history)
        t = time.perf_counter()
        newest = [s async for s in self.graph.aget_state_history(config(THREAD), limit=5)]
        self._add("history_limit5_ms", (time.perf_counter() - t) * 1e3)
        if len(newest) != min(5, len(history)):
            raise WrongResult(f"history(limit=5): {len(newest)} entries")
        if self.durable:
            got = await cold_read(self.ctx.engine.name, self.place, THREAD, "history")
            if got["entries"] != len(history) or got["messages"] != 2 * self.turns:
                raise WrongResult(f"history cold: {got['entries']} entries ending at "
                                  f"{got['messages']} messages, expected {len(history)} "
                                  f"and {2 * self.turns}")
            self._add("history_cold_ms", got["ms"])

    async def _per_request(self) -> None:
        engine, times = self.ctx.engine, []
        for _ in range(self.ctx.sizes.open_repeats):
            t = time.perf_counter()
            async with engine.request_saver(self.place) as saver:
                graph = chat_builder(engine.api).compile(checkpointer=saver)
                snap = await graph.aget_state(config(THREAD))
            times.append(time.perf_counter() - t)
            if messages(snap.values) != 2 * self.turns:
                raise WrongResult(f"open + get_state: {messages(snap.values)} messages, "
                                  f"expected {2 * self.turns}")
        self._add("open_read_close_ms", percentile(times, 50) * 1e3)

    async def _fork(self, r: int) -> None:
        t = time.perf_counter()
        out = await self.graph.ainvoke(chat_input(-r), self.point.config, durability=self.ctx.mode)
        self._add("fork_ms", (time.perf_counter() - t) * 1e3)
        expected = 2 * self.ctx.sizes.fork_turn + 2
        if messages(out) != expected:
            raise WrongResult(f"fork: {messages(out)} messages, expected {expected}")
        if self.durable:  # the head is now the fork's branch
            await self._cold("get_state_cold_after_fork_ms", expected)

    async def round(self, r: int) -> None:
        await (self._reads() if r < self.repeats else self._fork(r))

    async def finish(self) -> dict[str, Any]:
        m: dict[str, Any] = {"turns": self.turns, "fork_turn": self.ctx.sizes.fork_turn,
                             "history_len": self.history_len, "repeats": self.repeats}
        for metric, values in self.times.items():
            m[metric] = median(values)
            m[f"{metric}_all"] = values
        return m


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[History]:
    place = await ctx.stores.place(ctx.store, ctx.engine.name, ctx.key)
    async with ctx.engine.saver(place) as saver:
        s = History(ctx, chat_builder(ctx.engine.api).compile(checkpointer=saver), place)
        await s.build()
        yield s
