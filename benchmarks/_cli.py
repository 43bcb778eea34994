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
WORKLOADS = ("floor", "chain", "concurrent", "chat")
MODES = ("exit", "async", "sync")
ENGINES = ("lograph", "langgraph")


@dataclass(frozen=True)
class Sizes:
    chain_threads: int = 200
    concurrent_tasks: int = 64
    concurrent_rounds: int = 4  # invokes per task, each on a fresh thread
    chat_turns: int = 300
    chat_fork_turn: int = 150
    chat_warmup: int = 20  # turns on another thread first (> the Postgres pool size)
    floor_seconds: float = 2.0
    warmup: int = 5
    cell_timeout: float = 300.0


QUICK = Sizes(
    chain_threads=20, concurrent_tasks=64, concurrent_rounds=1, chat_turns=40,
    chat_fork_turn=20, chat_warmup=5, floor_seconds=0.3, warmup=2, cell_timeout=60.0,
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
    chat_mode: str
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
    p.add_argument("--quick", action="store_true", help="small sizes: the whole run in well under a minute")
    p.add_argument("--compare", type=_csv(("langgraph",), "engine"), default=(),
                   help="also run every cell on LangGraph (in benchmarks/.venv, created on first use)")
    p.add_argument("--store", type=_csv(STORES, "store"), default=STORES, help="memory,sqlite,postgres")
    p.add_argument("--workload", type=_csv(WORKLOADS, "workload"), default=WORKLOADS,
                   help="floor,chain,concurrent,chat")
    p.add_argument("--mode", type=_csv(MODES, "durability mode"), default=MODES,
                   help="durability modes for chain and concurrent: exit,async,sync")
    p.add_argument("--chat-mode", choices=MODES, default="async",
                   help="durability of the chat workload (default: async, both engines' default)")
    p.add_argument("--out", type=Path, default=_env.BENCH_DIR / "results", help="report directory")
    p.add_argument("--profile", action="store_true",
                   help="cProfile every lograph cell; top-15 per cell in profiles/ and the report")
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
        out=ns.out, quick=ns.quick, sizes=sizes, profile=ns.profile, chat_mode=ns.chat_mode,
        argv=list(argv),
    )
    return opts, bool(ns.compare) or ns.bench_env


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts, needs_venv = parse(argv)
    if needs_venv:
        _env.ensure(argv)  # returns only inside benchmarks/.venv
    from ._runner import run_suite

    return run_suite(opts)
