"""Runs the suite: plans the cells, runs each (lograph, then LangGraph), writes the report.

Order: per store, per workload, per mode, lograph's cell then LangGraph's, so both
engines see the machine in the same state. Every cell gets a fresh file, schema or
database and a time limit; a cell that raises or times out is recorded as failed with
its traceback and the suite goes on.
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
from datetime import UTC, datetime
from typing import Any

import anyio

from . import chain, chat, concurrency, floor
from ._cli import Options
from ._common import Ctx
from ._results import MACHINE, Cell
from ._stores import Stores
from ._ui import UI

WORKLOADS = {"chain": chain.run, "concurrent": concurrency.run, "chat": chat.run}
FLOOR_SETTINGS = {"sqlite": ("FULL", "NORMAL"), "postgres": ("1 conn", "16 conns")}
PROFILE_LINES = 15


def plan(opts: Options) -> list[Cell]:
    cells: list[Cell] = []
    for store in opts.stores:
        if "floor" in opts.workloads:
            cells += [Cell("floor", store, s, MACHINE) for s in FLOOR_SETTINGS.get(store, ())]
        for workload in ("chain", "concurrent", "chat"):
            if workload not in opts.workloads:
                continue
            modes = (opts.chat_mode,) if workload == "chat" else opts.modes
            cells += [Cell(workload, store, m, e) for m in modes for e in opts.engines]
    return cells


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
        except Exception:
            errors[name] = traceback.format_exc()
    return engines, errors


def _profile_text(profile: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    out.write("\n")
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    return out.getvalue()


async def _measure(cell: Cell, opts: Options, stores: Stores, engines: dict[str, Any]) -> dict[str, Any]:
    seconds = opts.sizes.floor_seconds
    if cell.workload == "floor":
        if cell.store == "sqlite":
            return await floor.run_sqlite(stores.tmp, cell.mode, seconds)
        return await floor.run_postgres(stores.dsn, int(cell.mode.split()[0]), seconds)
    if cell.store == "postgres":
        stores.dsn  # noqa: B018 - raises the server's start failure, if any
    ctx = Ctx(engines[cell.engine], stores, cell.store, cell.mode, opts.sizes, cell.key)
    return await WORKLOADS[cell.workload](ctx)


async def _run_cell(
    cell: Cell, opts: Options, stores: Stores, engines: dict[str, Any], load_errors: dict[str, str]
) -> None:
    gc.collect()
    start = time.perf_counter()
    profile = cProfile.Profile() if opts.profile and cell.engine == "lograph" else None
    try:
        if cell.engine in load_errors:
            raise RuntimeError(f"cannot load the {cell.engine} engine:\n{load_errors[cell.engine]}")
        with anyio.fail_after(opts.sizes.cell_timeout):
            if profile is not None:
                profile.enable()
            try:
                cell.metrics = await _measure(cell, opts, stores, engines)
            finally:
                if profile is not None:
                    profile.disable()
        cell.status = "ok"
    except Exception:
        cell.status = "failed"
        cell.error = traceback.format_exc()
    cell.seconds = time.perf_counter() - start
    if profile is not None and cell.status == "ok":
        cell.profile = _profile_text(profile)


async def _suite(opts: Options, cells: list[Cell], ui: UI) -> None:
    engines, load_errors = _load_engines(opts.engines)
    async with Stores(opts.out, opts.stores) as stores:
        if stores.pg_error:
            ui.note(stores.pg_error)
        for cell in cells:
            ui.started(cell)
            await _run_cell(cell, opts, stores, engines, load_errors)
            ui.finished(cell)


def _meta(opts: Options, started: datetime, seconds: float) -> dict[str, Any]:
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

    return {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "argv": opts.argv,
        "quick": opts.quick,
        "sizes": vars(opts.sizes),
        "chat_mode": opts.chat_mode,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


def run_suite(opts: Options) -> int:
    """Run, report; exit status 1 if any cell failed (its traceback is in the report)."""
    from . import report

    cells = plan(opts)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with UI(len(cells)) as ui:
        anyio.run(_suite, opts, cells, ui, backend="asyncio")
    meta = _meta(opts, started, time.perf_counter() - t0)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(
        json.dumps({"meta": meta, "cells": [c.to_json() for c in cells]}, indent=1) + "\n"
    )
    profiles = opts.out / "profiles"
    for cell in cells:
        if cell.profile:
            profiles.mkdir(exist_ok=True)
            (profiles / (cell.name.replace("/", "-") + ".txt")).write_text(cell.profile)
    charts = report.charts(cells, opts.out)
    text = report.markdown(cells, meta, charts)
    (opts.out / "report.md").write_text(text)
    report.show(cells, meta, ui.console)
    ui.console.print(f"\nreport: {opts.out / 'report.md'}  data: {opts.out / 'results.json'}",
                     markup=False, highlight=False)
    return 1 if any(c.status != "ok" for c in cells) else 0
