"""Command line: ``python -m benchmarks [--quick] [--compare langgraph] [--store ...] ...``.

Parsing and the environment bootstrap use the standard library only; the suite itself
(lograph, anyio, rich) is imported after ``_env.ensure`` has picked the interpreter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _env
from ._options import QUICK, Options, Sizes

STORES = ("memory", "sqlite", "postgres")
#: in the order they run (per store); ``floor`` is the machine's, not an engine's
WORKLOADS = ("floor", "chain", "iochain", "concurrent", "fanout", "functional", "chat", "history",
             "store", "runs")
MODES = ("exit", "async", "sync")
ENGINES = ("lograph", "langgraph")


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
