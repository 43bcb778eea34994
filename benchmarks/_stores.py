"""Where cells keep their data: a fresh SQLite file, schema or database per cell.

``Stores`` owns the run's scratch directory (``<out>/tmp``, removed at the end) and, when
PostgreSQL is benchmarked, one throwaway server with fsync on (``TempPostgres``).
A ``Place`` says where one cell of one engine writes; storage is measured here, by
the same code for both engines.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.to_thread

_PG_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')"
)


@dataclass(frozen=True)
class Place:
    kind: str  # memory | sqlite | postgres
    path: Path | None = None  # sqlite: the database file
    dsn: str | None = None  # postgres: the database
    schema: str | None = None  # postgres: the schema holding the engine's tables


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def sqlite_file_bytes(path: Path) -> int:
    """The file's size with its -wal after ``PRAGMA wal_checkpoint(TRUNCATE)``.

    Runs on a connection of its own while the engine's stays open. A checkpoint the
    engine is running at that moment makes this one return busy at once: it is tried
    again for up to a second; if it still cannot complete (a reader in the way) the
    WAL's bytes are counted as they are.
    """
    con = sqlite3.connect(path)
    try:
        deadline = time.monotonic() + 1.0
        while con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        con.close()
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


class Stores:
    """The run's scratch space and PostgreSQL server; an async context manager."""

    def __init__(self, out: Path, kinds: tuple[str, ...]) -> None:
        self.tmp = out / "tmp"
        self.kinds = kinds
        self.server: Any = None
        self.pg_error: str | None = None

    async def __aenter__(self) -> Stores:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        if "postgres" in self.kinds:
            await self._start_postgres()
        return self

    async def _start_postgres(self) -> None:
        try:
            from lograph.adapters.pgserver import TempPostgres

            server = TempPostgres(database="bench", fsync=True, max_connections=300)
            self.server = await anyio.to_thread.run_sync(server.start)
        except Exception as e:  # noqa: BLE001 - the PostgreSQL cells fail saying why; the rest run
            self.pg_error = f"cannot start a throwaway PostgreSQL server: {e}"

    async def __aexit__(self, *exc: object) -> None:
        with anyio.CancelScope(shield=True):
            if self.server is not None:
                await anyio.to_thread.run_sync(self.server.stop)
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def dsn(self) -> str:
        if self.server is None:
            raise RuntimeError(self.pg_error or "PostgreSQL is not part of this run")
        return str(self.server.dsn)

    async def place(self, kind: str, engine: str, key: str) -> Place:
        """A fresh place for one cell: nothing of another cell is visible there."""
        name = f"{engine}_{key}".lower()
        if kind == "memory":
            return Place("memory")
        if kind == "sqlite":
            return Place("sqlite", path=self.tmp / f"{name}.db")
        if kind != "postgres":
            raise ValueError(f"unknown store {kind!r}")
        if engine == "lograph":
            return Place("postgres", dsn=self.dsn, schema=name)
        # LangGraph's tables live in ``public``: give it a database of its own.
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return Place("postgres", dsn=_with_database(self.dsn, name), schema="public")

    async def storage_bytes(self, place: Place) -> int | None:
        """Bytes on disk of what the engine stored at ``place``; None for memory."""
        if place.kind == "sqlite":
            assert place.path is not None
            return await anyio.to_thread.run_sync(sqlite_file_bytes, place.path)
        if place.kind == "postgres":
            import asyncpg

            conn = await asyncpg.connect(place.dsn)
            try:
                return int(await conn.fetchval(_PG_BYTES, place.schema))
            finally:
                await conn.close()
        return None
