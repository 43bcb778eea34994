"""The benchmark suite's smoke run: ``python -m benchmarks --quick`` must keep working.

Runs the whole quick suite (lograph only; memory, SQLite and a PostgreSQL server the
suite starts itself) in a subprocess into a temporary directory, then checks that it
exited 0 and that results.json has every workload x store x durability mode cell, each
with its figures present and positive. Speed is not asserted: the figures of a quick
run on a shared machine mean nothing, only their presence does.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORES = ("memory", "sqlite", "postgres")
MODES = ("exit", "async", "sync")
DURABLE = ("sqlite", "postgres")
FLOOR = {"sqlite": ("FULL", "NORMAL"), "postgres": ("1 conn", "16 conns")}

#: per workload: the figures every cell must have, > 0; then those only durable stores have
POSITIVE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chain": (("steps_per_s", "p50_ms", "p99_ms"), ()),
    "iochain": (("p50_ms", "p99_ms", "exit_p50_ms", "vs_exit", "steps_per_s"), ()),
    "concurrent": (("steps_per_s", "p50_ms", "p99_ms"), ()),
    "fanout": (("steps_per_s", "p50_ms", "p99_ms"), ()),
    "functional": (("tasks_per_s", "p50_ms", "p99_ms"), ()),
    "chat": (("first_ms", "last_ms", "growth"), ("bytes_per_turn",)),
    "history": (("get_state_warm_ms", "history_ms", "history_len", "fork_ms"),
                ("get_state_cold_ms", "history_cold_ms", "get_state_cold_after_fork_ms")),
}
#: figures that are present but may have either sign
FINITE = {"iochain": ("added_ms_per_step",)}


def _postgres_available() -> str | None:
    try:
        from lograph.adapters.pgserver import find_bindir

        find_bindir()
    except Exception as e:  # noqa: BLE001 - any reason not to find it: skip, saying it
        return str(e)
    return None


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.timeout(300)
def test_quick_suite_fills_every_cell(tmp_path: Path) -> None:
    missing = _postgres_available()
    if missing is not None and os.environ.get("CI") != "true":
        pytest.skip(f"the suite needs a PostgreSQL server: {missing}")
    out = tmp_path / "bench"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )
    seconds = time.monotonic() - start
    tail = f"\n--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    report = out / "report.md"
    if report.exists() and "## Failures" in report.read_text():  # the failed cells' tracebacks
        tail += "\n--- report.md ---\n" + report.read_text().split("## Failures", 1)[1][:6000]
    assert done.returncode == 0, f"exit {done.returncode} after {seconds:.0f} s{tail}"

    data = json.loads((out / "results.json").read_text())
    assert data["meta"]["quick"] is True
    cells = {(c["workload"], c["store"], c["mode"], c["engine"]): c for c in data["cells"]}
    problems: list[str] = []
    for store, settings in FLOOR.items():
        for setting in settings:
            cell = cells.get(("floor", store, setting, "machine"))
            if cell is None or not _positive(cell["metrics"].get("commits_per_s")):
                problems.append(f"floor/{store}/{setting}: {cell and cell['metrics']}")
    for workload, (always, durable) in POSITIVE.items():
        for store in STORES:
            for mode in MODES:
                name = f"{workload}/{store}/{mode}"
                cell = cells.get((workload, store, mode, "lograph"))
                if cell is None:
                    problems.append(f"{name}: missing")
                    continue
                if cell["status"] != "ok":
                    problems.append(f"{name}: {cell['status']}: {cell['error']}")
                    continue
                m = cell["metrics"]
                wanted = always + (durable if store in DURABLE else ())
                problems += [f"{name}: {k}={m.get(k)!r}" for k in wanted if not _positive(m.get(k))]
                problems += [f"{name}: {k}={m.get(k)!r}" for k in FINITE.get(workload, ())
                             if not isinstance(m.get(k), int | float) or not math.isfinite(m[k])]
    # durable runs: PostgreSQL and lograph only, no mode (takeover seconds, runs/s)
    cell = cells.get(("runs", "postgres", "-", "lograph"))
    if cell is None or cell["status"] != "ok":
        problems.append(f"runs/postgres/-: {cell and (cell['status'], cell['error'])}")
    else:
        problems += [f"runs/postgres/-: {k}={cell['metrics'].get(k)!r}"
                     for k in ("takeover_max_s", "runs_per_s_1", "runs_per_s_2")
                     if not _positive(cell["metrics"].get(k))]
    assert not problems, "\n".join(problems) + tail

    assert "## Targets" in report.read_text()
    assert not (out / "tmp").exists(), "the suite's scratch directory was left behind"
