"""lograph's benchmark suite: ``make bench`` (``python -m benchmarks [options]``).

Workloads (``--workload``, all by default):

- ``floor``: what the machine's storage can do at best: raw sqlite3 single-row
  INSERT+COMMIT per second (WAL, synchronous FULL and NORMAL) and PostgreSQL
  single-row commits per second on 1 and 16 asyncpg connections.
- ``chain``: a StateGraph of 10 async nodes in a line; N fresh threads invoked once
  each, one after the other, in each durability mode: steps/s, p50/p99 per invoke.
- ``concurrent``: the same chain from 64 tasks at once (an anyio task group): steps/s.
- ``chat``: one thread, many turns of one user message and a ~300-byte reply on
  ``Annotated[list, operator.add]``: latency of the first vs the last 10 turns,
  storage bytes per turn, warm and cold ``get_state``, the full history, a fork.

Stores (``--store``): ``memory``, ``sqlite`` (a file under ``--out``/tmp) and
``postgres`` (a throwaway server with fsync on, started by the suite).

Comparing with LangGraph (``--compare langgraph``): every cell runs on lograph and
then on LangGraph, in the same process, and the report gives the ratio per cell.

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
traceback and the suite goes on. Targets are reported as met or not, never asserted.

``--quick`` shrinks every size so the whole run takes well under a minute; CI runs
``python -m benchmarks --quick --store memory,sqlite`` as a smoke test.
"""

from ._cli import main

__all__ = ["main"]
