"""PostgreSQL store factories: a fresh schema per test on one throwaway server per session.

The server (``TempPostgres``, fsync off: durability is not under test here) starts on
first use and stops at interpreter exit. When it cannot start the test is skipped with
the reason, except under CI=true, where the run must fail instead.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.adapters.pgserver import TempPostgres
from lograph.adapters.postgres import AsyncPostgresSaver, PostgresLog

_lock = threading.Lock()
_server: TempPostgres | None = None
_failure: str | None = None  # the first start failure, reported by every later test


def start_server(**options: Any) -> TempPostgres:
    """Start a TempPostgres; if it cannot start, skip the test (fail it under CI=true)."""
    global _failure
    if _failure is None:
        try:
            return TempPostgres(**options).start()
        except Exception as e:  # noqa: BLE001 - reported by every test that needs the server
            _failure = f"cannot start a throwaway PostgreSQL server: {e}"
    if os.environ.get("CI") == "true":
        raise RuntimeError(_failure)
    pytest.skip(_failure)


def server() -> TempPostgres:
    """The session's server, started on first call (blocking: call it off the event loop)."""
    global _server
    with _lock:
        if _server is None:
            _server = start_server(fsync=False, max_connections=200)
        return _server


async def dsn() -> str:
    started: TempPostgres = await anyio.to_thread.run_sync(server)
    return started.dsn


def fresh_schema() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@asynccontextmanager
async def open_log(tmp_path: Path) -> AsyncIterator[PostgresLog]:
    log = await PostgresLog.open(await dsn(), schema=fresh_schema(), max_size=4)
    try:
        await log.setup()
        yield log
    finally:
        await log.aclose()


@asynccontextmanager
async def open_saver(tmp_path: Path) -> AsyncIterator[AsyncPostgresSaver]:
    async with AsyncPostgresSaver.from_conn_string(
        await dsn(), schema=fresh_schema(), max_size=4
    ) as saver:
        await saver.setup()
        yield saver
