"""Store factories for the test suite: one module per kind, ``tests/_store_<kind>.py``.

Each module defines two async context managers, ``open_log(tmp_path)`` (an opened
EventLog) and ``open_saver(tmp_path)`` (an opened Checkpointer, what graphs compile
with). Kinds: "memory", "sqlite" (a real file under tmp_path), "postgres" (a fresh
schema on the session's throwaway server).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

STORE_KINDS = [
    kind
    for kind in ("memory", "sqlite", "postgres")
    if importlib.util.find_spec(f"tests._store_{kind}") is not None
]


@asynccontextmanager
async def open_log(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    module = importlib.import_module(f"tests._store_{kind}")
    async with module.open_log(tmp_path) as log:
        yield log


@asynccontextmanager
async def open_saver(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    module = importlib.import_module(f"tests._store_{kind}")
    async with module.open_saver(tmp_path) as saver:
        yield saver
