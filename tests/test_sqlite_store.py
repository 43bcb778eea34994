"""What only the SQLite store promises: the file, its schema, its errors, two processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.adapters import _sqlite_sql
from lograph.adapters.sqlite import AsyncSqliteSaver, SqliteLog, SqliteSaver
from lograph.eventlog import (
    Append,
    ConflictError,
    Event,
    MemoryLog,
    NewRun,
    SchemaVersionError,
    StoreUnavailableError,
    verify_link,
)
from lograph.eventlog.testing import chain
from lograph.runtime.lowlevel import portal

anyio_mark = pytest.mark.anyio


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def raw_query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = raw(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- the file and its schema ------------------------------------------------------------


@anyio_mark
async def test_events_and_snapshots_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    events = chain(4)
    async with await SqliteLog.open(path) as log:
        await log.append("t", events, 0)
        await log.put_snapshot("t", 3, b"fold@3")
        before = await log.threads()
    async with await SqliteLog.open(path) as log:
        assert await log.read("t") == events
        assert await log.latest_snapshot("t", 10) == (3, b"fold@3")
        assert await log.threads() == before
        await log.append("t", chain(1, start=5, parent_hash=events[-1].hash), 4)
        assert await log.head("t") == 5


@anyio_mark
async def test_schema_is_strict_versioned_and_as_specified(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path):
        pass
    async with await SqliteLog.open(path):  # a second open migrates nothing
        pass
    assert raw_query(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (_sqlite_sql.SCHEMA_VERSION,)
    ]
    tables = {row[1]: row for row in raw_query(path, "PRAGMA table_list")}
    for name in ("events", "snapshots", "meta"):
        _schema, _name, _type, _ncol, without_rowid, strict = tables[name]
        assert (without_rowid, strict) == (1, 1), name
    columns = [(r[1], r[2], r[5]) for r in raw_query(path, "PRAGMA table_info(events)")]
    assert columns == [
        ("thread", "TEXT", 1),
        ("seq", "INTEGER", 2),
        ("parent", "INTEGER", 0),
        ("kind", "TEXT", 0),
        ("run_id", "TEXT", 0),
        ("step", "INTEGER", 0),
        ("task_id", "TEXT", 0),
        ("ns", "TEXT", 0),
        ("ts", "REAL", 0),
        ("body", "BLOB", 0),
        ("hash", "BLOB", 0),
    ]
    snap_columns = [(r[1], r[2], r[5]) for r in raw_query(path, "PRAGMA table_info(snapshots)")]
    assert snap_columns == [("thread", "TEXT", 1), ("seq", "INTEGER", 2), ("data", "BLOB", 0)]


@anyio_mark
async def test_a_version_1_file_is_migrated_and_its_events_read_the_same(tmp_path: Path) -> None:
    """Schema 2 only allows compressed bodies, schema 3 adds run records, schema 4 an
    index of a thread's runs, schema 5 a run's graph: a version 1 file's rows read
    unchanged, and its new tables work."""
    path = tmp_path / "store.db"
    events = chain(3)
    async with await SqliteLog.open(path) as log:
        await log.append("t", events, 0)
    conn = raw(path)
    conn.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    conn.execute("DROP TABLE runs")  # what version 1 did not have
    conn.commit()
    conn.close()
    async with await SqliteLog.open(path) as log:
        assert await log.read("t") == events
        await log.append("t", chain(1, start=4, parent_hash=events[-1].hash), 3)
        await log.create_run(NewRun("r1", "t", b"input"))
        assert [r.run_id for r in await log.list_runs()] == ["r1"]
    assert raw_query(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (_sqlite_sql.SCHEMA_VERSION,)]


@anyio_mark
async def test_a_version_4_file_is_migrated_and_its_runs_go_on(tmp_path: Path) -> None:
    """Schema 5 names a run's graph: a version 4 file's runs read back with no graph
    (any worker's), and are claimed, listed and finished as before; new runs name theirs."""
    from lograph.adapters import _sqlite_runs

    path = tmp_path / "store.db"
    conn = raw(path)
    conn.execute(_sqlite_sql._META)
    for step in _sqlite_sql.MIGRATIONS[:4]:
        for statement in step:
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', 4)")
    conn.execute(
        "INSERT INTO runs (run_id, thread, status, input, config, durability, strategy, "
        "metadata, created, updated, attempts, first_seq) VALUES "
        "('old', 't', 'pending', x'a0', x'', 'sync', 'enqueue', '{\"user\": \"ann\"}', 1.0, 1.0, 0, 0)")
    conn.commit()
    conn.close()
    assert _sqlite_runs.MIGRATION_GRAPH == _sqlite_sql.MIGRATIONS[4]
    async with await SqliteLog.open(path) as log:
        (old,) = await log.list_runs()
        assert (old.run_id, old.graph, old.metadata, old.status) == ("old", None, {"user": "ann"}, "pending")
        await log.create_run(NewRun("new", "t2", b"\xa0", graph="g"))
        assert [r.run_id for r in await log.list_runs(graph="g")] == ["new"]
        claimed = await log.claim_run("w", 30, graph="g", limit=1)
        assert claimed is not None and (claimed[0].run_id, claimed[0].graph) == ("old", "g")
        await log.finish_run(claimed[1], "success")
    assert raw_query(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (_sqlite_sql.SCHEMA_VERSION,)]


@anyio_mark
async def test_large_bodies_and_snapshots_are_stored_compressed(tmp_path: Path) -> None:
    from lograph.eventlog import encode

    path = tmp_path / "store.db"
    prose = encode({"content": "the model answered at some length " * 30}, path="x")
    events = chain(2, body=lambda seq: prose if seq == 1 else b"\xa0")
    async with await SqliteLog.open(path) as log:
        await log.append("t", events, 0)
        await log.put_snapshot("t", 2, prose)
        assert await log.read("t") == events
        assert await log.latest_snapshot("t", 2) == (2, prose)
    (stored, small), = [tuple(r[0] for r in raw_query(path, "SELECT body FROM events ORDER BY seq"))]
    assert stored[0] == 0xFF and len(stored) < len(prose) // 2 and small == b"\xa0"
    (data,), = raw_query(path, "SELECT data FROM snapshots")
    assert data[0] == 0xFF and len(data) < len(prose) // 2


@anyio_mark
async def test_a_newer_schema_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path) as log:
        await log.append("t", chain(2), 0)
    conn = raw(path)
    conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    conn.close()

    with pytest.raises(SchemaVersionError, match="schema version 99") as info:
        await SqliteLog.open(path)
    assert f"up to {_sqlite_sql.SCHEMA_VERSION}" in str(info.value)
    assert "newer lograph" in str(info.value)
    assert str(path) in str(info.value)
    assert raw_query(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(99,)]
    assert raw_query(path, "SELECT count(*) FROM events") == [(2,)]


@anyio_mark
async def test_an_unreadable_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path):
        pass
    conn = raw(path)
    conn.execute("UPDATE meta SET value = 'two' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(SchemaVersionError, match="'two'"):
        await SqliteLog.open(path)


@anyio_mark
async def test_a_database_lograph_did_not_make_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw(path)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")
    conn.close()
    with pytest.raises(StoreUnavailableError, match="not made by lograph"):
        await SqliteLog.open(path)
    assert raw_query(path, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("events",)]


@anyio_mark
async def test_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path) as log:
        await log.append("t", chain(1), 0)
        assert await anyio.Path(f"{path}-wal").exists()
        assert await log._call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert raw_query(path, "PRAGMA journal_mode") == [("wal",)]


@anyio_mark
@pytest.mark.parametrize(
    ("mode", "value"), [("FULL", 2), ("NORMAL", 1), ("normal", 1), ("OFF", 0), ("EXTRA", 3)]
)
async def test_synchronous_is_applied(tmp_path: Path, mode: str, value: int) -> None:
    async with await SqliteLog.open(tmp_path / "store.db", synchronous=mode) as log:
        assert await log._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == value


@anyio_mark
async def test_synchronous_defaults_to_full(tmp_path: Path) -> None:
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        assert await log._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2


@anyio_mark
async def test_bad_options_are_refused_before_any_io(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with pytest.raises(ValueError, match=r"synchronous='fast'.*FULL"):
        await SqliteLog.open(path, synchronous="fast")
    with pytest.raises(ValueError, match="busy_timeout=-1"):
        await SqliteLog.open(path, busy_timeout=-1)
    with pytest.raises(ValueError, match="synchronous"):
        SqliteSaver.from_conn_string(path, synchronous="sometimes")
    assert not path.exists()


@anyio_mark
async def test_in_memory_store_works(tmp_path: Path) -> None:
    events = chain(3)
    async with await SqliteLog.open(":memory:") as log:
        await log.append("t", events, 0)
        assert await log.read("t") == events


@anyio_mark
async def test_a_closed_log_says_so(tmp_path: Path) -> None:
    log = await SqliteLog.open(tmp_path / "store.db")
    await log.aclose()
    with pytest.raises(StoreUnavailableError, match="closed"):
        await log.head("t")
    with pytest.raises(StoreUnavailableError, match="closed"):
        await log.append("t", chain(1), 0)


# --- errors that name the path and what to do ------------------------------------------


@anyio_mark
async def test_a_missing_directory_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "store.db"
    with pytest.raises(StoreUnavailableError, match="directory") as info:
        await SqliteLog.open(path)
    assert str(path) in str(info.value)
    assert str(path.parent) in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert not path.parent.exists()


@anyio_mark
async def test_a_directory_path_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="not a directory"):
        await SqliteLog.open(tmp_path)


@anyio_mark
async def test_a_read_only_store_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path) as log:
        await log.append("t", chain(1), 0)
    uri = f"file:{path}?mode=ro"
    with pytest.raises(StoreUnavailableError, match="read-only") as info:
        await SqliteLog.open(uri)
    assert uri in str(info.value)
    assert "writable" in str(info.value)
    assert raw_query(path, "SELECT count(*) FROM events") == [(1,)]


@anyio_mark
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file modes")
async def test_a_read_only_file_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path):
        pass
    path.chmod(0o444)
    try:
        with pytest.raises(StoreUnavailableError, match=r"read-only|cannot open"):
            await SqliteLog.open(path)
    finally:
        path.chmod(0o644)


@anyio_mark
async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    junk = b"these are my notes, not a database\n" * 300
    path.write_bytes(junk)
    with pytest.raises(StoreUnavailableError, match="not a readable SQLite database"):
        await SqliteLog.open(path)
    assert path.read_bytes() == junk


@anyio_mark
async def test_a_held_write_lock_becomes_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    events = chain(2)
    async with await SqliteLog.open(path, busy_timeout=0.3) as log:
        # SQLite itself never waits (lograph does, on the driver's thread: see retrying)
        assert await log._call(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 0
        holder = raw(path)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="locked by another connection") as info:
                await log.append("t", events, 0)
            assert time.monotonic() - started >= 0.25
            assert "busy_timeout" in str(info.value)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert await log.head("t") == 0
        await log.append("t", events, 0)
        assert await log.read("t") == events


@anyio_mark
async def test_a_write_lock_released_in_time_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path, busy_timeout=5) as log:
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, lambda: (holder.execute("COMMIT"), holder.close()))
        release.start()
        try:
            started = time.monotonic()
            await log.append("t", chain(1), 0)
            assert time.monotonic() - started >= 0.15
        finally:
            release.join()
        assert await log.head("t") == 1


@anyio_mark
async def test_a_cancelled_append_leaves_the_store_consistent(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    events = chain(2)
    async with await SqliteLog.open(path, busy_timeout=5) as log:
        holder = raw(path)
        holder.execute("BEGIN IMMEDIATE")
        with anyio.move_on_after(0.2) as scope:
            await log.append("t", events, 0)
        holder.execute("ROLLBACK")
        holder.close()
        assert scope.cancelled_caught
        # The transaction ran to its end (committed or not) on the driver's thread.
        head = await log.head("t")
        assert head in (0, 2)
        assert await log.read("t") == events[:head]
        assert await log._call(lambda c: c.in_transaction) is False
        more = chain(1, start=head + 1, parent_hash=events[head - 1].hash if head else b"\x00" * 32)
        await log.append("t", more, head)
        assert await log.head("t") == head + 1


@anyio_mark
async def test_primary_key_backstop_turns_into_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.db"
    async with await SqliteLog.open(path) as log:
        stray = chain(2, run_id="b")
        await log.append("b", stray, 0)
        conn = raw(path)
        conn.execute("DELETE FROM events WHERE thread = 'b' AND seq = 1")  # b holds seq 2 only
        conn.close()
        # A head check that lies: only the primary key can stop item b, at its 2nd row,
        # and the row it already inserted (seq 1) must be undone with it.
        monkeypatch.setattr(_sqlite_sql, "_head", lambda conn, thread: 0)
        a, b, c = chain(1, run_id="a"), chain(3, run_id="late"), chain(2, run_id="c")
        results = await log.append_batch(
            [Append("a", tuple(a), 0), Append("b", tuple(b), 0), Append("c", tuple(c), 0)]
        )
        monkeypatch.undo()
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ConflictError) and results[1].thread == "b"
        assert await log.read("a") == a
        assert await log.read("b") == stray[1:]
        assert await log.read("c") == c


@anyio_mark
async def test_a_failed_transaction_writes_nothing_and_the_store_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_head = _sqlite_sql.head_event

    def head(conn: sqlite3.Connection, thread: str) -> tuple[int, bytes]:
        if thread == "b":
            raise OSError("injected: the disk went away")
        return real_head(conn, thread)

    a = chain(2, run_id="a")
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        monkeypatch.setattr(_sqlite_sql, "head_event", head)
        with pytest.raises(OSError, match="injected"):
            await log.append_batch([Append("a", tuple(a), 0), Append("b", tuple(chain(1)), 0)])
        monkeypatch.undo()
        assert await log._call(lambda c: c.in_transaction) is False
        assert await log.read("a") == []
        await log.append("a", a, 0)
        assert await log.read("a") == a


def test_retrying_retries_busy_until_its_deadline() -> None:
    class Flaky:
        """Answers SQLITE_BUSY ``busy`` times, then succeeds."""

        def __init__(self, busy: int, code: int = 5) -> None:
            self.busy, self.code, self.calls = busy, code, 0

        def __call__(self) -> str:
            self.calls += 1
            if self.calls <= self.busy:
                e = sqlite3.OperationalError("database is locked")
                e.sqlite_errorcode = self.code  # type: ignore[attr-defined]
                raise e
            return "done"

    flaky = Flaky(busy=4)
    assert _sqlite_sql.retrying(5.0, flaky) == "done"
    assert flaky.calls == 5

    stuck = Flaky(busy=10**9)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _sqlite_sql.retrying(0.2, stuck)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert stuck.calls > 3

    broken = Flaky(busy=10**9, code=10)  # SQLITE_IOERR: not retried
    with pytest.raises(sqlite3.OperationalError):
        _sqlite_sql.retrying(5.0, broken)
    assert broken.calls == 1


@anyio_mark
async def test_a_field_of_the_wrong_type_fails_its_item_only(tmp_path: Path) -> None:
    bad = Event(1, 0, "node.writes", "", 0, "", "", 1.0, "a str body", b"\x00" * 32)  # type: ignore[arg-type]
    good = chain(1)
    async with await SqliteLog.open(tmp_path / "store.db") as log:
        results = await log.append_batch([Append("bad", (bad,), 0), Append("good", tuple(good), 0)])
        assert isinstance(results[0], ValueError) and "wrong type" in str(results[0])
        assert results[1] is None
        assert await log.read("bad") == []
        assert await log.read("good") == good


# --- two processes on one file -----------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import os, sys, time
    import anyio
    from lograph.adapters.sqlite import SqliteLog
    from lograph.eventlog import GENESIS, ConflictError, make_event

    path, mode, name, count, go, backend = sys.argv[1:]
    count = int(count)

    def event(prev, seq, tag):
        return make_event(prev, seq=seq, parent=seq - 1, kind="node.writes", run_id=tag, ts=time.time(), body=tag.encode())

    async def main():
        async with await SqliteLog.open(path, busy_timeout=60) as log:
            print("ready", flush=True)
            while not os.path.exists(go):
                await anyio.sleep(0.001)
            if mode == "own-thread":
                prev, head = GENESIS, 0
                for _ in range(count):
                    batch = []
                    for seq in range(head + 1, head + 4):
                        batch.append(event(prev, seq, name))
                        prev = batch[-1].hash
                    await log.append(name, batch, head)
                    head += 3
                print("done", head, flush=True)
            elif mode == "race":
                try:
                    await log.append("shared", [event(GENESIS, 1, name)], 0)
                except ConflictError:
                    print("conflict", flush=True)
                else:
                    print("won", flush=True)
            elif mode == "retry":
                conflicts = 0
                for _ in range(count):
                    while True:
                        head = await log.head("shared")
                        prev = (await log.read("shared", after=head - 1))[-1].hash if head else GENESIS
                        try:
                            await log.append("shared", [event(prev, head + 1, name)], head)
                            break
                        except ConflictError:
                            conflicts += 1
                print("done", conflicts, flush=True)

    try:
        anyio.run(main, backend=backend)
    except BaseException as e:
        print("error", type(e).__module__, type(e).__name__, e, flush=True)
        sys.exit(1)
    """
)


# The workers already run one on asyncio and one on trio; the test's own loop only
# waits for them, so one backend is enough.
def one_backend(test: Callable[..., Any]) -> Callable[..., Any]:
    return pytest.mark.anyio(pytest.mark.parametrize("anyio_backend", ["asyncio"])(test))


def run_two(tmp_path: Path, path: Path, mode: str, count: int) -> list[str]:
    """Start two worker processes (one asyncio, one trio), release them together."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), mode, name, str(count), str(go), backend],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, backend in (("p-asyncio", "asyncio"), ("p-trio", "trio"))
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == "ready", line + proc.stderr.read() if proc.stderr else line
        go.touch()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, out + err
            assert "sqlite3" not in out + err, out + err
            outputs.append(out.strip())
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@one_backend
async def test_two_processes_append_to_different_threads(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with await SqliteLog.open(path):
        pass  # create the schema once, so both workers only append
    outputs = await anyio.to_thread.run_sync(run_two, tmp_path, path, "own-thread", 150)
    assert outputs == ["done 450", "done 450"]
    async with await SqliteLog.open(path) as log:
        infos = {i.thread: (i.head, i.events) for i in await log.threads()}
        assert infos == {"p-asyncio": (450, 450), "p-trio": (450, 450)}
        for name in infos:
            events = await log.read(name)
            assert [e.seq for e in events] == list(range(1, 451))
            assert {e.run_id for e in events} == {name}


@one_backend
async def test_two_processes_one_head_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    outputs = await anyio.to_thread.run_sync(run_two, tmp_path, path, "race", 1)
    assert sorted(outputs) == ["conflict", "won"]
    winner = ["p-asyncio", "p-trio"][outputs.index("won")]
    async with await SqliteLog.open(path) as log:
        events = await log.read("shared")
        assert [(e.seq, e.run_id) for e in events] == [(1, winner)]


@one_backend
async def test_two_processes_racing_on_one_thread_keep_its_chain(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    outputs = await anyio.to_thread.run_sync(run_two, tmp_path, path, "retry", 100)
    assert all(out.startswith("done ") for out in outputs), outputs
    async with await SqliteLog.open(path) as log:
        events = await log.read("shared")
    assert [e.seq for e in events] == list(range(1, 201))
    assert sorted(e.run_id for e in events) == ["p-asyncio"] * 100 + ["p-trio"] * 100
    prev = b"\x00" * 32
    for e in events:
        assert verify_link(e, prev), e.seq
        prev = e.hash


# --- the saver -----------------------------------------------------------------------


def test_sync_with_form_from_plain_sync_code(tmp_path: Path) -> None:
    path = tmp_path / "sync.db"
    events = chain(2)
    with SqliteSaver.from_conn_string(path) as saver:
        assert isinstance(saver, SqliteSaver)
        saver.setup()
        saver.setup()
        portal().call(saver.log.append, "t", events, 0)
        assert portal().call(saver.log.read, "t") == events
        saver.delete_thread("never-existed")
        # A trio program can use a store the sync facade opened: the bridge carries calls.
        assert anyio.run(saver.log.head, "t", backend="trio") == 2
    assert repr(saver.log).endswith("closed>")
    saver.close()  # twice is fine

    with SqliteSaver.from_conn_string(str(path), synchronous="NORMAL") as again:
        assert portal().call(again.log.read, "t") == events
        again.delete_thread("t")
        assert portal().call(again.log.head, "t") == 0


def test_a_from_conn_string_context_is_entered_once(tmp_path: Path) -> None:
    opener = SqliteSaver.from_conn_string(tmp_path / "once.db")
    with opener:
        pass
    with pytest.raises(RuntimeError, match="entered once"), opener:
        pass


@anyio_mark
async def test_sync_with_form_inside_an_event_loop_opens_the_store(tmp_path: Path) -> None:
    # as in a notebook cell: it opens on the sync facade's loop, and this loop waits
    with SqliteSaver.from_conn_string(tmp_path / "x.db") as saver:
        assert not saver.drives_this_loop()
        assert saver.get_tuple({"configurable": {"thread_id": "t"}}) is None
    assert (tmp_path / "x.db").exists()


@anyio_mark
async def test_async_with_form(tmp_path: Path) -> None:
    path = tmp_path / "async.db"
    assert AsyncSqliteSaver is SqliteSaver
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await saver.asetup()
        await saver.asetup()
        prepared = {f"thread-{i}": chain(3, run_id=str(i)) for i in range(20)}
        async with anyio.create_task_group() as tg:
            for thread, events in prepared.items():
                tg.start_soon(saver.writer.commit, thread, events, 0)
        assert saver.writer.appends == 20
        assert 1 <= saver.writer.transactions <= 20
        for thread, events in prepared.items():
            assert await saver.log.read(thread) == events
        await saver.adelete_thread("thread-0")
        assert await saver.log.head("thread-0") == 0
    assert repr(saver.log).endswith("closed>")
    async with await SqliteLog.open(path) as log:
        assert len(await log.threads()) == 19


@anyio_mark
async def test_saver_wraps_an_opened_log(tmp_path: Path) -> None:
    log = await SqliteLog.open(tmp_path / "store.db")
    async with SqliteSaver(log, snapshot_every=10) as saver:
        assert saver.log is log and saver.snapshot_every == 10
        await saver.log.append("t", chain(1), 0)
    assert repr(log).endswith("closed>")
    with pytest.raises(TypeError, match="from_conn_string"):
        SqliteSaver(MemoryLog())  # type: ignore[arg-type]
