"""LangGraph's documented programs, run with only their imports changed.

Each ``tests/programs/NAME.py`` is a program from LangGraph's docs (docstrings, READMEs,
guides), written for LangGraph; ``NAME.out`` is what it printed on LangGraph 1.2.24
(``/work/compat/venv-lg/bin/python NAME.py``, with ``DB_URI`` naming a fresh database
for the PostgreSQL ones). Here ``lograph migrate-imports`` rewrites its imports, and
it must print the same, up to checkpoint ids and times (each distinct id or time is
replaced by its order of first appearance, so a program that shows one id twice must
show the same id twice). A PostgreSQL program gets a fresh database on the suite's
server; the programs run as documented, on asyncio where they are async.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from lograph.adapters._migrate import migrate
from tests import _store_postgres as pg

PROGRAMS = Path(__file__).resolve().parent / "programs"

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)?")


def normalized(text: str) -> str:
    """``text`` with each distinct id and time named by its order of first appearance."""
    for pattern, label in ((_ID, "id"), (_TIME, "time")):
        names: dict[str, str] = {}
        for found in pattern.findall(text):
            names.setdefault(found, f"<{label}{len(names) + 1}>")
        text = pattern.sub(lambda m, names=names: names[m.group(0)], text)
    return text


def fresh_database() -> str:
    async def create() -> str:
        name = f"doc_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(pg.server().dsn)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return pg.server().dsn.rsplit("/", 1)[0] + "/" + name

    return asyncio.run(create())


@pytest.mark.parametrize("name", [
    # the savers' and stores' docstrings and READMEs, the add-memory guide
    "sqlite_saver", "async_sqlite_saver", "postgres_memory", "postgres_memory_async", "store_docstrings",
    # the graph API, functional API and subgraphs guides
    "graph_api_state", "graph_api_pydantic", "graph_api_control_flow", "graph_api_loops",
    "graph_api_command", "functional_api", "functional_api_hitl", "subgraphs",
    # the graph API and functional API concepts pages
    "low_level", "functional_concepts",
    # the persistence concepts, streaming, human-in-the-loop and time-travel guides
    "persistence", "streaming", "interrupts", "time_travel", "short_term_memory",
])
def test_a_documented_program_prints_what_it_prints_on_langgraph(name: str, tmp_path: Path) -> None:
    source = (PROGRAMS / f"{name}.py").read_text(encoding="utf-8")
    done = migrate(source)
    assert done.problems == [] and done.rewritten > 0
    changed = [(a, b) for a, b in zip(source.splitlines(), done.source.splitlines(), strict=True) if a != b]
    assert all(a.startswith("from langgraph.") for a, _ in changed)  # only its imports
    program = tmp_path / f"{name}.py"
    program.write_text(done.source, encoding="utf-8")
    env = dict(os.environ)
    if "postgres" in source.lower():
        env["DB_URI"] = fresh_database()
    ran = subprocess.run([sys.executable, str(program)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=180, env=env)
    assert ran.returncode == 0, ran.stderr
    expected = (PROGRAMS / f"{name}.out").read_text(encoding="utf-8")
    assert normalized(ran.stdout) == normalized(expected)


def test_normalizing_keeps_which_ids_are_the_same() -> None:
    a, b = "1f1f229d-22fb-617f-8001-bd9c2e635fe9", "00000000-0000-0006-bbfa-77805478c16c"
    assert normalized(f"{a} {b} {a} 2026-12-07T10:34:45.911774+00:00") == "<id1> <id2> <id1> <time1>"
    assert normalized(f"{a} {a}") != normalized(f"{a} {b}")
