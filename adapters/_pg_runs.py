r"""The PostgreSQL store's runs tier (see ``lograph.eventlog``'s ``_runs`` for the rules).

- A claim is one statement: the oldest run that is its thread's oldest active run and
  is pending or has an expired lease, taken ``FOR UPDATE SKIP LOCKED`` (workers never
  wait for each other's claims) and updated with a fresh token and expiry.
- A thread's submissions are serialised by a transaction-scoped advisory lock, so its
  runs' creation order is also their commit order (a claim never sees a later run of a
  thread before an earlier one) and ``reject`` sees every active run.
- A fenced append reads its run's row ``FOR SHARE`` inside the insert statement (see
  ``_pg_sql``): a claim that would take the run over waits for (or skips) the append,
  so an append is never committed after another worker's claim.
- Times are the server's clock (``clock_timestamp()``), the one clock every worker shares.
- Round trips: recording an ``enqueue`` run is one statement (the thread's advisory lock
  taken in it, before the row's ``ord`` is drawn); a claim, a renewal and a finish are
  one statement each.
- Wake-ups across processes: every statement that records, finishes or stops a run
  sends a ``NOTIFY`` on the schema's channel (delivered at commit), payload
  ``"<origin> <kind> <run id>"``, the kind ``c`` (recorded), ``e`` (ended), ``E`` (ended,
  and a run is pending) or ``s`` (asked to stop, or cancelled while pending); a :class:`Listener` holding one pooled connection
  ``LISTEN``\s and announces what other processes did to this process's waiters (its
  own writes are announced in-process already, so its own origin is skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import asyncpg

from lograph.eventlog import Lease, LeaseLostError, NewRun, RunBusyError, RunExistsError, RunRecord
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

from ._turns import pg_turn_key

Conn = Any

NOW = "extract(epoch FROM clock_timestamp())::float8"

#: the migration that adds the tier (``_pg_sql.MIGRATIONS``; ``{s}`` is the schema)
MIGRATION = [
    """CREATE TABLE {s}.runs (
        ord           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id        text    NOT NULL UNIQUE,
        thread        text    NOT NULL,
        status        text    NOT NULL,
        input         bytea   NOT NULL,
        config        bytea   NOT NULL,
        durability    text    NOT NULL,
        strategy      text    NOT NULL,
        idem          text,
        metadata      jsonb   NOT NULL,
        created       float8  NOT NULL,
        updated       float8  NOT NULL,
        started       float8,
        finished      float8,
        attempts      integer NOT NULL,
        worker        text,
        token         text,
        lease_expires float8,
        stop          text,
        result        bytea,
        error         text,
        first_seq     bigint  NOT NULL,
        timeout       float8
    )""",
    "CREATE UNIQUE INDEX runs_idem ON {s}.runs (thread, idem) WHERE idem IS NOT NULL",
    "CREATE INDEX runs_active ON {s}.runs (thread, ord) WHERE status IN ('pending', 'running')",
    # the backstop of "one running run per thread"
    "CREATE UNIQUE INDEX runs_running ON {s}.runs (thread) WHERE status = 'running'",
    "CREATE INDEX runs_created ON {s}.runs (created)",
    "CREATE INDEX runs_metadata ON {s}.runs USING gin (metadata jsonb_path_ops)",
]

#: schema version 5
MIGRATION_THREAD_ORDER = ["CREATE INDEX runs_thread ON {s}.runs (thread, ord)"]

#: schema version 6: the name of the graph a run is for (NULL: any worker's), by which
#: claims under a limit count the graph's running runs
MIGRATION_GRAPH = [
    "ALTER TABLE {s}.runs ADD COLUMN graph text",
    "CREATE INDEX runs_graph ON {s}.runs (graph, status) WHERE graph IS NOT NULL",
]

# The thread's head as a run that starts reads it (its first_seq, and the hash there),
# each read with a snapshot of its own (a VOLATILE function's statement), taken when it
# is called: after the statement that calls it took the thread's turn key (``_turns``).
# A statement's own snapshot predates that lock, and could miss the last append of the
# plain run that held the turn just before.
MIGRATION_FRESH_HEAD = [
    """CREATE OR REPLACE FUNCTION {s}.lograph_head_seq(t text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
        RETURN (SELECT coalesce(max(e.seq), 0) FROM {s}.events e WHERE e.thread = t);
    END $f$""",
    """CREATE OR REPLACE FUNCTION {s}.lograph_hash_at(t text, n bigint) RETURNS bytea
    LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
        RETURN (SELECT e.hash FROM {s}.events e WHERE e.thread = t AND e.seq = n);
    END $f$""",
]

# schema version 8: whether a thread has no active run, and whether the run before a
# given one was rolled back, each with a snapshot of its own (as above): a submit that a
# worker of its process takes at once (``create_claimed``) asks after it took the thread's
# lock, so it sees every run of the thread that committed before (its own snapshot may not)
MIGRATION_IDLE = [
    """CREATE OR REPLACE FUNCTION {s}.lograph_idle(t text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
        RETURN NOT EXISTS (SELECT 1 FROM {s}.runs r
                           WHERE r.thread = t AND r.status IN ('pending', 'running'));
    END $f$""",
    """CREATE OR REPLACE FUNCTION {s}.lograph_rolled_back(t text, o bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
        RETURN coalesce((SELECT CASE WHEN p.stop = 'rollback' THEN p.first_seq ELSE 0 END
                         FROM {s}.runs p WHERE p.thread = t AND p.ord < o
                         ORDER BY p.ord DESC LIMIT 1), 0);
    END $f$""",
]

_COLUMNS = COLUMNS = ", ".join(ROW_COLUMNS).replace("metadata", "metadata::text")
_ACTIVE = "status IN ('pending', 'running')"


_record = run_of_row
_STATUS, _ATTEMPTS = ROW_COLUMNS.index("status"), ROW_COLUMNS.index("attempts")  # (in a row)


class RunStatements:
    """The tier's statements for one (quoted) schema."""

    def __init__(self, s: str, schema: str) -> None:
        self.schema = schema
        self.get = f"SELECT {_COLUMNS} FROM {s}.runs WHERE run_id = $1"
        # A write that changes nothing, so that its commit flushes the WAL: what it
        # returns is on disk then (a run taken at once may not be before: see
        # ``enqueue_claimed``). By key: a submit that finds its thread's run by key.
        touch = f"UPDATE {s}.runs SET updated = updated WHERE"
        self.by_key = f"{touch} thread = $1 AND idem = $2 RETURNING {_COLUMNS}"
        self.flushed = f"{touch} run_id = $1 RETURNING true"
        self.lock_thread = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
        # a plain run's turn (``_turns``): the runs tier's writes that start a run take a
        # thread's key for their transaction, and leave a thread whose turn is held alone
        self.turn_prefix = f"lograph.turn:{schema}:"
        self.table = f"{s}.runs"
        self.turn_free = f"SELECT pg_try_advisory_xact_lock({pg_turn_key(self.turn_prefix, '$1')})"
        self.exists = f"SELECT 1 FROM {s}.runs WHERE run_id = $1"
        self.first_active = (
            f"SELECT run_id FROM {s}.runs WHERE thread = $1 AND {_ACTIVE} ORDER BY ord LIMIT 1")
        self.ask_stop = (
            f"UPDATE {s}.runs SET stop = $2, updated = {NOW} "
            "WHERE thread = $1 AND status = 'running' AND stop IS NULL")
        self.insert = (
            f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, strategy, "
            "idem, metadata, created, updated, attempts, first_seq, timeout, graph) "
            f"VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8::jsonb, {NOW}, {NOW}, 0, 0, $9, "
            f"$10) RETURNING {_COLUMNS}")
        #: the NOTIFY channel of this schema's runs (a name of at most 63 bytes)
        self.channel = "lograph_runs_" + hashlib.sha256(schema.encode()).hexdigest()[:24]
        self.notify = "SELECT pg_notify($1, $2)"
        # one statement: the lock before the row (and its ord), the NOTIFY sent at commit;
        # a key or run id already there inserts nothing (then ``create`` looks closer)
        self.enqueue = (
            f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, strategy, "
            "idem, metadata, created, updated, attempts, first_seq, timeout, graph) "
            f"SELECT $1, $2, 'pending', $3, $4, $5, $6, $7, $8::jsonb, {NOW}, {NOW}, 0, 0, $9, $13 "
            "FROM (SELECT pg_advisory_xact_lock(hashtextextended($10, 0)), pg_notify($11, $12) "
            "OFFSET 0) AS first ON CONFLICT DO NOTHING "
            f"RETURNING {_COLUMNS}")
        # ... and the same run taken at once by a worker of this process (``$14``, under
        # token ``$15`` for ``$16`` seconds, of graph ``$17``) when its thread is idle and
        # its turn free, as a claim would take it (the thread's head read after the turn
        # was taken); else recorded pending as above, durably. Only a pending one is
        # announced (NOTIFY): a run taken at once is no other worker's to claim, and
        # waking them (and this process's own listener) would only cost them a claim. One taken in ``sync``
        # durability commits without waiting for the WAL's flush: its first append (a
        # fenced commit, before any node runs) flushes it, and its submit returns once
        # that or a flush of its own did (``PostgresLog.create_run_claimed``).
        go = (f"CASE WHEN {s}.lograph_idle($2) THEN "
              f"pg_try_advisory_xact_lock({pg_turn_key(self.turn_prefix, '$2')}) ELSE false END")

        def when(value: str, otherwise: str = "NULL") -> str:
            return f"CASE WHEN c.go THEN {value} ELSE {otherwise} END"

        self.enqueue_claimed = (
            f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, strategy, "
            "idem, metadata, created, updated, attempts, first_seq, timeout, graph, started, "
            "worker, token, lease_expires) "
            f"SELECT $1, $2, {when(repr('running'), repr('pending'))}, $3, $4, $5, $6, $7, "
            f"$8::jsonb, {NOW}, {NOW}, {when('1', '0')}, {when(f'{s}.lograph_head_seq($2)', '0')}, "
            f"$9, {when('coalesce($13, $17)', '$13')}, {when(NOW)}, {when('$14')}, "
            f"{when('$15')}, {when(f'{NOW} + $16')} "
            f"FROM (SELECT g.go, set_config('synchronous_commit', CASE WHEN g.go AND $5 = "
            f"'sync' THEN 'off' ELSE 'on' END, true), CASE WHEN NOT g.go THEN pg_notify($11, $12) "
            f"END FROM (SELECT {go} AS go FROM (SELECT pg_advisory_xact_lock("
            "hashtextextended($10, 0)) OFFSET 0) AS first OFFSET 0) AS g "
            "OFFSET 0) AS c ON CONFLICT DO NOTHING "
            f"RETURNING {_COLUMNS}, CASE WHEN status = 'running' THEN "
            f"{s}.lograph_hash_at(thread, first_seq) END, CASE WHEN status = 'running' THEN "
            f"{s}.lograph_rolled_back(thread, ord) ELSE 0 END")
        self.ask_stop_ids = (
            f"UPDATE {s}.runs SET stop = $2, updated = {NOW} "
            "WHERE thread = $1 AND status = 'running' AND stop IS NULL RETURNING run_id")
        self.counts = f"SELECT status, count(*) FROM {s}.runs GROUP BY status"
        # in-process runs whose lease expired end (so their threads move on at the next
        # claim); an in-process run is never claimed (its caller runs it)
        stale = (f"UPDATE {s}.runs SET status = CASE status WHEN 'pending' THEN 'cancelled' "
                 f"ELSE 'error' END, error = '{STALE}', finished = {NOW}, updated = {NOW}, "
                 f"token = NULL, lease_expires = NULL WHERE {_ACTIVE} AND input = ''::bytea "
                 f"AND lease_expires <= {NOW}")
        self.end_stale = stale + " AND thread = $1"
        # A claim commits without waiting for the WAL's flush (as an in-process run's
        # place, below): one a server crash loses leaves its run as it was, so its
        # worker's fenced appends are refused and the next claim takes it again; the
        # run's first synced commit flushes it first. A first claim returns the thread's
        # head (its hash: the run's first read).
        relaxed = "relaxed AS (SELECT set_config('synchronous_commit', 'off', true))"
        self.claim = f"""
            WITH stale AS ({stale}), {relaxed},
            c AS (
                SELECT k.ord FROM (
                    SELECT r.ord, r.thread FROM {s}.runs r
                    WHERE r.{_ACTIVE}
                      AND r.ord = (SELECT min(o.ord) FROM {s}.runs o
                                   WHERE o.thread = r.thread AND o.{_ACTIVE})
                      AND (r.status = 'pending' OR r.lease_expires <= {NOW})
                      AND r.input <> ''::bytea
                      AND ($4::text IS NULL OR r.graph IS NULL OR r.graph = $4)
                    ORDER BY r.ord
                    OFFSET 0  -- (a fence: see below)
                    FOR UPDATE SKIP LOCKED) k
                -- the oldest whose thread's turn no plain run holds, in order. Tried only
                -- on the rows this claim locked, one at a time: the planner pushes even a
                -- volatile condition into a subquery's scan (then every claim took every
                -- candidate thread's key, and claims made at once took one run between
                -- them), but never into one with an OFFSET.
                WHERE pg_try_advisory_xact_lock({pg_turn_key(self.turn_prefix, 'k.thread')})
                LIMIT 1)
            UPDATE {s}.runs r SET status = 'running', worker = $1, token = $2,
                   lease_expires = {NOW} + $3, updated = {NOW}, graph = coalesce(r.graph, $4),
                   started = coalesce(r.started, {NOW}), attempts = r.attempts + 1,
                   first_seq = CASE WHEN r.attempts = 0
                       THEN {s}.lograph_head_seq(r.thread) ELSE r.first_seq END
            FROM c, relaxed WHERE r.ord = c.ord
            RETURNING {', '.join('r.' + c.strip() for c in _COLUMNS.split(','))},
                CASE WHEN r.attempts = 1 THEN {s}.lograph_hash_at(r.thread, r.first_seq) END,
                coalesce((SELECT CASE WHEN p.stop = 'rollback' THEN p.first_seq ELSE 0 END
                          FROM {s}.runs p WHERE p.thread = r.thread AND p.ord < r.ord
                          ORDER BY p.ord DESC LIMIT 1), 0),
                EXISTS (SELECT 1 FROM {s}.runs q WHERE q.status = 'pending' AND q.ord <> r.ord
                        AND q.input <> ''::bytea
                        AND ($4::text IS NULL OR q.graph IS NULL OR q.graph = $4))"""
        self.lock_claims = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
        self.running = (f"SELECT count(*) FROM {s}.runs WHERE status = 'running' "
                        f"AND lease_expires > {NOW} AND input <> ''::bytea "  # (workers' runs)
                        "AND ($1::text IS NULL OR graph = $1)")
        self.holder = f"SELECT token, status, lease_expires > {NOW} FROM {s}.runs WHERE run_id = $1"
        self.fence = (
            f"SELECT 1 FROM {s}.runs WHERE run_id = $1 AND token = $2 AND status = 'running' "
            f"AND lease_expires > {NOW}")
        held = "run_id = $1 AND token = $2 AND status = 'running'"
        self.renew = (
            f"UPDATE {s}.runs SET lease_expires = {NOW} + $3, updated = {NOW} "
            f"WHERE {held} AND lease_expires > {NOW} RETURNING {_COLUMNS}")
        # ... and whether a run is pending (then the NOTIFY says ``E``, not ``e``)
        self.finish = f"""
            WITH f AS (
                UPDATE {s}.runs SET status = $3, result = $4, error = $5, finished = {NOW},
                       updated = {NOW}, token = NULL, lease_expires = NULL WHERE {held}
                RETURNING {_COLUMNS}),
            w AS (SELECT EXISTS (SELECT 1 FROM {s}.runs o WHERE o.status = 'pending') AS waits)
            SELECT f.*, w.waits,
                   pg_notify($6, $7 || CASE WHEN w.waits THEN ' E ' ELSE ' e ' END || $1)
            FROM f, w"""
        self.cancel_pending = (
            f"UPDATE {s}.runs SET status = 'cancelled', stop = $2, finished = {NOW}, "
            f"updated = {NOW} WHERE run_id = $1 AND status = 'pending'")
        self.stop_running = (
            f"UPDATE {s}.runs SET stop = $2, updated = {NOW} WHERE run_id = $1 "
            "AND status = 'running' AND stop IS NULL")
        self.list_base = f"SELECT {_COLUMNS} FROM {s}.runs"
        # An in-process run on an idle thread is taken in one statement (two at once: the
        # unique index of running runs refuses one, which takes the slow path), which also
        # returns the thread's head (the run's first read). It commits without waiting for
        # the WAL's flush (the next synced commit, the run's own appends, flushes it too):
        # a server crash before that loses it while its caller lives on, and the log that
        # took it records it again when the caller next writes (``restore``).
        relaxed = f"WITH {relaxed} "
        insert_running = (
            f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, "
            "strategy, metadata, created, updated, started, attempts, first_seq, worker, token, "
            "lease_expires) "
            f"SELECT $1, $2, 'running', ''::bytea, $3, $4, $5, $6::jsonb, {NOW}, {NOW}, {NOW}, 1, "
            f"{s}.lograph_head_seq($2), $7, $8, "
            f"{NOW} + $9 ")
        idle = f"NOT EXISTS (SELECT 1 FROM {s}.runs WHERE thread = $2 AND {_ACTIVE})"
        free = f"pg_try_advisory_xact_lock({pg_turn_key(self.turn_prefix, '$2')})"
        self.enter_idle = (
            f"{relaxed}{insert_running}FROM relaxed WHERE {idle} AND {free} RETURNING {_COLUMNS}, "
            f"{s}.lograph_hash_at($2, first_seq)")
        # a place lost that way, back (in its caller's append's transaction): only while
        # its thread has no active run and nothing else became of the run
        self.restore = (
            f"{insert_running}WHERE {idle} "
            f"AND NOT EXISTS (SELECT 1 FROM {s}.runs WHERE run_id = $1) RETURNING run_id")
        self.hold = (f"UPDATE {s}.runs SET worker = $2, token = $3, lease_expires = {NOW} + $4 "
                     "WHERE run_id = $1")
        self.lease_of = (f"SELECT token, lease_expires > {NOW} FROM {s}.runs WHERE run_id = $1 "
                         "FOR UPDATE")
        self.promote = (
            f"UPDATE {s}.runs SET status = 'running', started = {NOW}, attempts = 1, first_seq = "
            f"(SELECT coalesce(max(e.seq), 0) FROM {s}.events e WHERE e.thread = $2) "
            "WHERE run_id = $1")
        self.extend = (f"UPDATE {s}.runs SET lease_expires = {NOW} + $2, updated = {NOW} "
                       f"WHERE run_id = $1 AND token = $3 RETURNING {_COLUMNS}")
        self.drop = f"DELETE FROM {s}.runs WHERE run_id = $1 AND token = $2"


async def create(conn: Conn, q: RunStatements, new: NewRun, origin: str,
                 ) -> tuple[RunRecord, bool, list[str]]:
    """Record ``new``; ``(record, created, ids of the runs it asked to stop)``."""
    timeout = None if new.timeout is None else float(new.timeout)
    if new.strategy == "enqueue":  # nothing to check against the thread's active runs
        row = await conn.fetchrow(
            q.enqueue, new.run_id, new.thread, new.input, new.config, new.durability,
            new.strategy, new.idempotency_key, metadata_json(new.metadata), timeout,
            _lock_key(q, new.thread), q.channel, f"{origin} c {new.run_id}", new.graph)
        if row is not None:
            return _record(row), True, []
    async with conn.transaction():  # a key or id already there, or a strategy that checks
        await conn.execute(q.lock_thread, _lock_key(q, new.thread))
        if new.idempotency_key is not None:
            row = await conn.fetchrow(q.by_key, new.thread, new.idempotency_key)
            if row is not None:
                return _record(row), False, []
        if await conn.fetchval(q.exists, new.run_id):
            raise RunExistsError(new.run_id)
        active = await conn.fetchval(q.first_active, new.thread)
        if active is not None and new.strategy == "reject":
            raise RunBusyError(new.thread, active)
        stopped: list[str] = []
        if new.strategy in ("interrupt", "rollback"):
            stopped = [r[0] for r in await conn.fetch(q.ask_stop_ids, new.thread, new.strategy)]
        row = await conn.fetchrow(
            q.insert, new.run_id, new.thread, new.input, new.config, new.durability, new.strategy,
            new.idempotency_key, metadata_json(new.metadata), timeout, new.graph)
        for run_id in stopped:
            await conn.execute(q.notify, q.channel, f"{origin} s {run_id}")
        await conn.execute(q.notify, q.channel, f"{origin} c {new.run_id}")
        return _record(row), True, stopped


async def create_claimed(conn: Conn, q: RunStatements, new: NewRun, origin: str, worker: str,
                         seconds: float, graph: str | None,
                         ) -> tuple[RunRecord, bool, list[str], Lease | None]:
    """``create``, with an ``enqueue`` run taken at once by ``worker`` when its thread is
    idle and its turn free (see ``enqueue_claimed``): then its lease too (else None)."""
    check_lease_seconds(seconds)
    if new.strategy == "enqueue":
        token = new_token()
        timeout = None if new.timeout is None else float(new.timeout)
        try:
            row = await conn.fetchrow(
                q.enqueue_claimed, new.run_id, new.thread, new.input, new.config,
                new.durability, new.strategy, new.idempotency_key, metadata_json(new.metadata),
                timeout, _lock_key(q, new.thread), q.channel, f"{origin} c {new.run_id}",
                new.graph, worker, token, float(seconds), graph)
        except asyncpg.UniqueViolationError:  # (the backstop: a running run of the thread)
            row = None
        if row is not None:
            if row[_STATUS] != "running":
                return _record(row[:-2]), True, [], None
            digest = row[-2]
            record = _record(row[:-2], head_hash=b"" if digest is None else bytes(digest),
                             prior_rollback=int(row[-1]))
            return record, True, [], Lease(record.run_id, token)
    return (*await create(conn, q, new, origin), None)


async def flushed(conn: Conn, q: RunStatements, run_id: str) -> bool:
    """Whether the run is recorded, once the WAL is flushed past this call's start: a run
    taken at once is on disk then, or was lost in a crash."""
    return bool(await conn.fetchval(q.flushed, run_id))


def _lock_key(q: RunStatements, thread: str) -> str:
    return f"lograph.runs:{q.schema}:{thread}"


async def enter(conn: Conn, q: RunStatements, new: NewRun, holder: str, seconds: float,
                origin: str) -> tuple[RunRecord, Lease]:
    lease = Lease(new.run_id, new_token())
    meta = metadata_json(new.metadata)
    try:
        row = await conn.fetchrow(q.enter_idle, new.run_id, new.thread, new.config,
                                  new.durability, new.strategy, meta, holder, lease.token,
                                  float(seconds))
    except asyncpg.UniqueViolationError:  # a run taken at the same time (or a reused id)
        row = None
    if row is not None:
        digest = row[-1]
        return _record(row[:-1], head_hash=b"" if digest is None else bytes(digest)), lease
    async with conn.transaction():
        await conn.execute(q.lock_thread, f"lograph.runs:{q.schema}:{new.thread}")
        await conn.execute(q.end_stale, new.thread)
        await create(conn, q, new, origin)
        await conn.execute(q.hold, new.run_id, holder, lease.token, float(seconds))
    return await take(conn, q, lease, seconds), lease


async def restore(conn: Conn, q: RunStatements, new: NewRun, holder: str, seconds: float,
                  lease: Lease) -> bool:
    """Record again, running, an in-process run whose row is gone (``enter``'s place lost
    in a server crash), if its thread has no active run; whether it did."""
    try:
        async with conn.transaction():  # (a savepoint inside the caller's transaction)
            found = await conn.fetchval(
                q.restore, new.run_id, new.thread, new.config, new.durability, new.strategy,
                metadata_json(new.metadata), holder, lease.token, float(seconds))
    except asyncpg.UniqueViolationError:  # another run took the thread meanwhile
        return False
    return found is not None


async def take(conn: Conn, q: RunStatements, lease: Lease, seconds: float) -> RunRecord:
    try:
        async with conn.transaction():
            found = await get(conn, q, lease.run_id)
            if found is not None and found.done:
                return found
            row = await conn.fetchrow(q.lease_of, lease.run_id)
            if found is None or row is None or row[0] != lease.token:
                raise LeaseLostError(lease.run_id, "it ended or was dropped")
            if not row[1]:
                raise LeaseLostError(lease.run_id, "its lease expired")
            if found.status == "pending":
                await conn.execute(q.lock_thread, f"lograph.runs:{q.schema}:{found.thread}")
                await conn.execute(q.end_stale, found.thread)
                if await conn.fetchval(q.first_active, found.thread) == lease.run_id and (
                        await conn.fetchval(q.turn_free, found.thread)):
                    await conn.execute(q.promote, lease.run_id, found.thread)
            return _record(await conn.fetchrow(q.extend, lease.run_id, float(seconds), lease.token))
    except asyncpg.UniqueViolationError:  # a run taken on an idle thread just before: wait on
        row = await conn.fetchrow(q.extend, lease.run_id, float(seconds), lease.token)
        if row is None:
            raise LeaseLostError(lease.run_id, "it ended or was dropped") from None
        return _record(row)


async def drop(conn: Conn, q: RunStatements, lease: Lease) -> None:
    await conn.execute(q.drop, lease.run_id, lease.token)


async def get(conn: Conn, q: RunStatements, run_id: str) -> RunRecord | None:
    row = await conn.fetchrow(q.get, run_id)
    return None if row is None else _record(row)


async def list_runs(
    conn: Conn, q: RunStatements, thread: str | None, status: str | Iterable[str] | None,
    since: float | None, until: float | None, metadata: Mapping[str, Any] | None, limit: int,
    graph: str | None = None,
) -> list[RunRecord]:
    wanted = check_filters(status, limit)
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if thread is not None:
        where.append(f"thread = {arg(thread)}")
    if graph is not None:
        where.append(f"graph = {arg(graph)}")
    if wanted is not None:
        where.append(f"status = ANY({arg(list(wanted))}::text[])")
    if since is not None:
        where.append(f"created >= {arg(float(since))}")
    if until is not None:
        where.append(f"created < {arg(float(until))}")
    if metadata:
        where.append(f"metadata @> {arg(metadata_json(metadata))}::jsonb")
    sql = q.list_base + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY ord DESC LIMIT {arg(limit)}"
    return [_record(row) for row in await conn.fetch(sql, *args)]


async def counts(conn: Conn, q: RunStatements) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in await conn.fetch(q.counts)}


async def claim(conn: Conn, q: RunStatements, worker: str, seconds: float, limit: int | None,
                graph: str | None = None) -> tuple[RunRecord, Lease] | None:
    """One statement; under a ``limit``, a transaction holding the schema's claim lock,
    whose count sees every claim committed before it (claims under a limit queue)."""
    check_lease_seconds(seconds)
    token = new_token()
    try:
        if limit is None:
            row = await conn.fetchrow(q.claim, worker, token, float(seconds), graph)
        else:
            async with conn.transaction():
                await conn.execute(q.lock_claims, f"lograph.claims:{q.schema}")
                if await conn.fetchval(q.running, graph) >= limit:
                    return None
                row = await conn.fetchrow(q.claim, worker, token, float(seconds), graph)
    except asyncpg.UniqueViolationError:  # the backstop: the thread has a running run
        return None
    if row is None:
        return None
    first = row[_ATTEMPTS] == 1  # (a first claim read the thread's head)
    record = _record(row[:-3], prior_rollback=int(row[-2]), queued=bool(row[-1]),
                     head_hash=(b"" if row[-3] is None else bytes(row[-3])) if first else None)
    return record, Lease(row[0], token)


async def _why_lost(conn: Conn, q: RunStatements, lease: Lease) -> LeaseLostError:
    """After a renewal or finish under ``lease`` changed nothing: why."""
    row = await conn.fetchrow(q.holder, lease.run_id)
    if row is None or row[0] != lease.token or row[1] != "running":
        return LeaseLostError(lease.run_id, "another worker claimed it, or it ended")
    return LeaseLostError(lease.run_id, "its lease expired")


async def renew(conn: Conn, q: RunStatements, lease: Lease, seconds: float) -> RunRecord:
    check_lease_seconds(seconds)
    row = await conn.fetchrow(q.renew, lease.run_id, lease.token, float(seconds))
    if row is None:
        raise await _why_lost(conn, q, lease)
    return _record(row)


async def finish(conn: Conn, q: RunStatements, lease: Lease, status: str, result: bytes | None,
                 error: str | None, origin: str) -> tuple[RunRecord, bool]:
    """One statement, under the lease's token (a claim changes it: the old one finishes
    nothing), expired or not: the ended run, and whether a run is pending."""
    check_end(status)
    row = await conn.fetchrow(q.finish, lease.run_id, lease.token, status, result, error,
                              q.channel, origin)
    if row is None:
        raise await _why_lost(conn, q, lease)
    return _record(row[:-2]), bool(row[-2])


async def stop(conn: Conn, q: RunStatements, run_id: str, what: str, origin: str) -> RunRecord | None:
    check_stop(what)
    async with conn.transaction():
        await conn.execute(q.cancel_pending, run_id, what)
        await conn.execute(q.stop_running, run_id, what)
        await conn.execute(q.notify, q.channel, f"{origin} s {run_id}")
        return await get(conn, q, run_id)


async def lost(conn: Conn, q: RunStatements, lease: Lease) -> LeaseLostError | None:
    """After a fenced item failed: its LeaseLostError if the fence refused it."""
    if await conn.fetchval(q.fence, lease.run_id, lease.token):
        return None
    return LeaseLostError(lease.run_id, "its lease expired, another worker claimed it, or it ended")


#: seconds between two attempts to (re)start a listener that could not start
LISTEN_RETRY = 1.0
#: seconds a listener waits for a connection from its pool (waiters poll meanwhile)
LISTEN_ACQUIRE = 0.25
#: the smallest pool a listener takes a connection from
LISTEN_POOL = 3


class Listener:
    """``LISTEN`` on a schema's runs channel, on one connection it holds from the pool,
    for as long as the log is open; each notification another process sent is handed
    to ``heard(kind, run_id)``. Started by the first waiter (``keep``, from any loop):
    ``heard`` gets ``"+"`` once it listens, ``"-"`` when its connection is cut (every
    waiter should look again), and ``"+"`` then ``"*"`` (anything may have happened
    meanwhile) once the next ``keep`` made it listen again (at most once per
    ``LISTEN_RETRY`` seconds while that fails). Waiters poll as well, so a listener down costs time only."""

    def __init__(self, pool: Any, bridge: Any, channel: str, origin: str,
                 heard: Callable[[str, str], None], *, enabled: bool = True) -> None:
        self._pool = pool
        self._bridge = bridge
        self._channel = channel
        self._origin = origin
        self._heard = heard
        self._conn: Any = None
        self._up = False  # LISTENing on ``_conn`` (False once it was cut)
        self._was_up = False
        self._closed = not enabled
        self._retry_at = 0.0
        self._starting: asyncio.Lock | None = None  # made and used on the home loop

    def listening(self) -> bool:
        return self._up

    async def keep(self) -> None:
        if self._closed or self.listening() or time.monotonic() < self._retry_at:
            return
        try:
            await self._bridge.run(self._start)
        except Exception:  # noqa: BLE001 - the store is unreachable for now: waiters poll
            self._retry_at = time.monotonic() + LISTEN_RETRY

    async def _start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._closed or self.listening():
                return
            if self._conn is not None:  # dropped: give it back (the pool replaces it)
                await self._give_back()
            conn = await self._pool.acquire(timeout=LISTEN_ACQUIRE)
            try:
                await conn.add_listener(self._channel, self._notified)
                conn.add_termination_listener(self._dropped)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn, self._up = conn, True
            self._heard("+", "")
            if self._was_up:  # anything may have happened while nobody listened
                self._heard("*", "")
            self._was_up = True

    async def _give_back(self) -> None:
        conn, self._conn, up, self._up = self._conn, None, self._up, False
        with contextlib.suppress(asyncpg.InterfaceError):  # released already (it was cut)
            conn.remove_termination_listener(self._dropped)
            if up:
                await conn.remove_listener(self._channel, self._notified)
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        origin, _, rest = payload.partition(" ")
        if origin == self._origin:
            return  # this log's own write: announced in-process already
        kind, _, run_id = rest.partition(" ")
        self._heard(kind, run_id)

    def _dropped(self, conn: Any) -> None:
        """The connection was cut: wake every waiter (its next wait listens again)."""
        self._up = False
        if not self._closed:
            self._heard("-", "")

    async def close(self) -> None:
        """On the home loop: stop listening and give the connection back."""
        self._closed = True
        if self._conn is not None:
            await self._give_back()
