"""floor: what the machine's storage can do at best, one durable row per commit.

- SQLite: raw ``sqlite3``, WAL, one ``INSERT`` + ``COMMIT`` per row, with
  ``synchronous=FULL`` (what both engines use) and ``NORMAL``.
- PostgreSQL: asyncpg, one autocommitted ``INSERT`` per row, on 1 connection and on
  16 connections at once (the server's fsync on; commits of concurrent connections can
  share a WAL flush).

An engine that commits once per step cannot beat these per step; group commit and
fewer transactions are how to get past them.

A disk shared with other work can change its fsync rate several times over within
minutes, so the floor is measured beside what it is compared with: its cells join the
store's ``chain``/``sync`` group (when that runs), each round of ``floor_seconds``
alternating with the engines' rounds. Each figure is the median of the rounds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ._common import Ctx, median

ROW = b"x" * 100
SETTINGS = {"sqlite": ("FULL", "NORMAL"), "postgres": ("1 conn", "16 conns")}


def sqlite_commits(path: Path, synchronous: str, seconds: float) -> dict[str, Any]:
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA synchronous={synchronous}")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            con.execute("BEGIN")
            con.execute("INSERT INTO t (v) VALUES (?)", (ROW,))
            con.execute("COMMIT")
            n += 1
        elapsed = time.perf_counter() - start
    finally:
        con.close()
    return {"commits": n, "seconds": elapsed, "commits_per_s": n / elapsed}


async def postgres_commits(dsn: str, connections: int, seconds: float, table: str) -> dict[str, Any]:
    import asyncpg

    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, v bytea NOT NULL)")
    finally:
        await admin.close()
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    counts = [0] * connections
    insert = f"INSERT INTO {table} (v) VALUES ($1)"
    try:
        start = time.perf_counter()
        deadline = start + seconds

        async def writer(i: int) -> None:
            conn = conns[i]
            while time.perf_counter() < deadline:
                await conn.execute(insert, ROW)
                counts[i] += 1

        async with anyio.create_task_group() as tg:
            for i in range(connections):
                tg.start_soon(writer, i)
        elapsed = time.perf_counter() - start
    finally:
        for conn in conns:
            await conn.close()
    n = sum(counts)
    return {"connections": connections, "commits": n, "seconds": elapsed, "commits_per_s": n / elapsed}


class Floor:
    """One setting of one store, measured once per round."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rounds = ctx.sizes.floor_rounds
        self.runs: list[dict[str, Any]] = []

    async def round(self, r: int) -> None:
        seconds, setting = self.ctx.sizes.floor_seconds, self.ctx.mode
        if self.ctx.store == "sqlite":
            path = self.ctx.stores.tmp / f"floor-{setting.lower()}.db"
            self.runs.append(await anyio.to_thread.run_sync(sqlite_commits, path, setting, seconds))
        else:
            connections = int(setting.split()[0])
            table = f"floor_{connections}_{r}"
            self.runs.append(await postgres_commits(self.ctx.stores.dsn, connections, seconds, table))

    async def finish(self) -> dict[str, Any]:
        rates = [r["commits_per_s"] for r in self.runs]
        return {**self.runs[0], "commits": sum(r["commits"] for r in self.runs),
                "seconds": sum(r["seconds"] for r in self.runs),
                "commits_per_s": median(rates), "commits_per_s_rounds": rates}


@asynccontextmanager
async def session(ctx: Ctx) -> AsyncIterator[Floor]:
    yield Floor(ctx)
