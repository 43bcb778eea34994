from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from lograph.adapters.memory import MemorySaver
from lograph.eventlog import MemoryLog


@asynccontextmanager
async def open_log(tmp_path: Path) -> AsyncIterator[MemoryLog]:
    log = MemoryLog()
    try:
        yield log
    finally:
        await log.aclose()


@asynccontextmanager
async def open_saver(tmp_path: Path) -> AsyncIterator[MemorySaver]:
    saver = MemorySaver()
    try:
        yield saver
    finally:
        await saver.aclose()
