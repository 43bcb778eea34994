"""The PostgreSQL store's runs tier (see ``lograph.eventlog``'s ``_runs`` for the rules).

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from lograph.eventlog import Lease, LeaseLostError, NewRun, RunBusyError, RunExistsError, RunRecord
from lograph.eventlog.lowlevel import (
    ROW_COLUMNS,
    check_end,
    check_filters,
    check_lease_seconds,
    check_stop,
    metadata_json,
    new_token,
    run_of_row,
)

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

_COLUMNS = ", ".join(ROW_COLUMNS).replace("metadata", "metadata::text")
_ACTIVE = "status IN ('pending', 'running')"


_record = run_of_row


class RunStatements:
    """The tier's statements for one (quoted) schema."""

    def __init__(self, s: str, schema: str) -> None:
        self.schema = schema
        self.get = f"SELECT {_COLUMNS} FROM {s}.runs WHERE run_id = $1"
        self.by_key = f"SELECT {_COLUMNS} FROM {s}.runs WHERE thread = $1 AND idem = $2"
        self.lock_thread = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
        self.exists = f"SELECT 1 FROM {s}.runs WHERE run_id = $1"
        self.first_active = (
            f"SELECT run_id FROM {s}.runs WHERE thread = $1 AND {_ACTIVE} ORDER BY ord LIMIT 1")
        self.ask_stop = (
            f"UPDATE {s}.runs SET stop = $2, updated = {NOW} "
            "WHERE thread = $1 AND status = 'running' AND stop IS NULL")
        self.insert = (
            f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, strategy, "
            "idem, metadata, created, updated, attempts, first_seq, timeout) "
            f"VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8::jsonb, {NOW}, {NOW}, 0, 0, $9) "
            f"RETURNING {_COLUMNS}")
        self.counts = f"SELECT status, count(*) FROM {s}.runs GROUP BY status"
        self.claim = f"""
            WITH c AS (
                SELECT r.ord FROM {s}.runs r
                WHERE r.{_ACTIVE}
                  AND r.ord = (SELECT min(o.ord) FROM {s}.runs o
                               WHERE o.thread = r.thread AND o.{_ACTIVE})
                  AND (r.status = 'pending' OR r.lease_expires <= {NOW})
                ORDER BY r.ord LIMIT 1
                FOR UPDATE SKIP LOCKED)
            UPDATE {s}.runs r SET status = 'running', worker = $1, token = $2,
                   lease_expires = {NOW} + $3, updated = {NOW},
                   started = coalesce(r.started, {NOW}), attempts = r.attempts + 1,
                   first_seq = CASE WHEN r.attempts = 0
                       THEN (SELECT coalesce(max(e.seq), 0) FROM {s}.events e
                             WHERE e.thread = r.thread)
                       ELSE r.first_seq END
            FROM c WHERE r.ord = c.ord
            RETURNING {', '.join('r.' + c.strip() for c in _COLUMNS.split(','))}"""
        self.holder = f"SELECT token, status, lease_expires > {NOW} FROM {s}.runs WHERE run_id = $1 FOR UPDATE"
        self.fence = (
            f"SELECT 1 FROM {s}.runs WHERE run_id = $1 AND token = $2 AND status = 'running' "
            f"AND lease_expires > {NOW}")
        self.renew = (
            f"UPDATE {s}.runs SET lease_expires = {NOW} + $2, updated = {NOW} WHERE run_id = $1 "
            f"RETURNING {_COLUMNS}")
        self.finish = (
            f"UPDATE {s}.runs SET status = $2, result = $3, error = $4, finished = {NOW}, "
            f"updated = {NOW}, token = NULL, lease_expires = NULL WHERE run_id = $1 "
            f"RETURNING {_COLUMNS}")
        self.cancel_pending = (
            f"UPDATE {s}.runs SET status = 'cancelled', stop = $2, finished = {NOW}, "
            f"updated = {NOW} WHERE run_id = $1 AND status = 'pending'")
        self.stop_running = (
            f"UPDATE {s}.runs SET stop = $2, updated = {NOW} WHERE run_id = $1 "
            "AND status = 'running' AND stop IS NULL")
        self.list_base = f"SELECT {_COLUMNS} FROM {s}.runs"


async def create(conn: Conn, q: RunStatements, new: NewRun) -> tuple[RunRecord, bool]:
    async with conn.transaction():
        await conn.execute(q.lock_thread, f"lograph.runs:{q.schema}:{new.thread}")
        if new.idempotency_key is not None:
            row = await conn.fetchrow(q.by_key, new.thread, new.idempotency_key)
            if row is not None:
                return _record(row), False
        if await conn.fetchval(q.exists, new.run_id):
            raise RunExistsError(new.run_id)
        active = await conn.fetchval(q.first_active, new.thread)
        if active is not None and new.strategy == "reject":
            raise RunBusyError(new.thread, active)
        if new.strategy in ("interrupt", "rollback"):
            await conn.execute(q.ask_stop, new.thread, new.strategy)
        row = await conn.fetchrow(
            q.insert, new.run_id, new.thread, new.input, new.config, new.durability, new.strategy,
            new.idempotency_key, metadata_json(new.metadata),
            None if new.timeout is None else float(new.timeout))
        return _record(row), True


async def get(conn: Conn, q: RunStatements, run_id: str) -> RunRecord | None:
    row = await conn.fetchrow(q.get, run_id)
    return None if row is None else _record(row)


async def list_runs(
    conn: Conn, q: RunStatements, thread: str | None, status: str | Iterable[str] | None,
    since: float | None, until: float | None, metadata: Mapping[str, Any] | None, limit: int,
) -> list[RunRecord]:
    wanted = check_filters(status, limit)
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if thread is not None:
        where.append(f"thread = {arg(thread)}")
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


async def claim(conn: Conn, q: RunStatements, worker: str, seconds: float,
                ) -> tuple[RunRecord, Lease] | None:
    check_lease_seconds(seconds)
    token = new_token()
    try:
        row = await conn.fetchrow(q.claim, worker, token, float(seconds))
    except asyncpg.UniqueViolationError:  # the backstop: the thread has a running run
        return None
    return None if row is None else (_record(row), Lease(row[0], token))


async def _held(conn: Conn, q: RunStatements, lease: Lease, *, unexpired: bool) -> None:
    row = await conn.fetchrow(q.holder, lease.run_id)
    if row is None or row[0] != lease.token or row[1] != "running":
        raise LeaseLostError(lease.run_id, "another worker claimed it, or it ended")
    if unexpired and not row[2]:
        raise LeaseLostError(lease.run_id, "its lease expired")


async def renew(conn: Conn, q: RunStatements, lease: Lease, seconds: float) -> RunRecord:
    check_lease_seconds(seconds)
    async with conn.transaction():
        await _held(conn, q, lease, unexpired=True)
        return _record(await conn.fetchrow(q.renew, lease.run_id, float(seconds)))


async def finish(conn: Conn, q: RunStatements, lease: Lease, status: str, result: bytes | None,
                 error: str | None) -> RunRecord:
    check_end(status)
    async with conn.transaction():
        await _held(conn, q, lease, unexpired=False)  # a claim changes the token
        return _record(await conn.fetchrow(q.finish, lease.run_id, status, result, error))


async def stop(conn: Conn, q: RunStatements, run_id: str, what: str) -> RunRecord | None:
    check_stop(what)
    async with conn.transaction():
        await conn.execute(q.cancel_pending, run_id, what)
        await conn.execute(q.stop_running, run_id, what)
        return await get(conn, q, run_id)


async def lost(conn: Conn, q: RunStatements, lease: Lease) -> LeaseLostError | None:
    """After a fenced item failed: its LeaseLostError if the fence refused it."""
    if await conn.fetchval(q.fence, lease.run_id, lease.token):
        return None
    return LeaseLostError(lease.run_id, "its lease expired, another worker claimed it, or it ended")
