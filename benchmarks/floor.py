"""floor: what the machine's storage can do at best, one durable row per commit.

- SQLite: raw ``sqlite3``, WAL, one ``INSERT`` + ``COMMIT`` per row, with
  ``synchronous=FULL`` (what both engines use) and ``NORMAL``.
- PostgreSQL: asyncpg, one autocommitted ``INSERT`` per row, on 1 connection and on
  16 connections at once (the server's fsync on; commits of concurrent connections can
  share a WAL flush).

An engine that commits once per step cannot beat these per step; group commit and
fewer transactions are how to get past them.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

ROW = b"x" * 100


def sqlite_commits(path: Path, synchronous: str, seconds: float) -> dict[str, Any]:
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


async def run_sqlite(tmp: Path, synchronous: str, seconds: float) -> dict[str, Any]:
    path = tmp / f"floor-{synchronous.lower()}.db"
    return await anyio.to_thread.run_sync(sqlite_commits, path, synchronous, seconds)


async def run_postgres(dsn: str, connections: int, seconds: float) -> dict[str, Any]:
    import asyncpg

    table = f"floor_{connections}"
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
