"""Command line: ``python -m benchmarks [--quick] [--compare langgraph] [--store ...] ...``.

Parsing and the environment bootstrap use the standard library only; the suite itself
(lograph, anyio, rich) is imported after ``_env.ensure`` has picked the interpreter.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import _env

STORES = ("memory", "sqlite", "postgres")
#: in the order they run (per store); ``floor`` is the machine's, not an engine's
WORKLOADS = ("floor", "chain", "iochain", "concurrent", "fanout", "functional", "chat", "history")
MODES = ("exit", "async", "sync")
ENGINES = ("lograph", "langgraph")


@dataclass(frozen=True)
class Sizes:
    rounds: int = 5  # each cell's work is split in rounds, the engines' rounds alternate
    warmup: int = 5  # invokes on other threads before a cell's first round
    chain_threads: int = 200
    io_pairs: int = 100  # I/O chain: invokes in the cell's mode, each paired with one in exit
    concurrent_tasks: int = 64
    concurrent_rounds: int = 4  # each: every task invokes one fresh thread, all at once
    fanout_threads: int = 200
    functional_threads: int = 100
    chat_turns: int = 300
    chat_warmup: int = 20  # turns on another thread first (> the Postgres pool size)
    chat_edge: int = 30  # early turns (a new thread) alternated with as many late ones
    history_turns: int = 300
    fork_turn: int = 150
    history_repeats: int = 5  # of each read, of each cold process, of the fork (medians: 3 swung 30%)
    get_state_repeats: int = 20  # warm reads per repeat (their median)
    cold_repeats: int = 3  # cold get_state processes per read repeat (one sample each)
    floor_seconds: float = 1.0  # per round
    floor_rounds: int = 5
    round_timeout: float = 300.0
    group_timeout: float = 1800.0  # a workload on a store in a mode, every engine


QUICK = Sizes(
    rounds=2, warmup=2, chain_threads=20, io_pairs=8, concurrent_tasks=64, concurrent_rounds=1,
    fanout_threads=20, functional_threads=20, chat_turns=40, chat_warmup=5, chat_edge=5,
    history_turns=40, fork_turn=20, history_repeats=1, get_state_repeats=5, cold_repeats=1,
    floor_seconds=0.2, floor_rounds=2, round_timeout=60.0, group_timeout=120.0,
)


@dataclass(frozen=True)
class Options:
    stores: tuple[str, ...]
    workloads: tuple[str, ...]
    modes: tuple[str, ...]
    engines: tuple[str, ...]
    out: Path
    quick: bool
    sizes: Sizes
    profile: bool
    render: Path | None = None
    argv: list[str] = field(default_factory=list)


def _csv(allowed: tuple[str, ...], what: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
        bad = [s for s in items if s not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}"
            )
        return items

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="lograph benchmarks; see benchmarks/__init__.py for what each workload does",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run of well under a minute")
    p.add_argument("--compare", type=_csv(("langgraph",), "engine"), default=(),
                   help="also run every cell on LangGraph (in benchmarks/.venv, created on first use)")
    p.add_argument("--store", type=_csv(STORES, "store"), default=STORES, help=",".join(STORES))
    p.add_argument("--workload", type=_csv(WORKLOADS, "workload"), default=WORKLOADS,
                   help=",".join(WORKLOADS))
    p.add_argument("--mode", type=_csv(MODES, "durability mode"), default=MODES,
                   help="durability modes: exit,async,sync")
    p.add_argument("--out", type=Path, default=_env.BENCH_DIR / "results", help="report directory")
    p.add_argument("--profile", action="store_true",
                   help="cProfile every lograph cell; top-15 per cell in profiles/ and the report")
    p.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                   help="run nothing: write the report and charts of an earlier run's results.json "
                        "into --out (e.g. after changing the report's code)")
    p.add_argument("--bench-env", action="store_true",
                   help="run in benchmarks/.venv even without --compare (for matplotlib charts)")
    return p


def parse(argv: list[str]) -> tuple[Options, bool]:
    """The options, and whether the run needs benchmarks/.venv."""
    ns = parser().parse_args(argv)
    engines = ("lograph", *ns.compare)
    sizes = QUICK if ns.quick else Sizes()
    opts = Options(
        stores=ns.store, workloads=ns.workload, modes=ns.mode, engines=engines,
        out=ns.out, quick=ns.quick, sizes=sizes, profile=ns.profile, render=ns.render,
        argv=list(argv),
    )
    return opts, bool(ns.compare) or ns.bench_env


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts, needs_venv = parse(argv)
    if needs_venv:
        _env.ensure(argv)  # returns only inside benchmarks/.venv
    if opts.render is not None:
        from ._runner import render

        return render(opts.render, opts.out)
    from ._runner import run_suite

    return run_suite(opts)
