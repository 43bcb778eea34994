"""Store factories for the test suite. Each kind lives in its own module.

``open_log(kind, tmp_path)`` and ``open_saver(kind, tmp_path)`` are async context
managers. Kinds: "memory", "sqlite" (a real file under tmp_path), "postgres" (a fresh
schema on the session's throwaway server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

STORE_KINDS = ["memory"]


@asynccontextmanager
async def open_log(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    if kind == "memory":
        from lograph.eventlog import MemoryLog

        log = MemoryLog()
        try:
            yield log
        finally:
            await log.aclose()
        return
    raise AssertionError(f"unknown store kind {kind}")


@asynccontextmanager
async def open_saver(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    if kind == "memory":
        from lograph.adapters.memory import MemorySaver

        saver = MemorySaver()
        try:
            yield saver
        finally:
            await saver.aclose()
        return
    raise AssertionError(f"unknown store kind {kind}")
