"""The "sqlite" store kind: a real file under the test's tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from lograph.adapters.sqlite import SqliteLog, SqliteSaver


@asynccontextmanager
async def open_log(tmp_path: Path) -> AsyncIterator[SqliteLog]:
    log = await SqliteLog.open(tmp_path / "log.db")
    try:
        yield log
    finally:
        await log.aclose()


@asynccontextmanager
async def open_saver(tmp_path: Path) -> AsyncIterator[SqliteSaver]:
    async with SqliteSaver.from_conn_string(tmp_path / "saver.db") as saver:
        yield saver
