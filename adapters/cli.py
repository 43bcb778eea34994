"""The ``lograph`` command: a thread's log as an audit trail, from a shell.

    lograph demo [--dir DIR]                       the whole story on a SQLite file
    lograph threads STORE                          every thread: status, step, size
    lograph log STORE THREAD [--checkpoint ID] [--follow]   the timeline of a thread
    lograph state STORE THREAD [--checkpoint ID]   the state at the head or a checkpoint
    lograph history STORE THREAD                   the checkpoints, newest first
    lograph verify STORE [THREAD] [--graph MODULE:ATTR] [--expect-head HASH]   hash chain,
                                                   snapshots, code, a recorded head
    lograph fork STORE THREAD --checkpoint ID      make an old checkpoint the head again
    lograph worker STORE --graph MODULE:ATTR [--concurrency N] [--graph-limit M] [--lease S]   execute
                                                   submitted runs until SIGINT/SIGTERM
    lograph runs STORE [--thread T] [--status S] [--graph NAME]   submitted runs and the queue depth
    lograph migrate-imports FILE... [--diff]       rewrite langgraph imports to lograph's

STORE is a SQLite file (it must exist: it is never created by a read) or a
``postgresql://`` DSN; the PostgreSQL schema is ``?schema=NAME`` in the DSN or
``--schema NAME`` (default ``lograph``). ``--json`` prints JSON lines; output is plain
text (tab-separated tables, no colour) when stdout is not a terminal.

Exit codes:
    0    success (verify: every checked thread is intact and matches the code)
    1    verification failed (a broken hash chain, an edited snapshot, a divergence
         from the graph's code), or the demo's own checks failed, or migrate-imports
         left imports that lograph does not have (it rewrote the others)
    2    usage error, or what was named does not exist (store file, schema, thread,
         checkpoint, graph module or attribute)
    3    the store cannot be opened or read (server unreachable, file locked or
         read-only, written by a newer lograph, a log too damaged to read)
    130  interrupted (Ctrl-C); ``log --follow`` stops on Ctrl-C or SIGTERM with 0
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import importlib.util
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio

from lograph.eventlog import (
    Capability,
    ChainProblem,
    Checkpoint,
    EventLog,
    LogError,
    NotFoundError,
    SchemaVersionError,
    StoreUnavailableError,
    TimelineCursor,
    capabilities,
    checkpoint_records,
    event_to_json,
    state_at,
    timeline,
    to_json,
)
from lograph.eventlog.lowlevel import short
from lograph.runtime import (
    Checkpointer,
    Verdict,
    Worker,
    fork_thread,
    read_events,
    read_store,
    verify_thread,
)

from ._render import Output, duration, iso

OK, FAILED, USAGE, UNAVAILABLE, INTERRUPTED = 0, 1, 2, 3, 130
_HIDDEN_META = {"source", "step", "parents"}


class UsageError(Exception):
    """A bad argument the user can fix (exit code 2)."""


# --- opening a store -----------------------------------------------------------------------


def _is_dsn(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def shown(spec: str) -> str:
    """A store as the CLI may print it: a DSN's password (in its authority or its
    ``password=`` parameter) replaced by ``***``."""
    if not _is_dsn(spec):
        return spec
    try:
        parts = urlsplit(spec)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            name, colon, _password = user.partition(":")
            netloc = f"{name}{':***' if colon else ''}@{host}"
        query = urlencode([(k, "***" if k.lower() == "password" else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)])
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "postgresql://***"


def _split_schema(dsn: str, schema: str | None) -> tuple[str, str]:
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    named = [v for k, v in query if k == "schema"]
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema or (named[-1] if named else "lograph")


def _check_sqlite(path: Path) -> None:
    """The file exists and is a lograph store; read-only, so nothing is ever created."""
    if not path.exists():
        raise NotFoundError(f"no such file: {str(path)!r} (a SQLite store must exist to be read)")
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a directory; name a lograph SQLite file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and "no such table" not in str(e):
            # a file SQLite cannot open as asked (read-only file system, no access to its
            # directory for the WAL's -shm file): not a question of what it holds
            raise StoreUnavailableError(
                f"{str(path)!r} cannot be opened ({e}): lograph opens a store for writing, "
                "and SQLite's WAL needs the -wal and -shm files beside it; on a read-only "
                "file system, copy the store (with its -wal file) somewhere writable") from None
        raise NotFoundError(f"{str(path)!r} is not a lograph store (no lograph schema in it)") from None


@asynccontextmanager
async def open_store(spec: str, schema: str | None = None) -> AsyncIterator[EventLog]:
    """The store named on the command line, opened for reading (and appending, for fork)."""
    if _is_dsn(spec):
        try:
            from .postgres import PostgresLog
        except ImportError as e:
            raise StoreUnavailableError(f"PostgreSQL needs asyncpg: pip install 'lograph[postgres]' ({e})") from e
        try:
            dsn, name = _split_schema(spec, schema)
            pg = await PostgresLog.open(dsn, schema=name, min_size=1, max_size=2, retry_for=3.0)
        except ValueError as e:  # a malformed DSN (a bad option, host or port)
            message = str(e).replace(spec, shown(spec))
            raise UsageError(f"invalid PostgreSQL DSN {shown(spec)!r}: {message}") from None
        try:
            if await pg.schema_version() == 0:
                raise NotFoundError(f"the database has no lograph schema {name!r} (pass --schema or ?schema=)")
            yield pg
        finally:
            await pg.aclose()
        return
    if schema is not None:
        raise UsageError("--schema applies to a postgresql:// store only")
    from .sqlite import SqliteLog

    path = Path(spec)
    _check_sqlite(path)
    log = await SqliteLog.open(path)
    try:
        yield log
    finally:
        await log.aclose()


def import_app(name: str) -> None:
    """``--import MODULE``: the application's classes, for the decoder to find."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise NotFoundError(f"--import: cannot import {name!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - any import failure is the user's to see
        raise UsageError(f"--import: importing {name!r} failed: {type(e).__name__}: {e}") from None


def load_graph(spec: str) -> Any:
    """``module:attr`` or ``path/file.py:attr``: a compiled graph, a builder or a factory."""
    from lograph.runtime.lowlevel import structure_of

    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise UsageError(f"--graph {spec!r}: use MODULE:ATTRIBUTE, e.g. myapp.agent:graph")
    try:
        if target.endswith(".py"):
            file = Path(target)
            if not file.is_file():
                raise NotFoundError(f"--graph: no such file {target!r}")
            module_spec = importlib.util.spec_from_file_location(file.stem, file)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[file.stem] = module
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise NotFoundError(f"--graph: cannot import {target!r}: {e}") from None
    except (NotFoundError, UsageError):
        raise
    except Exception as e:  # noqa: BLE001 - any import failure is the user's to see
        raise UsageError(f"--graph: importing {target!r} failed: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise NotFoundError(f"--graph: {target!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    try:
        structure_of(obj)
    except TypeError:
        if not callable(obj):
            raise UsageError(f"--graph {spec!r} is a {type(obj).__name__}, not a graph or builder") from None
        obj = obj()
        try:
            structure_of(obj)
        except TypeError as e:
            raise UsageError(f"--graph {spec!r}: {e}") from None
    return obj


# --- commands -------------------------------------------------------------------------------


async def cmd_threads(args: argparse.Namespace, out: Output) -> int:
    async with open_store(args.store, args.schema) as log:
        threads = await read_store(log)
    if args.json:
        for t in threads:
            out.json({"thread": t.thread, "status": t.status, "step": t.step, "events": t.events,
                      "bytes": t.bytes, "last_ts": t.last_ts, "head": t.head,
                      "head_hash": t.head_hash.hex(), "checkpoint_id": t.checkpoint_id,
                      "next": list(t.next), "interrupts": t.interrupts, "branches": t.branches})
        return OK
    rows = [[t.thread, t.status, str(t.step), str(t.events), _size(t.bytes), str(t.branches),
             iso(t.last_ts), ", ".join(t.next) + (f" ({t.interrupts} waiting)" if t.interrupts else "")]
            for t in threads]
    out.table(["thread", "status", "step", "events", "size", "branches", "last event", "next"], rows,
              title=f"{len(threads)} thread(s) in {shown(args.store)}")
    return OK


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"


async def cmd_log(args: argparse.Namespace, out: Output) -> int:
    if args.follow and args.checkpoint:
        raise UsageError("--follow watches the whole thread; it cannot be used with --checkpoint")
    async with open_store(args.store, args.schema) as log:
        events = await read_events(log, args.thread, checkpoint=args.checkpoint)
        if not args.follow:
            if args.json:
                for e in events:
                    out.json(event_to_json(e, args.thread))
            else:
                out.timeline(timeline(events), title=f"thread {args.thread!r}: {len(events)} events")
            return OK
        cursor = TimelineCursor()

        async def follow(events: list[Any]) -> None:
            last = 0
            while True:
                for e in events:
                    if args.json:
                        out.json(event_to_json(e, args.thread))
                    else:
                        out.timeline_line(cursor.rows([e])[0])
                last = events[-1].seq if events else last
                await anyio.sleep(args.interval)
                events = await log.read(args.thread, after=last)

        # until Ctrl-C or SIGTERM, so the follow loop stops where it is and the store
        # closes normally (exit code 0)
        await until_signalled(follow, events)
        return OK


async def until_signalled(fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Run ``fn(*args)`` until it returns, or until SIGINT or SIGTERM (received as data:
    ``fn`` is cancelled where it is, and the caller goes on to close what it opened)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:

            async def stop() -> None:
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(stop)
            await fn(*args)
            tg.cancel_scope.cancel()


def state_view(cp: Checkpoint, thread: str, *, live: bool, graph: Any = None) -> dict[str, Any]:
    """What ``lograph state`` shows of the fold ``cp``: the view ``aget_state`` gives
    (``live``: at the head, where a step's finished tasks are done and only the others
    are next). Their writes are applied to ``values`` with ``graph``'s reducers; without
    the graph, values are as of the step's start and the writes are listed beside them
    (``pending_writes``, as ever)."""
    from lograph.runtime.lowlevel import snapshot_of

    if graph is not None and not hasattr(graph, "structure"):
        graph = graph.compile()  # a builder: its reducers are what is needed
    view = snapshot_of(graph, thread, "", cp, live=live, root=cp)
    return {
        "thread": thread, "checkpoint_id": cp.id, "parent_checkpoint_id": cp.parent_id,
        "step": cp.step, "created_at": iso(cp.created_at) if cp.checkpoint else None,
        "next": list(view.next), "values": view.values if graph is not None else cp.values,
        "metadata": cp.metadata, "pending_writes": dict(cp.writes),
        "interrupts": {iid: v["value"] for iid, v in cp.interrupts.items()},
        "run_status": cp.run_status,
    }


async def cmd_state(args: argparse.Namespace, out: Output) -> int:
    graph = load_graph(args.graph) if args.graph else None
    async with open_store(args.store, args.schema) as log:
        events = await read_events(log, args.thread, checkpoint=args.checkpoint)
    # at the head (with --checkpoint: that checkpoint, its branch's last event, as a record
    # of its step, as aget_state shows a checkpoint it is given)
    # (values of classes this process has not imported shown as they are stored)
    cp = state_at(events, events[-1].seq, exact=False, thread=args.thread)
    data = state_view(cp, args.thread, live=args.checkpoint is None, graph=graph)
    if args.json:
        out.json(to_json(data))
        return OK
    rows = [["checkpoint", str(cp.id)], ["step", str(cp.step)], ["created", str(data["created_at"])],
            ["source", str(cp.metadata.get("source", ""))], ["next", ", ".join(data["next"]) or "END"],
            ["run", cp.run_status or "-"]]
    values = data["values"]
    rows += ([[f"values.{k}", short(v, 200)] for k, v in values.items()] if isinstance(values, dict)
             else [["values", short(values, 200)]])  # (a state of one value)
    done = "applied" if graph is not None and args.checkpoint is None else "pending"
    rows += [[f"{done} {tid[:8]}", short(w, 200)] for tid, w in cp.writes.items()]
    rows += [[f"interrupt {iid[:8]}", short(v["value"], 200)] for iid, v in cp.interrupts.items()]
    out.table(["field", "value"], rows, title=f"thread {args.thread!r}")
    return OK


async def cmd_history(args: argparse.Namespace, out: Output) -> int:
    async with open_store(args.store, args.schema) as log:
        events = await read_events(log, args.thread)
    records = list(reversed(checkpoint_records(events)))
    if args.json:
        for r in records:
            out.json(to_json({"checkpoint_id": r.id, "seq": r.seq, "step": r.step, "ts": r.ts,
                              "source": r.source, "next": list(r.next), "changed": list(r.changed),
                              "parent_checkpoint_id": r.parent_id, "metadata": r.metadata}))
        return OK
    rows = [[r.id, str(r.step), r.source, iso(r.ts), ", ".join(r.next) or "END", ", ".join(r.changed),
             r.parent_id or "", " ".join(f"{k}={v}" for k, v in r.metadata.items() if k not in _HIDDEN_META)]
            for r in records]
    out.table(["checkpoint", "step", "source", "created", "next", "changed", "parent", "who"], rows,
              title=f"thread {args.thread!r}: {len(records)} checkpoints, newest first")
    return OK


async def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    expected = _expected_head(args.expect_head, args.thread)
    graph = load_graph(args.graph) if args.graph else None
    async with open_store(args.store, args.schema) as log:
        if args.thread is not None:
            await read_events(log, args.thread)  # NotFoundError for an unknown thread
            names = [args.thread]
        else:
            names = [t.thread for t in await log.threads()]
        verdicts = []
        with out.progress("verifying", len(names), quiet=args.json) as advance:
            for name in names:
                try:
                    verdicts.append(await verify_thread(log, name, graph=graph))
                except (StoreUnavailableError, SchemaVersionError):
                    raise  # the store, not this thread
                except Exception as e:  # noqa: BLE001 - this thread cannot be read: say so, go on
                    verdicts.append(Verdict(name, 0, 0, b"", [ChainProblem(
                        name, 0, "", f"cannot be read: {e}")]))
                advance()
    moved = {v.thread for v in verdicts if expected is not None and v.head_hash != expected}
    failed = [v for v in verdicts if not v.ok or v.thread in moved]
    for v in verdicts:
        if args.json:
            out.json({**_verdict_json(v), **({"expected_head": expected.hex(),
                                              "head_matches": v.thread not in moved}
                                             if expected is not None else {})})
        elif not v.ok:
            out.line(f"FAIL  {v.problem}", style="bold red")
        elif v.thread in moved:
            assert expected is not None
            out.line(f"FAIL  thread {v.thread!r}: its head is event {v.head} with hash "
                     f"{v.head_hash.hex()}, not the expected {expected.hex()}: events were "
                     "deleted from its end, or added, or the log was replaced", style="bold red")
        else:
            replay = "; replays as the graph's code decides" if v.replayed else ""
            if v.chain_version in (1, 2):  # (an older lograph's: see README, chain's security)
                replay += "; an older chain, not bound to its thread id"
            out.line(f"ok    {v.thread}: {v.events} events, hash chain intact{replay} "
                     f"(head {v.head} {v.head_hash.hex()})", style="green")
    if not args.json:
        out.line(f"{len(verdicts) - len(failed)} of {len(verdicts)} thread(s) verified"
                 + (f"; {len(failed)} failed" if failed else ""))
    return FAILED if failed else OK


def _expected_head(value: str | None, thread: str | None) -> bytes | None:
    """``--expect-head``'s hash (a UsageError for a bad one, or without a thread)."""
    if value is None:
        return None
    if thread is None:
        raise UsageError("--expect-head needs a THREAD: a head hash belongs to one thread")
    try:
        digest = bytes.fromhex(value.strip())
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise UsageError(f"--expect-head takes the 64 hex digits of a head hash (as verify "
                         f"prints it), not {value!r}")
    return digest


def _verdict_json(v: Verdict) -> dict[str, Any]:
    d = v.divergence
    return {
        "thread": v.thread, "ok": v.ok, "events": v.events, "head": v.head,
        "head_hash": v.head_hash.hex(), "chain_version": v.chain_version, "problem": v.problem,
        "chain": [{"seq": p.seq, "kind": p.kind, "reason": p.reason} for p in v.chain],
        "snapshots": v.snapshots, "replayed": v.replayed,
        "divergence": None if d is None else {"seq": d.seq, "step": d.step, "what": d.what,
                                              "log": d.log, "code": d.code},
    }


async def cmd_fork(args: argparse.Namespace, out: Output) -> int:
    async with open_store(args.store, args.schema) as log:
        saver = Checkpointer(log)
        new = await fork_thread(saver, args.thread, args.checkpoint,
                         metadata={"by": args.by or _user(), "via": "lograph fork"})
    if args.json:
        out.json({"thread": args.thread, "forked_from": args.checkpoint, "checkpoint_id": new})
    elif out.plain:
        out.line(new)
    else:
        out.line(f"forked thread {args.thread!r} from {args.checkpoint}: its head is now {new}",
                 style="green")
    return OK


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    from ._demo import run_demo

    return run_demo(args.dir, out)


def cmd_bench(bench_args: list[str]) -> int:
    """Run the benchmark suite of a source checkout (``benchmarks/`` beside the package);
    every argument goes to ``python -m benchmarks``."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").exists():
        raise UsageError(
            "lograph bench runs the suite in a source checkout (benchmarks/ is not installed): "
            "clone the repository and run `make bench` there"
        )
    done = subprocess.run([sys.executable, "-m", "benchmarks", *bench_args], cwd=root)
    return done.returncode


def cmd_migrate_imports(args: argparse.Namespace, out: Output) -> int:
    """Rewrite each file's langgraph imports in place (``--diff``: print the change only)."""
    import difflib

    from ._migrate import migrate

    left = False
    for name in args.files:
        path = Path(name)
        try:
            before = path.read_text(encoding="utf-8")
            done = migrate(before)
        except (OSError, SyntaxError, UnicodeDecodeError) as e:
            raise UsageError(f"{name}: cannot migrate: {e}") from e
        if args.diff:
            out.stream.write("".join(difflib.unified_diff(
                before.splitlines(keepends=True), done.source.splitlines(keepends=True),
                f"{name} (langgraph)", f"{name} (lograph)")))
            out.stream.flush()
        elif done.source != before:
            path.write_text(done.source, encoding="utf-8")
        for line, why in done.problems:
            _err(f"{name}:{line}: left as it was: {why}")
        if not args.diff:
            out.line(f"{name}: {done.rewritten} import statement(s) rewritten, "
                     f"{len(done.problems)} left", style="green" if not done.problems else "yellow")
        left = left or bool(done.problems)
    return FAILED if left else OK


# --- durable runs: worker and runs -----------------------------------------------------------


def _queue(log: Any) -> Any:
    if Capability.RUNS not in capabilities(log):
        raise UsageError(f"the store {type(log).__name__} keeps no run records")
    return log


async def cmd_worker(args: argparse.Namespace, out: Output) -> int:
    """Claim and execute the store's runs until SIGINT or SIGTERM."""
    graph = load_graph(args.graph)
    async with open_store(args.store, args.schema) as log:
        saver = Checkpointer(_queue(log))
        try:
            worker = Worker(graph, saver, concurrency=args.concurrency, lease=args.lease,
                            poll=args.poll, name=args.name, graph_limit=args.graph_limit)
        except ValueError as e:
            raise UsageError(str(e)) from None
        out.line(f"worker {worker.name}: serving {args.graph} (the runs of graph "
                 f"{worker.graph_name!r} and of none, concurrency {args.concurrency}, "
                 f"lease {args.lease:g} s)", style="green")

        async def serve() -> None:
            async with worker:
                await anyio.sleep_forever()

        await until_signalled(serve)
        out.line(f"worker {worker.name}: stopped after {worker.finished} run(s)")
    return OK


async def cmd_runs(args: argparse.Namespace, out: Output) -> int:
    """The store's runs, newest first, and the queue's depth."""
    async with open_store(args.store, args.schema) as log:
        queue = _queue(log)
        runs = await queue.list_runs(thread=args.thread, status=args.status, limit=args.limit,
                                     graph=args.graph)
        counts = await queue.run_counts()
    if args.json:
        out.json({"counts": counts, "queue_depth": counts.get("pending", 0)})
        for r in runs:
            out.json({"run_id": r.run_id, "thread": r.thread, "graph": r.graph, "status": r.status,
                      "created": r.created, "started": r.started, "finished": r.finished,
                      "attempts": r.attempts, "worker": r.worker, "durability": r.durability,
                      "strategy": r.strategy, "metadata": r.metadata, "error": r.error})
        return OK
    rows = [[r.run_id, r.thread, r.graph or "", r.status, iso(r.created),
             duration(r.finished - r.started) if r.finished and r.started else "",
             str(r.attempts), r.worker or "", (r.error or "")[:80]] for r in runs]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no runs"
    out.table(["run", "thread", "graph", "status", "created", "took", "attempts", "worker", "error"],
              rows,
              title=f"queue depth {counts.get('pending', 0)} ({summary})")
    return OK


def add_run_commands(command: Any) -> None:
    """``worker`` and ``runs``, with ``build_parser``'s ``command`` helper."""
    worker = command("worker", cmd_worker, "claim and execute submitted runs until SIGINT/SIGTERM",
                     thread=None)
    worker.add_argument("--graph", metavar="MODULE:ATTR", required=True,
                        help="the compiled graph or builder the runs execute")
    worker.add_argument("--concurrency", type=int, default=1, help="runs at once (default 1)")
    worker.add_argument("--graph-limit", type=int, metavar="M",
                        help="runs of the graph (by its name) at once across every worker on the "
                             "store (default: no limit)")
    worker.add_argument("--lease", type=float, default=10.0,
                        help="seconds a claim holds a run without a heartbeat (default 10)")
    worker.add_argument("--poll", type=float, default=0.2,
                        help="seconds between claims while the queue is empty (default 0.2)")
    worker.add_argument("--name", help="the worker's name in run records (default host:pid:random)")
    runs = command("runs", cmd_runs, "the store's runs (newest first) and the queue depth",
                   thread=None)
    runs.add_argument("--thread", help="only this thread's runs")
    runs.add_argument("--graph", metavar="NAME", help="only the runs of the graph of this name")
    runs.add_argument("--status", action="append", help="only runs in this status (repeatable)")
    runs.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")


# --- the parser and main ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        prog="lograph", description=doc.split("\n\n")[0],
        epilog=doc[doc.index("Exit codes:"):], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, fn: Callable[..., Any], help: str, *, store: bool = True,
                thread: str | None = "required") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        if store:
            p.add_argument("store", metavar="STORE", help="a SQLite file or a postgresql:// DSN")
            p.add_argument("--schema", help="the PostgreSQL schema (default: ?schema= or 'lograph')")
            p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
            p.add_argument("--import", dest="imports", metavar="MODULE", action="append",
                           default=[], help="import the application's module first, so its "
                           "classes in the log read back as themselves (repeatable); without "
                           "it they are shown and compared by their stored form")
        if thread == "required":
            p.add_argument("thread", metavar="THREAD", help="the thread id")
        elif thread == "optional":
            p.add_argument("thread", metavar="THREAD", nargs="?", help="one thread (default: all)")
        return p

    demo = command("demo", cmd_demo, "run a durable agent: crash, resume, approval, fork, audit",
                   store=False, thread=None)
    demo.add_argument("--dir", help="where to keep the store and the files (default: a new temp dir)")
    command("threads", cmd_threads, "list the store's threads with status, last step and size",
            thread=None)
    log = command("log", cmd_log, "a thread's log as an audit timeline")
    log.add_argument("--checkpoint", metavar="ID", help="only the branch ending at this checkpoint")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new events (Ctrl-C stops)")
    log.add_argument("--interval", type=float, default=0.5, help="seconds between polls with --follow")
    state = command("state", cmd_state, "a thread's state at its head or at a checkpoint")
    state.add_argument("--checkpoint", metavar="ID", help="a checkpoint id (default: the head)")
    state.add_argument("--graph", metavar="MODULE:ATTR",
                       help="the graph (or builder) whose reducers apply a step's finished "
                            "tasks' writes to the values, as aget_state shows them")
    command("history", cmd_history, "a thread's checkpoints, newest first (every branch)")
    verify = command("verify", cmd_verify, "check hash chains and snapshots; replay against code",
                     thread="optional")
    verify.add_argument("--graph", metavar="MODULE:ATTR",
                        help="a compiled graph or StateGraph builder to replay the log against")
    verify.add_argument("--expect-head", metavar="HASH",
                        help="the thread's head hash recorded elsewhere (verify prints it): "
                        "FAIL unless the log still ends there")
    fork_ = command("fork", cmd_fork, "make an earlier checkpoint the thread's head (a new branch)")
    fork_.add_argument("--checkpoint", metavar="ID", required=True, help="the checkpoint to fork from")
    fork_.add_argument("--by", help="who forks, recorded in the log (default: the OS user)")
    add_run_commands(command)
    migrate = command("migrate-imports", cmd_migrate_imports,
                      "rewrite a program's langgraph imports to lograph's modules",
                      store=False, thread=None)
    migrate.add_argument("files", metavar="FILE", nargs="+", help="Python files, rewritten in place")
    migrate.add_argument("--diff", action="store_true", help="print the change; write nothing")
    command("bench", cmd_bench, "run the durability benchmark suite: lograph bench [--quick] "
            "[--compare langgraph] ... (the options of python -m benchmarks)", store=False, thread=None)
    return parser


def _err(text: str) -> None:
    print(f"lograph: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # a stored integer of any size is shown (its row's size bounds it); Python's default
    # refuses to print one of more than 4,300 digits
    sys.set_int_max_str_digits(0)
    if argv[:1] == ["bench"]:  # every option belongs to the suite
        try:
            return cmd_bench(argv[1:])
        except UsageError as e:
            _err(str(e))
            return USAGE
    args = build_parser().parse_args(argv)
    out = Output(plain=True if args.plain else None)
    try:
        if args.command in ("demo", "migrate-imports"):
            return int(args.fn(args, out))
        for name in getattr(args, "imports", ()):
            import_app(name)
        return int(anyio.run(args.fn, args, out))
    except (NotFoundError, UsageError) as e:
        _err(str(e))
        return USAGE
    except LogError as e:
        _err(str(e))
        return UNAVAILABLE
    except KeyboardInterrupt:
        if getattr(args, "follow", False):
            return OK
        _err("interrupted")
        return INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


__all__ = ["build_parser", "duration", "load_graph", "main", "open_store"]

if __name__ == "__main__":
    sys.exit(main())
