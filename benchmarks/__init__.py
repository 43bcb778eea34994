"""lograph's benchmark suite: ``make bench`` (``python -m benchmarks [options]``).

Workloads (``--workload``, all by default), each on every store (``--store``) in every
durability mode (``--mode``: exit, async, sync):

- ``floor``: what the machine's storage can do at best: raw sqlite3 single-row
  INSERT+COMMIT per second (WAL, synchronous FULL and NORMAL) and PostgreSQL
  single-row commits per second on 1 and 16 asyncpg connections (machine cells).
- ``chain``: a StateGraph of 10 async nodes in a line; fresh threads invoked one after
  the other: steps/s, p50/p99 per invoke.
- ``iochain``: the chain with sync nodes that each block 2 ms (on a worker thread);
  each invoke paired with one in ``exit``: latency, its ratio to exit, ms added per step.
- ``concurrent``: the chain from 64 tasks at once (an anyio task group): steps/s.
- ``fanout``: one node, 8 parallel nodes appending to an ``operator.add`` key, a join.
- ``functional``: an ``@entrypoint`` awaiting 10 ``@task`` calls: tasks/s.
- ``chat``: one thread, many turns of one user message and a ~300-byte reply: latency
  of the early vs the late turns, storage bytes per turn.
- ``history``: on a long chat thread: ``get_state`` warm and cold (a new process), the
  full history, a fork from the middle turn, a cold read after it.
- ``store``: the long-term memory Store (no graph, no mode): ``aput`` of 10,000 items,
  then ``aget`` and filtered ``asearch`` (one namespace, all items) per second.

Stores: ``memory``, ``sqlite`` (a file under ``--out``/tmp) and ``postgres`` (a
throwaway server with fsync on, started by the suite as the tests start theirs).

Measuring on a noisy machine: every cell warms up first; its work is split in rounds
and, with ``--compare langgraph``, the engines' rounds alternate (lograph, LangGraph,
LangGraph, lograph, ...) in one process, so both see the machine in the same state;
figures are medians over rounds. Each engine gets a fresh file, schema or database.

Comparing with LangGraph (``--compare langgraph``): the same graphs (``graphs.py``
builds them from the engine's API) on LangGraph with its fastest savers
(``lg_engine.py`` says which and why), the ratio per cell, and the targets of the
issues checked (PASS/MISS, reported, never asserted; ``targets.py``).

Environments -- why there are two, and how a fresh clone gets them:

- lograph never imports LangGraph and LangGraph is never installed into the project's
  ``.venv``. Without ``--compare`` the suite runs in whatever interpreter started it
  (the project's ``.venv`` under ``make bench``): lograph only, no extra packages.
- With ``--compare langgraph`` (or ``--bench-env``, e.g. to draw the charts),
  ``python -m benchmarks`` first makes sure ``benchmarks/.venv`` exists and is current:
  it creates it with ``python -m venv`` and ``pip install -e '.[dev]'`` plus LangGraph,
  its SQLite and PostgreSQL savers, psycopg, matplotlib and rich (see
  ``benchmarks/_env.py``; about a minute, once), then re-executes itself inside it.
  The venv is rebuilt when that list or ``pyproject.toml`` changes (a stamp file).
  So on a fresh clone ``make bench BENCH_ARGS='--compare langgraph'`` is all it takes.
- LangGraph code lives only in ``benchmarks/lg_*.py``, imported only when comparing.

Output (``--out``, default ``benchmarks/results``): a table on the terminal (rich, with
progress; plain text when not a terminal), ``report.md``, ``results.json`` and, when
matplotlib is importable, PNG charts. A cell that fails is reported with its
traceback and the suite goes on (exit status 1). ``--render results.json`` rewrites the
report and charts of an earlier run without running anything.

``--quick`` shrinks every size: lograph alone runs in about 20 s, with LangGraph in
about two minutes. ``tests/test_bench_quick.py`` runs ``python -m benchmarks --quick``
(every workload, store and mode, lograph only) so the suite never rots.
"""

from ._cli import main

__all__ = ["main"]
