"""What a run is asked to do: the sizes of its work and the options the command line gave.

A leaf of the package's import graph (standard library only): ``_cli`` builds these from
the arguments, the runner and every workload (through ``_common.Ctx``) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: workloads with no durability mode (no graph runs, or runs in their own): one group per
#: store, mode "-"
MODELESS = ("store", "runs")
#: workloads of one store and lograph alone (durable runs and worker processes)
POSTGRES_ONLY = ("runs",)


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
    store_items: int = 10_000  # the store workload: items put, then read
    store_rounds: int = 5  # put rounds, then as many read rounds
    store_gets: int = 10_000  # aget calls per read round
    store_searches: int = 1_000  # searches of one namespace per read round
    store_wide_searches: int = 50  # searches of every item per read round
    open_repeats: int = 20  # open + get_state + close in this process per read repeat (median)
    takeover_repeats: int = 5  # runs: SIGKILLed workers whose run another worker takes over
    takeover_lease: float = 2.0  # runs: the workers' lease, seconds
    service_runs: int = 100  # runs: runs per worker-throughput measure
    floor_seconds: float = 1.0  # per round
    floor_rounds: int = 5
    round_timeout: float = 300.0
    group_timeout: float = 1800.0  # a workload on a store in a mode, every engine


QUICK = Sizes(
    rounds=2, warmup=2, chain_threads=20, io_pairs=8, concurrent_tasks=64, concurrent_rounds=1,
    fanout_threads=20, functional_threads=20, chat_turns=40, chat_warmup=5, chat_edge=5,
    history_turns=40, fork_turn=20, history_repeats=1, get_state_repeats=5, cold_repeats=1,
    open_repeats=5,
    store_items=400, store_rounds=2, store_gets=50, store_searches=10, store_wide_searches=5,
    takeover_repeats=1, takeover_lease=1.0, service_runs=10,
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
