"""Runs the suite: plans the cells, runs each group with the engines interleaved, reports.

A group is one workload on one store in one durability mode, with a cell per engine.
Order: per store, per workload, per mode. Within a group every engine opens its
session (a fresh file, schema or database; warm-up), then the engines' rounds
alternate -- lograph, LangGraph, LangGraph, lograph, ... -- so both see the machine in
the same state, and each cell's figures are medians over its rounds. A cell that raises
or times out is recorded as failed with its traceback; the others go on.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import platform
import pstats
import sys
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from . import (
    chain,
    chat,
    concurrency,
    fanout,
    floor,
    functional,
    history,
    iochain,
    runs_service,
    storeops,
)
from ._common import Ctx, Session
from ._options import MODELESS, POSTGRES_ONLY, Options
from ._results import MACHINE, Cell
from ._stores import Stores
from ._ui import UI

SESSIONS: dict[str, Any] = {
    "chain": chain.session, "iochain": iochain.session, "concurrent": concurrency.session,
    "fanout": fanout.session, "functional": functional.session, "chat": chat.session,
    "history": history.session, "floor": floor.session, "store": storeops.session,
    "runs": runs_service.session,
}
PROFILE_LINES = 15


def plan(opts: Options) -> list[list[Cell]]:
    """The groups, in run order; each group's cells are run interleaved.

    The storage floor's cells join the store's chain/sync group, whose figures the
    targets compare with them (see ``floor.py``); without that group, a group of their own.
    """
    groups: list[list[Cell]] = []
    for store in opts.stores:
        floors = [Cell("floor", store, s, MACHINE) for s in floor.SETTINGS.get(store, ())]
        if "floor" not in opts.workloads:
            floors = []
        elif "chain" not in opts.workloads or "sync" not in opts.modes:
            groups.append(floors)
            floors = []
        for workload in opts.workloads:
            if workload == "floor" or (workload in POSTGRES_ONLY and store != "postgres"):
                continue
            engines = ("lograph",) if workload in POSTGRES_ONLY else opts.engines
            for mode in ("-",) if workload in MODELESS else opts.modes:
                group = [Cell(workload, store, mode, e) for e in engines]
                if workload == "chain" and mode == "sync":
                    group += floors
                groups.append(group)
    return [g for g in groups if g]


def _load_engines(names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    engines: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        try:
            if name == "lograph":
                from .lo_engine import LographEngine

                engines[name] = LographEngine()
            else:
                from .lg_engine import LangGraphEngine

                engines[name] = LangGraphEngine()
        except Exception:  # noqa: BLE001 - its cells fail with this traceback; the rest run
            errors[name] = traceback.format_exc()
    return engines, errors


def _profile_text(profile: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    out.write("\n")
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    return out.getvalue()


def _fail(cell: Cell, error: str | None = None) -> None:
    if cell.status != "failed":  # the first failure is the one to read
        cell.status = "failed"
        cell.error = error or traceback.format_exc()


class _Running:
    """One cell's session while its group runs: times it, profiles lograph's rounds."""

    def __init__(self, cell: Cell, profile: bool) -> None:
        self.cell = cell
        self.session: Session | None = None
        self.profile = cProfile.Profile() if profile and cell.engine == "lograph" else None

    async def call(self, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        if self.profile is not None:
            self.profile.enable()
        try:
            return await fn(*args)
        finally:
            if self.profile is not None:
                self.profile.disable()
            self.cell.seconds += time.perf_counter() - start


@asynccontextmanager
async def _guarded(run: _Running, ctx: Ctx) -> AsyncIterator[None]:
    """Open the cell's session; an error on opening or closing fails the cell, only it."""
    start = time.perf_counter()
    try:
        async with SESSIONS[run.cell.workload](ctx) as session:
            run.cell.seconds += time.perf_counter() - start
            run.session = session
            yield
    except Exception:  # noqa: BLE001 - the cell fails with its traceback; the group goes on
        _fail(run.cell)
        if run.session is None:
            yield  # the opening failed: the group goes on without this cell


def _runnable(group: list[Cell], opts: Options, stores: Stores,
              load_errors: dict[str, str]) -> list[_Running]:
    """The group's cells that can run; the others fail now, saying why."""
    runs = []
    for cell in group:
        if cell.engine in load_errors:
            _fail(cell, f"cannot load the {cell.engine} engine:\n{load_errors[cell.engine]}")
        elif cell.store == "postgres" and stores.server is None:
            _fail(cell, stores.pg_error or "PostgreSQL is not part of this run")
        else:
            runs.append(_Running(cell, opts.profile))
    return runs


async def _alternate(live: list[_Running], index: int, opts: Options, ui: UI) -> None:
    """Every session's rounds, the engines taking turns (the order flips every round)."""
    rounds = max((r.session.rounds for r in live if r.session is not None), default=0)
    for r in range(rounds):
        ui.round(live[0].cell, r + 1, rounds)
        for run in live if (r + index) % 2 == 0 else live[::-1]:
            if run.cell.status == "failed" or run.session is None or r >= run.session.rounds:
                continue
            gc.collect()  # not timed: each round starts with the same garbage (none)
            try:
                with anyio.fail_after(opts.sizes.round_timeout):
                    await run.call(run.session.round, r)
            except Exception:  # noqa: BLE001 - the cell fails with its traceback; the group goes on
                _fail(run.cell)


async def _finish(run: _Running, opts: Options) -> None:
    if run.cell.status == "failed" or run.session is None:
        return
    try:
        with anyio.fail_after(opts.sizes.round_timeout):
            run.cell.metrics = await run.call(run.session.finish)
        run.cell.status = "ok"
    except Exception:  # noqa: BLE001 - the cell fails with its traceback; the group goes on
        _fail(run.cell)


async def _run_group(group: list[Cell], index: int, opts: Options, stores: Stores,
                     engines: dict[str, Any], load_errors: dict[str, str], ui: UI) -> None:
    """Open every engine's session, alternate their rounds, take their figures, close."""
    runs = _runnable(group, opts, stores, load_errors)
    try:
        with anyio.fail_after(opts.sizes.group_timeout):
            async with AsyncExitStack() as stack:
                for run in runs:
                    c = run.cell
                    ctx = Ctx(engines.get(c.engine), stores, c.store, c.mode, opts.sizes, c.key)
                    await stack.enter_async_context(_guarded(run, ctx))
                live = [r for r in runs if r.session is not None]
                await _alternate(live, index, opts, ui)
                for run in live:
                    await _finish(run, opts)
    except TimeoutError:
        for run in runs:
            if run.cell.status == "pending":
                _fail(run.cell)
    for run in runs:
        if run.cell.status == "ok" and run.profile is not None:
            run.cell.profile = _profile_text(run.profile)
        if run.cell.status == "pending":
            _fail(run.cell, "the session ended without figures")


async def _suite(opts: Options, groups: list[list[Cell]], ui: UI) -> None:
    engines, load_errors = _load_engines(opts.engines)
    async with Stores(opts.out, opts.stores) as stores:
        if stores.pg_error:
            ui.note(stores.pg_error)
        for index, group in enumerate(groups):
            ui.started(group[0])
            await _run_group(group, index, opts, stores, engines, load_errors, ui)
            for cell in group:
                ui.finished(cell)


def _meta(opts: Options, started: datetime, seconds: float) -> dict[str, Any]:
    from dataclasses import asdict
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("lograph", "anyio", "aiosqlite", "asyncpg", "cbor2", "langgraph",
                 "langgraph-checkpoint", "langgraph-checkpoint-sqlite",
                 "langgraph-checkpoint-postgres", "psycopg", "psycopg-pool"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    import sqlite3

    meta = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "argv": opts.argv,
        "quick": opts.quick,
        "sizes": asdict(opts.sizes),
        "stores": list(opts.stores),
        "workloads": list(opts.workloads),
        "modes": list(opts.modes),
        "engines": list(opts.engines),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }
    if "langgraph" in opts.engines:
        meta["langgraph_postgres"] = os.environ.get("LANGGRAPH_PG", "connection")
    return meta


def _write(cells: list[Cell], meta: dict[str, Any], out: Path, console: Any) -> None:
    """results.json, profiles, charts, report.md, and the tables on the terminal."""
    from . import report

    out.mkdir(parents=True, exist_ok=True)
    goals = report.targets(cells)
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "targets": [g.to_json() for g in goals], "cells": [c.to_json() for c in cells]},
        indent=1) + "\n")
    profiles = out / "profiles"
    for cell in cells:
        if cell.profile:
            profiles.mkdir(exist_ok=True)
            (profiles / (cell.name.replace("/", "-") + ".txt")).write_text(cell.profile)
    charts = report.charts(cells, out)
    (out / "report.md").write_text(report.markdown(cells, meta, charts, goals))
    report.show(cells, goals, console)
    console.print(f"\nreport: {out / 'report.md'}  data: {out / 'results.json'}",
                  markup=False, highlight=False)


def run_suite(opts: Options) -> int:
    """Run, report; exit status 1 if any cell failed (its traceback is in the report)."""
    groups = plan(opts)
    cells = [c for g in groups for c in g]
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with UI(len(cells)) as ui:
        anyio.run(_suite, opts, groups, ui, backend="asyncio")
    _write(cells, _meta(opts, started, time.perf_counter() - t0), opts.out, ui.console)
    return 1 if any(c.status != "ok" for c in cells) else 0


def render(results: Path, out: Path) -> int:
    """Write the report of an earlier run (its results.json) into ``out``; run nothing."""
    from rich.console import Console

    data = json.loads(results.read_text())
    cells = [Cell(**c) for c in data["cells"]]
    _write(cells, data["meta"], out, Console())
    return 1 if any(c.status != "ok" for c in cells) else 0
