"""The ``lograph`` command, run as a subprocess on a SQLite file and on PostgreSQL.

Each test groups several commands (a subprocess costs ~0.3 s): threads, log (table,
--json round trip, --checkpoint, --follow), state, history, verify (intact, one edited
row, one deleted row, --graph before and after a code change), fork, the errors and
their exit codes, and ``lograph demo`` end to end.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import Event, Kind, event_from_json
from lograph.runtime import Command

ROOT = Path(__file__).resolve().parent.parent

GRAPH = '''
import operator
from typing import Annotated, TypedDict

from lograph.runtime import END, START, StateGraph, interrupt


class Ship(TypedDict, total=False):
    log: Annotated[list, operator.add]
    decision: str


def plan(state):
    return {"log": ["plan"]}


def ask(state):
    return {"decision": interrupt("ship it?")}


def ship(state):
    return {"log": ["ship"]}


def route(state):
    return ROUTE


def build():
    builder = StateGraph(Ship)
    builder.add_node("plan", plan)
    builder.add_node("ask", ask)
    builder.add_node("ship", ship)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "ask")
    builder.add_conditional_edges("ask", route, ["ship", END])
    builder.add_edge("ship", END)
    return builder
'''
V1 = '"ship" if state["decision"] == "yes" else END'
V2 = "END  # a code change: never ship"


def lograph(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lograph.adapters.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def json_lines(proc: subprocess.CompletedProcess[str]) -> list[Any]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def one_error_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lograph: "), proc.stderr
    assert all(w in lines[0] for w in words), (words, lines[0])


def write_graph(directory: Path, name: str, route: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(GRAPH.replace("ROUTE", route))
    return path


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"cli_graph_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Store:
    """A SQLite file or a fresh schema on the session's PostgreSQL server."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.path = tmp_path / "store.db"
            self.arg = str(self.path)
            self.spelled = [self.arg]
        else:
            from tests._store_postgres import fresh_schema, server

            self.schema = fresh_schema()
            self.dsn = server().dsn
            self.arg = f"{self.dsn}?schema={self.schema}"
            self.spelled = [self.dsn, "--schema", self.schema]  # the other way to name it

    def saver(self) -> Any:
        if self.kind == "sqlite":
            from lograph.adapters.sqlite import SqliteSaver

            return SqliteSaver.from_conn_string(self.path)
        from lograph.adapters.postgres import PostgresSaver

        return PostgresSaver.from_conn_string(self.dsn, schema=self.schema, max_size=2)

    def read(self, thread: str) -> list[Event]:
        async def go() -> list[Event]:
            if self.kind == "sqlite":
                from lograph.adapters.sqlite import SqliteLog

                log: Any = await SqliteLog.open(self.path)
            else:
                from lograph.adapters.postgres import PostgresLog

                log = await PostgresLog.open(self.dsn, schema=self.schema, max_size=1)
            async with log:
                events: list[Event] = await log.read(thread)
                return events

        return anyio.run(go)

    def execute(self, statement: str) -> None:
        """Tamper with the store behind lograph's back (``{events}`` names the table)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                conn.execute(statement.format(events="events"))
            return
        import asyncpg

        async def go() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(statement.format(events=f'"{self.schema}".events'))
            finally:
                await conn.close()

        anyio.run(go)


def populate(store: Store, graph_file: Path) -> Any:
    """t1: planned, asked, resumed by alice (shipped). t2: waiting for its answer."""
    graph_module = load(graph_file)
    with store.saver() as saver:
        if store.kind == "postgres":
            saver.setup()
        graph = graph_module.build().compile(checkpointer=saver)
        graph.invoke({"log": []}, {"configurable": {"thread_id": "t1", "user": "carol"}})
        graph.invoke(Command(resume="yes"), {"configurable": {"thread_id": "t1", "user": "alice"}})
        graph.invoke({"log": []}, {"configurable": {"thread_id": "t2", "user": "carol"}})
        history = [(s.config["configurable"]["checkpoint_id"], s.next)
                   for s in graph.get_state_history({"configurable": {"thread_id": "t1"}})]
    return history


def before_ask(history: list[tuple[str, tuple[str, ...]]]) -> str:
    """The id of t1's checkpoint whose next task is "ask"."""
    return next(cid for cid, nxt in history if nxt == ("ask",))


STORES = ["sqlite", "postgres"]


@pytest.mark.parametrize("kind", STORES)
def test_read_commands(tmp_path: Path, kind: str) -> None:
    store = Store(kind, tmp_path)
    history = populate(store, write_graph(tmp_path, "v1", V1))
    events = store.read("t1")

    threads = {t["thread"]: t for t in json_lines(lograph("threads", store.arg, "--json"))}
    assert (threads["t1"]["status"], threads["t2"]["status"]) == ("done", "interrupted")
    assert threads["t1"]["events"] == len(events) and threads["t1"]["head"] == events[-1].seq
    assert threads["t2"]["next"] == ["ask"] and threads["t2"]["interrupts"] == 1
    table = lograph("threads", store.arg)
    assert table.returncode == 0 and "\x1b" not in table.stdout  # not a terminal: plain text
    header, *rows = table.stdout.splitlines()
    assert header.split("\t")[:3] == ["thread", "status", "step"]
    assert [r.split("\t")[:2] for r in rows] == [["t1", "done"], ["t2", "interrupted"]]

    timeline = lograph("log", store.arg, "t1")
    assert timeline.returncode == 0, timeline.stderr
    lines = timeline.stdout.splitlines()
    assert lines[0].split("\t") == ["seq", "time", "step", "node", "event", "took", "summary", "who"]
    assert len(lines) == 1 + len(events)
    resume = next(line.split("\t") for line in lines if "\tresume\t" in line)
    assert "'yes'" in resume[6] and resume[7] == "user=alice"
    assert any("ship it?" in line and "\tinterrupt\t" in line for line in lines)

    exported = json_lines(lograph("log", store.arg, "t1", "--json"))
    assert [event_from_json(obj) for obj in exported] == events  # the JSON form round-trips
    assert {obj["thread"] for obj in exported} == {"t1"}
    assert [obj["kind"] for obj in exported] == [e.kind for e in events]
    writes = [obj["body"] for obj in exported if obj["kind"] == Kind.NODE_WRITES]
    assert {"name": "ship", "writes": [["log", ["ship"]]]} in writes

    asked = before_ask(history)
    branch = json_lines(lograph("log", store.arg, "t1", "--json", "--checkpoint", asked))
    assert branch[-1]["kind"] == Kind.CHECKPOINT and len(branch) < len(exported)

    [state] = json_lines(lograph("state", store.arg, "t2", "--json"))
    assert state["next"] == ["ask"] and list(state["interrupts"].values()) == ["ship it?"]
    [old] = json_lines(lograph("state", store.arg, "t1", "--json", "--checkpoint", asked))
    assert old["checkpoint_id"] == asked and old["values"] == {"log": ["plan"]}
    records = json_lines(lograph("history", store.arg, "t1", "--json"))
    assert [r["checkpoint_id"] for r in records] == [cid for cid, _ in history]
    assert [tuple(r["next"]) for r in records] == [nxt for _, nxt in history]
    assert records[0]["metadata"]["user"] == "alice"


@pytest.mark.parametrize("kind", STORES)
def test_runs_shows_and_filters_runs_by_graph(tmp_path: Path, kind: str) -> None:
    store = Store(kind, tmp_path)
    populate(store, write_graph(tmp_path, "v1", V1))  # (creates the store)

    async def submit() -> None:
        from lograph.eventlog import NewRun

        with store.saver() as saver:
            for run_id, graph in (("r1", "alpha"), ("r2", "beta"), ("r3", None)):
                await saver.log.create_run(NewRun(run_id, f"t-{run_id}", b"\xa0", graph=graph))

    anyio.run(submit)
    lines = json_lines(lograph("runs", *store.spelled, "--json"))
    assert lines[0]["queue_depth"] == 3
    assert [(r["run_id"], r["graph"]) for r in lines[1:]] == [("r3", None), ("r2", "beta"),
                                                              ("r1", "alpha")]
    only = json_lines(lograph("runs", store.arg, "--graph", "beta", "--json"))
    assert [r["run_id"] for r in only[1:]] == ["r2"]
    table = lograph("runs", store.arg)
    assert table.returncode == 0 and "graph" in table.stdout and "alpha" in table.stdout


@pytest.mark.parametrize("kind", STORES)
def test_verify_and_fork(tmp_path: Path, kind: str) -> None:
    store = Store(kind, tmp_path)
    v1 = write_graph(tmp_path, "v1", V1)
    history = populate(store, v1)
    events = store.read("t1")

    intact = lograph("verify", *store.spelled)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.count("ok ") == 2 and "2 of 2 thread(s) verified" in intact.stdout
    same_code = lograph("verify", store.arg, "t1", "--graph", f"{v1}:build")
    assert same_code.returncode == 0 and "replays as the graph's code decides" in same_code.stdout

    changed = lograph("verify", store.arg, "t1", "--json", "--graph", f"{write_graph(tmp_path, 'v2', V2)}:build")
    assert changed.returncode == 1, changed.stderr
    [verdict] = [json.loads(line) for line in changed.stdout.splitlines()]
    divergence = verdict["divergence"]
    ask_writes = next(e for e in events if e.kind == Kind.NODE_WRITES and e.step == divergence["step"])
    assert divergence["seq"] == ask_writes.seq and "conditional edge of 'ask'" in divergence["what"]
    assert divergence["log"] == "it went to [ship]" and divergence["code"] == "it goes to [] (END)"

    forked = lograph("fork", store.arg, "t1", "--checkpoint", before_ask(history), "--by", "dave")
    assert forked.returncode == 0, forked.stderr
    new_id = forked.stdout.strip()
    [state] = json_lines(lograph("state", store.arg, "t1", "--json"))
    assert state["checkpoint_id"] == new_id and state["next"] == ["ask"]
    assert state["metadata"]["by"] == "dave"
    assert len(store.read("t1")) == len(events) + 2  # state.updated + the fork checkpoint

    victim = events[3]
    store.execute(f"UPDATE {{events}} SET ts = ts + 1 WHERE thread = 't1' AND seq = {victim.seq}")
    edited = lograph("verify", store.arg)
    assert edited.returncode == 1
    assert f"FAIL  thread 't1', event {victim.seq} ({victim.kind}):" in edited.stdout
    assert "ok    t2:" in edited.stdout and "1 failed" in edited.stdout
    store.execute("DELETE FROM {events} WHERE thread = 't2' AND seq = 2")
    [t2] = json_lines_any(lograph("verify", store.arg, "t2", "--json"), code=1)
    assert t2["chain"][0]["seq"] == 2 and "deleted" in t2["problem"]


def json_lines_any(proc: subprocess.CompletedProcess[str], *, code: int) -> list[Any]:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    one_error_line(lograph("threads", str(missing)), 2, "no such file", "missing.db")
    one_error_line(lograph("verify", str(missing)), 2, "no such file")
    assert not missing.exists()  # a read never creates a store
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("hello")
    one_error_line(lograph("log", str(not_a_store), "t"), 2, "not a lograph store")

    store = Store("sqlite", tmp_path)
    history = populate(store, write_graph(tmp_path, "v1", V1))
    one_error_line(lograph("log", store.arg, "nope"), 2, "thread 'nope' does not exist")
    newest = history[0][0]
    wrong = newest[:-1] + ("1" if newest[-1] == "0" else "0")  # its seq, another hash
    one_error_line(lograph("state", store.arg, "t1", "--checkpoint", wrong), 2, "does not exist")
    one_error_line(lograph("fork", store.arg, "t1", "--checkpoint", "garbage"), 2, "not a lograph checkpoint id")
    one_error_line(lograph("verify", store.arg, "--graph", "no_such_module_xyz:graph"), 2, "cannot import")
    one_error_line(lograph("verify", store.arg, "--graph", f"{tmp_path / 'v1.py'}:nope"), 2, "no attribute 'nope'")
    one_error_line(lograph("verify", store.arg, "--graph", "nocolon"), 2, "MODULE:ATTRIBUTE")
    one_error_line(lograph("threads", store.arg, "--schema", "x"), 2, "postgresql://")

    usage = lograph()
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    helped = lograph("--help")
    assert helped.returncode == 0 and "Exit codes:" in helped.stdout and "130" in helped.stdout

    from tests._store_postgres import server

    dsn = f"{server().dsn}?schema=no_such_schema_{uuid.uuid4().hex[:8]}"
    one_error_line(lograph("threads", dsn), 2, "no lograph schema")


def _lines(stream: Any) -> Iterator[str]:
    yield from iter(stream.readline, "")


def test_log_follow_prints_new_events_until_interrupted(tmp_path: Path) -> None:
    store = Store("sqlite", tmp_path)
    graph_file = write_graph(tmp_path, "v1", V1)
    populate(store, graph_file)
    before = len(store.read("t2"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lograph.adapters.cli", "log", store.arg, "t2", "--follow", "--json",
         "--interval", "0.05"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in _lines(proc.stdout)], daemon=True)
    reader.start()
    try:
        seen = [json.loads(lines.get(timeout=30)) for _ in range(before)]
        assert [e["seq"] for e in seen] == list(range(1, before + 1))
        with store.saver() as saver:
            graph = load(graph_file).build().compile(checkpointer=saver)
            graph.invoke(Command(resume="no"), {"configurable": {"thread_id": "t2", "user": "erin"}})
        deadline = time.monotonic() + 30
        while seen[-1]["kind"] != Kind.RUN_FINISHED or seen[-1]["seq"] <= before:
            seen.append(json.loads(lines.get(timeout=max(deadline - time.monotonic(), 0.1))))
        assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
        resumed = [e for e in seen if e["kind"] == Kind.RESUME]
        assert resumed and resumed[0]["body"]["metadata"] == {"user": "erin"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    started = time.monotonic()
    demo = lograph("demo", "--dir", str(tmp_path), timeout=90)
    took = time.monotonic() - started
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert took < 30, took
    phases = [line.split()[0] for line in demo.stdout.splitlines() if line and not line[0].isspace()]
    story = ["store", "run", "crash", "resume", "pause", "approve", "fork", "verify", "audit"]
    assert [p for p in phases if p in story] == story, demo.stdout
    assert "SIGKILL" in demo.stdout and "none repeated" in demo.stdout
    table = demo.stdout[demo.stdout.index("seq\ttime\tstep"):].splitlines()  # ends with the timeline
    assert table[-2].split("\t")[4] == Kind.RUN_FINISHED and table[-1].startswith("done in")
    report = (tmp_path / "report.txt").read_text().splitlines()
    assert len(report) == 3 and len(set(report)) == 3  # the side effect happened once per call
    assert (tmp_path / "published" / "report.txt").read_text().splitlines() == report

    db = str(tmp_path / "demo.db")
    verified = lograph("verify", db, "--graph", "lograph.adapters._demo:build")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    [thread] = json_lines(lograph("threads", db, "--json"))
    assert (thread["thread"], thread["status"], thread["branches"]) == ("report-1", "done", 2)


def test_bench_hands_every_option_to_the_suite() -> None:
    done = lograph("bench", "--help")
    assert done.returncode == 0, done.stderr
    assert "python -m benchmarks" in done.stdout and "--compare" in done.stdout
    bad = lograph("bench", "--no-such-option")
    assert bad.returncode == 2 and "--no-such-option" in bad.stderr
