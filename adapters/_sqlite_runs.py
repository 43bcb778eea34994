"""The SQLite store's runs tier: plain functions of a ``sqlite3.Connection`` (see ``_runs``).

Writes run inside the adapter's ``BEGIN IMMEDIATE`` transaction (``_sqlite_sql.write``),
which holds SQLite's write lock: a claim reads the queue and takes its run (a lease row:
token and expiry) with no other writer in between, and an append's fence check
(:func:`fence`) runs in the append's own transaction. Times are this machine's clock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from lograph.eventlog import (
    Lease,
    LeaseLostError,
    NewRun,
    RunBusyError,
    RunEnd,
    RunExistsError,
    RunRecord,
)
from lograph.eventlog.lowlevel import (
    ROW_COLUMNS,
    STALE,
    check_end,
    check_filters,
    check_lease_seconds,
    check_stop,
    metadata_json,
    new_token,
    run_of_row,
)

#: the migration that adds the tier (schema version 3)
MIGRATION = (
    """CREATE TABLE runs (
        ord           INTEGER PRIMARY KEY,  -- creation order: a thread's runs are claimed by it
        run_id        TEXT    NOT NULL UNIQUE,
        thread        TEXT    NOT NULL,
        status        TEXT    NOT NULL,
        input         BLOB    NOT NULL,
        config        BLOB    NOT NULL,
        durability    TEXT    NOT NULL,
        strategy      TEXT    NOT NULL,
        idem          TEXT,
        metadata      TEXT    NOT NULL,
        created       REAL    NOT NULL,
        updated       REAL    NOT NULL,
        started       REAL,
        finished      REAL,
        attempts      INTEGER NOT NULL,
        worker        TEXT,
        token         TEXT,
        lease_expires REAL,
        stop          TEXT,
        result        BLOB,
        error         TEXT,
        first_seq     INTEGER NOT NULL,
        timeout       REAL
    ) STRICT""",
    "CREATE UNIQUE INDEX runs_idem ON runs (thread, idem) WHERE idem IS NOT NULL",
    "CREATE INDEX runs_active ON runs (thread, ord) WHERE status IN ('pending', 'running')",
    # the backstop of "one running run per thread"
    "CREATE UNIQUE INDEX runs_running ON runs (thread) WHERE status = 'running'",
    "CREATE INDEX runs_created ON runs (created)",
)

#: schema version 4
MIGRATION_THREAD_ORDER = ("CREATE INDEX runs_thread ON runs (thread, ord)",)

#: schema version 5: the name of the graph a run is for (NULL: any worker's), by which
#: claims under a limit count the graph's running runs
MIGRATION_GRAPH = (
    "ALTER TABLE runs ADD COLUMN graph TEXT",
    "CREATE INDEX runs_graph ON runs (graph, status) WHERE graph IS NOT NULL",
)

_COLUMNS = ", ".join(ROW_COLUMNS)
_SELECT = f"SELECT {_COLUMNS} FROM runs"
_ACTIVE = "status IN ('pending', 'running')"


_record = run_of_row

# An in-process run on a thread with no active run, taken at once (first_seq: the head).
_ENTER_IDLE = (
    "INSERT INTO runs (run_id, thread, status, input, config, durability, strategy, metadata, "
    "created, updated, started, attempts, first_seq, worker, token, lease_expires) "
    "SELECT ?, ?, 'running', x'', ?, ?, ?, ?, ?, ?, ?, 1, "
    "(SELECT coalesce(max(seq), 0) FROM events WHERE thread = ?), ?, ?, ? "
    f"WHERE NOT EXISTS (SELECT 1 FROM runs WHERE thread = ? AND {_ACTIVE}) "
    f"RETURNING {_COLUMNS}")
_HEAD_HASH = "SELECT hash FROM events WHERE thread = ? AND seq = ?"
_HEAD = "SELECT seq, hash FROM events WHERE thread = ? ORDER BY seq DESC LIMIT 1"


#: whether a run may start on a thread now (``claim``, ``enter``, ``take``)
Free = Callable[[str], bool]


def _anyway(thread: str) -> bool:
    return True


def turn_view(conn: sqlite3.Connection, thread: str) -> tuple[int, bytes] | None:
    """For a plain run that holds ``thread``'s turn: the thread's head (seq, hash), its
    first read; None if the thread has an active run (it queues behind it then)."""
    row = conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM runs WHERE thread = ? AND {_ACTIVE}), h.seq, h.hash "
        "FROM (SELECT 1) LEFT JOIN (SELECT seq, hash FROM events WHERE thread = ? "
        "ORDER BY seq DESC LIMIT 1) AS h", (thread, thread)).fetchone()
    if row[0]:
        return None
    return (0, b"") if row[1] is None else (int(row[1]), bytes(row[2]))


def _get(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    row = conn.execute(f"{_SELECT} WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else _record(row)


def create(conn: sqlite3.Connection, new: NewRun) -> tuple[RunRecord, bool]:
    """In a write transaction (the checks of ``check_new_run`` already passed)."""
    if new.idempotency_key is not None:
        row = conn.execute(f"{_SELECT} WHERE thread = ? AND idem = ?",
                           (new.thread, new.idempotency_key)).fetchone()
        if row is not None:
            return _record(row), False
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (new.run_id,)).fetchone():
        raise RunExistsError(new.run_id)
    active = conn.execute(
        f"SELECT run_id FROM runs WHERE thread = ? AND {_ACTIVE} ORDER BY ord LIMIT 1",
        (new.thread,)).fetchone()
    if active is not None and new.strategy == "reject":
        raise RunBusyError(new.thread, active[0])
    now = time.time()
    if new.strategy in ("interrupt", "rollback"):
        conn.execute("UPDATE runs SET stop = ?, updated = ? WHERE thread = ? AND "
                     "status = 'running' AND stop IS NULL", (new.strategy, now, new.thread))
    conn.execute(
        "INSERT INTO runs (run_id, thread, status, input, config, durability, strategy, idem, "
        "metadata, created, updated, attempts, first_seq, timeout, graph) "
        "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
        (new.run_id, new.thread, new.input, new.config, new.durability, new.strategy,
         new.idempotency_key, metadata_json(new.metadata), now, now, new.timeout, new.graph))
    found = _get(conn, new.run_id)
    assert found is not None
    return found, True


def get(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    return _get(conn, run_id)


def list_runs(
    conn: sqlite3.Connection, thread: str | None, status: str | Iterable[str] | None,
    since: float | None, until: float | None, metadata: Mapping[str, Any] | None, limit: int,
    graph: str | None = None,
) -> list[RunRecord]:
    wanted = check_filters(status, limit)
    where: list[str] = []
    args: list[Any] = []
    if thread is not None:
        where.append("thread = ?")
        args.append(thread)
    if graph is not None:
        where.append("graph = ?")
        args.append(graph)
    if wanted is not None:
        where.append(f"status IN ({', '.join('?' * len(wanted))})")
        args += wanted
    if since is not None:
        where.append("created >= ?")
        args.append(since)
    if until is not None:
        where.append("created < ?")
        args.append(until)
    for key, value in json.loads(metadata_json(metadata or {})).items():
        # the JSON type as well as the value: 1, true and "1" are three values
        where.append("json_type(metadata, ?) = ? AND json_extract(metadata, ?) = ?")
        path = "$." + json.dumps(key)
        kind = ("true" if value else "false") if isinstance(value, bool) else \
            "integer" if isinstance(value, int) else "real" if isinstance(value, float) else "text"
        args += [path, kind, path, value]
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ord DESC LIMIT ?"
    return [_record(row) for row in conn.execute(sql, (*args, limit))]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {s: int(n) for s, n in conn.execute("SELECT status, count(*) FROM runs GROUP BY status")}


def claim(conn: sqlite3.Connection, worker: str, seconds: float, limit: int | None = None,
          graph: str | None = None, free: Free = _anyway) -> tuple[RunRecord, Lease] | None:
    """In a write transaction: the oldest run (of ``graph`` or of none, when given) that
    is its thread's oldest active run and is pending or has an expired lease, taken for
    ``seconds`` (none while ``limit`` runs, of ``graph`` when given, run under unexpired
    leases). ``free(thread)``: whether a run may start on ``thread`` (its turn is free,
    and now held until the transaction ends: ``_turns``)."""
    check_lease_seconds(seconds)
    now = time.time()
    _end_stale(conn, None, now)
    if limit is not None and conn.execute(
            "SELECT count(*) FROM runs WHERE status = 'running' AND lease_expires > ? "
            "AND input <> x'' AND (? IS NULL OR graph = ?)",
            (now, graph, graph)).fetchone()[0] >= limit:
        return None
    candidates = conn.execute(
        f"SELECT r.run_id, r.thread, r.attempts FROM runs r WHERE r.{_ACTIVE} "
        "AND r.ord = (SELECT min(o.ord) FROM runs o WHERE o.thread = r.thread AND "
        f"o.{_ACTIVE}) AND (r.status = 'pending' OR r.lease_expires <= ?) "
        "AND r.input <> x'' "  # (an in-process run: its caller's)
        "AND (? IS NULL OR r.graph IS NULL OR r.graph = ?) ORDER BY r.ord",
        (now, graph, graph))
    # the oldest whose thread's turn no plain run holds (``_turns``)
    row = next((found for found in candidates if free(found[1])), None)
    candidates.close()
    if row is None:
        return None
    run_id, thread, attempts = row
    token = new_token()
    first_seq = digest = None
    if attempts == 0:  # the run's events start after the thread's head now (its first read)
        head = conn.execute(_HEAD, (thread,)).fetchone()
        first_seq, digest = (0, b"") if head is None else (head[0], bytes(head[1]))
    conn.execute(
        "UPDATE runs SET status = 'running', worker = ?, token = ?, lease_expires = ?, "
        "updated = ?, started = coalesce(started, ?), attempts = attempts + 1, "
        "first_seq = coalesce(?, first_seq), graph = coalesce(graph, ?) WHERE run_id = ?",
        (worker, token, now + seconds, now, now, first_seq, graph, run_id))
    found = _get(conn, run_id)
    assert found is not None
    if digest is not None:
        found = replace(found, head_hash=digest)
    prior = conn.execute(
        "SELECT stop, first_seq FROM runs WHERE thread = ? AND ord < ? ORDER BY ord DESC "
        "LIMIT 1", (thread, found.order)).fetchone()
    if prior is not None and prior[0] == "rollback":
        found = replace(found, prior_rollback=int(prior[1]))
    if conn.execute(  # a run a worker of the graph would take (not an in-process place)
            "SELECT 1 FROM runs WHERE status = 'pending' AND input <> x'' "
            "AND (? IS NULL OR graph IS NULL OR graph = ?) LIMIT 1", (graph, graph)).fetchone():
        found = replace(found, queued=True)
    return found, Lease(run_id, token)


def _held(conn: sqlite3.Connection, lease: Lease, now: float | None) -> RunRecord:
    """The run ``lease`` holds (unexpired at ``now``, unless None); LeaseLostError if not."""
    row = conn.execute("SELECT token, status, lease_expires FROM runs WHERE run_id = ?",
                       (lease.run_id,)).fetchone()
    if row is None or row[0] != lease.token or row[1] != "running":
        raise LeaseLostError(lease.run_id, "another worker claimed it, or it ended")
    if now is not None and not row[2] > now:
        raise LeaseLostError(lease.run_id, "its lease expired")
    found = _get(conn, lease.run_id)
    assert found is not None
    return found


def fence(conn: sqlite3.Connection, lease: Lease) -> LeaseLostError | None:
    """An append's fence, inside its transaction: None if ``lease`` still holds its run."""
    row = conn.execute(
        "SELECT 1 FROM runs WHERE run_id = ? AND token = ? AND status = 'running' "
        "AND lease_expires > ?", (lease.run_id, lease.token, time.time())).fetchone()
    return None if row is not None else LeaseLostError(
        lease.run_id, "its lease expired, another worker claimed it, or it ended")


def renew(conn: sqlite3.Connection, lease: Lease, seconds: float) -> RunRecord:
    check_lease_seconds(seconds)
    now = time.time()
    _held(conn, lease, now)
    conn.execute("UPDATE runs SET lease_expires = ?, updated = ? WHERE run_id = ?",
                 (now + seconds, now, lease.run_id))
    found = _get(conn, lease.run_id)
    assert found is not None
    return found


def finish(conn: sqlite3.Connection, lease: Lease, status: str, result: bytes | None,
           error: str | None) -> tuple[RunRecord, bool]:
    """The ended run, and whether a run waits (pending) to be claimed."""
    check_end(status)
    _held(conn, lease, None)  # a claim changes the token: the old one finishes nothing
    now = time.time()
    conn.execute(
        "UPDATE runs SET status = ?, result = ?, error = ?, finished = ?, updated = ?, "
        "token = NULL, lease_expires = NULL WHERE run_id = ?",
        (status, result, error, now, now, lease.run_id))
    found = _get(conn, lease.run_id)
    assert found is not None
    waits = conn.execute("SELECT 1 FROM runs WHERE status = 'pending' LIMIT 1").fetchone()
    return found, waits is not None


def end(conn: sqlite3.Connection, lease: Lease, ended: RunEnd) -> tuple[RunRecord, bool]:
    """Inside an append's transaction whose fence ``lease`` passed (``Append.ends_run``):
    as :func:`finish`."""
    now = time.time()
    row = conn.execute(
        "UPDATE runs SET status = ?, result = ?, error = ?, finished = ?, updated = ?, "
        f"token = NULL, lease_expires = NULL WHERE run_id = ? RETURNING {_COLUMNS}",
        (ended.status, ended.result, ended.error, now, now, lease.run_id)).fetchone()
    waits = conn.execute("SELECT 1 FROM runs WHERE status = 'pending' LIMIT 1").fetchone()
    return _record(row), waits is not None


def stop(conn: sqlite3.Connection, run_id: str, what: str) -> RunRecord | None:
    check_stop(what)
    now = time.time()
    conn.execute(
        "UPDATE runs SET status = 'cancelled', stop = ?, finished = ?, updated = ? "
        "WHERE run_id = ? AND status = 'pending'", (what, now, now, run_id))
    conn.execute(
        "UPDATE runs SET stop = ?, updated = ? WHERE run_id = ? AND status = 'running' "
        "AND stop IS NULL", (what, now, run_id))
    return _get(conn, run_id)


def _end_stale(conn: sqlite3.Connection, thread: str | None, now: float) -> None:
    """End the in-process runs (of ``thread``, or all) whose lease expired."""
    conn.execute(
        "UPDATE runs SET status = CASE status WHEN 'pending' THEN 'cancelled' ELSE 'error' END, "
        "error = ?, finished = ?, updated = ?, token = NULL, lease_expires = NULL "
        f"WHERE {_ACTIVE} AND input = x'' AND lease_expires <= ?"
        + ("" if thread is None else " AND thread = ?"),
        (STALE, now, now, now) + (() if thread is None else (thread,)))


def enter(conn: sqlite3.Connection, new: NewRun, holder: str, seconds: float,
          free: Free = _anyway) -> tuple[RunRecord, Lease]:
    """In a write transaction (``check_new_run(new, in_process=True)`` already passed).
    On an idle thread (the common case) one insert takes the run, and the thread's head
    is read in the same transaction (``head_hash``)."""
    check_lease_seconds(seconds)
    now = time.time()
    lease = Lease(new.run_id, new_token())
    if new.idempotency_key is None and free(new.thread):
        try:
            row = conn.execute(_ENTER_IDLE, (
                new.run_id, new.thread, new.config, new.durability, new.strategy,
                metadata_json(new.metadata), now, now, now, new.thread, holder, lease.token,
                now + seconds, new.thread)).fetchone()
        except sqlite3.IntegrityError:  # a run id already there: the slow path says so
            row = None
        if row is not None:
            taken = _record(row)
            digest = conn.execute(_HEAD_HASH, (new.thread, taken.first_seq)).fetchone()
            return replace(taken, head_hash=b"" if digest is None else bytes(digest[0])), lease
    _end_stale(conn, new.thread, now)
    create(conn, new)
    conn.execute("UPDATE runs SET worker = ?, token = ?, lease_expires = ? WHERE run_id = ?",
                 (holder, lease.token, now + seconds, new.run_id))
    return take(conn, lease, seconds, free), lease


def take(conn: sqlite3.Connection, lease: Lease, seconds: float, free: Free = _anyway,
         ) -> RunRecord:
    """In a write transaction: renew an in-process run's lease; take it if its turn came."""
    check_lease_seconds(seconds)
    found = _get(conn, lease.run_id)
    if found is not None and found.done:
        return found
    now = time.time()
    row = conn.execute("SELECT token, lease_expires FROM runs WHERE run_id = ?",
                       (lease.run_id,)).fetchone()
    if row is None or row[0] != lease.token:
        raise LeaseLostError(lease.run_id, "it ended or was dropped")
    if not row[1] > now:
        raise LeaseLostError(lease.run_id, "its lease expired")
    assert found is not None
    if found.status == "pending":
        _end_stale(conn, found.thread, now)
        first = conn.execute(f"SELECT run_id FROM runs WHERE thread = ? AND {_ACTIVE} "
                             "ORDER BY ord LIMIT 1", (found.thread,)).fetchone()
        if first[0] == lease.run_id and free(found.thread):
            conn.execute(
                "UPDATE runs SET status = 'running', started = ?, attempts = 1, first_seq = "
                "(SELECT coalesce(max(seq), 0) FROM events WHERE thread = ?) WHERE run_id = ?",
                (now, found.thread, lease.run_id))
    conn.execute("UPDATE runs SET lease_expires = ?, updated = ? WHERE run_id = ?",
                 (now + seconds, now, lease.run_id))
    taken = _get(conn, lease.run_id)
    assert taken is not None
    return taken


def drop(conn: sqlite3.Connection, lease: Lease) -> None:
    """(Also inside an append's transaction: ``Append.drops_run``.)"""
    conn.execute("DELETE FROM runs WHERE run_id = ? AND token = ?", (lease.run_id, lease.token))


def delete_thread(conn: sqlite3.Connection, thread: str) -> None:
    conn.execute("DELETE FROM runs WHERE thread = ?", (thread,))
