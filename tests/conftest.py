"""Shared fixtures: every async test runs on asyncio and trio; store tests on every store.

``store_kind`` is parametrised over memory, a real SQLite file and a real PostgreSQL
server (started once per session by tests/_pg.py). ``open_log(kind)`` yields an opened
EventLog; ``open_saver(kind)`` yields an opened Checkpointer (what graphs compile with).
"""

from __future__ import annotations

import pytest

from tests._stores import STORE_KINDS, open_log, open_saver  # noqa: F401


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
