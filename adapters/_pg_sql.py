"""The PostgreSQL store's schema, its forward migrations and every statement it runs.

Rules:
- The schema name is user-chosen, so it is always quoted (``quote_ident``); every table
  is named through it, never through ``search_path``.
- ``MIGRATIONS[i]`` takes a schema from version ``i`` to ``i + 1``. Append only: a
  released migration is never edited, so a database's version says what it holds.
"""

from __future__ import annotations

import hashlib

from lograph.eventlog.lowlevel import KIND_CODES

from . import _pg_runs

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Statements", "lock_key", "quote_ident"]


MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, whatever characters it holds."""
    if not name or "\x00" in name:
        raise ValueError(f"invalid PostgreSQL schema name {name!r}")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise ValueError(f"invalid PostgreSQL schema name {name!r}: not valid Unicode") from None
    if size > MAX_IDENTIFIER_BYTES:
        # PostgreSQL cuts longer names to their first 63 bytes: two tenants' schemas that
        # differ only after that would be one schema
        raise ValueError(
            f"the PostgreSQL schema name {name[:40]!r}... is {size} bytes long; PostgreSQL "
            f"keeps only the first {MAX_IDENTIFIER_BYTES}, so names that differ after them "
            "would be the same schema: choose one of at most 63 bytes")
    return '"' + name.replace('"', '""') + '"'


def lock_key(schema: str) -> int:
    """The advisory lock serialising setup of ``schema`` across processes (a signed int64)."""
    digest = hashlib.sha256(f"lograph.setup:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


#: each entry is a list of statements; ``{s}`` is the quoted schema
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE {s}.events (
            thread  text             NOT NULL,
            seq     bigint           NOT NULL,
            parent  bigint           NOT NULL,
            kind    text             NOT NULL,
            run_id  text             NOT NULL,
            step    bigint           NOT NULL,  -- int64, as the hash packs it
            task_id text             NOT NULL,
            ns      text             NOT NULL,
            ts      double precision NOT NULL,
            body    bytea            NOT NULL,
            hash    bytea            NOT NULL,
            PRIMARY KEY (thread, seq)
        )""",
        """CREATE TABLE {s}.snapshots (
            thread text   NOT NULL,
            seq    bigint NOT NULL,
            data   bytea  NOT NULL,
            PRIMARY KEY (thread, seq)
        )""",
    ],
    # 2: the fixed-width columns first (no alignment padding between them) and the kind
    # as its code (KIND_CODES): about 25 bytes less per event. Rows are copied over.
    [
        "ALTER TABLE {s}.events RENAME TO events_v1",
        "ALTER TABLE {s}.events_v1 RENAME CONSTRAINT events_pkey TO events_v1_pkey",
        """CREATE TABLE {s}.events (
            seq     bigint           NOT NULL,
            parent  bigint           NOT NULL,
            step    bigint           NOT NULL,  -- int64, as the hash packs it
            ts      double precision NOT NULL,
            kind    smallint         NOT NULL,  -- KIND_CODES
            thread  text             NOT NULL,
            run_id  text             NOT NULL,
            task_id text             NOT NULL,
            ns      text             NOT NULL,
            body    bytea            NOT NULL,
            hash    bytea            NOT NULL,
            PRIMARY KEY (thread, seq) WITH (fillfactor = 100)  -- appended in key order
        )""",
        "INSERT INTO {s}.events (seq, parent, step, ts, kind, thread, run_id, task_id, ns, body, hash) "
        "SELECT seq, parent, step, ts, CASE kind " + " ".join(
            f"WHEN '{kind}' THEN {code}" for kind, code in KIND_CODES.items()
        ) + " END, thread, run_id, task_id, ns, body, hash FROM {s}.events_v1",
        "DROP TABLE {s}.events_v1",
    ],
    # 3: a body or snapshot may be stored compressed by lograph (lowlevel.RowMapper):
    # the version tells an older lograph to refuse the schema, and PostgreSQL need not
    # try to compress those columns again.
    [
        "ALTER TABLE {s}.events ALTER COLUMN body SET STORAGE EXTERNAL",
        "ALTER TABLE {s}.snapshots ALTER COLUMN data SET STORAGE EXTERNAL",
    ],
    # 4: run records and their leases (the runs tier, ``_pg_runs``)
    _pg_runs.MIGRATION,
    # 5: a thread's runs in order, ended ones too (a claim reads the run before it)
    _pg_runs.MIGRATION_THREAD_ORDER,
    # 6: the name of the graph each run is for (limits per graph)
    _pg_runs.MIGRATION_GRAPH,
    # 7: a starting run's read of its thread's head, after the thread's turn was checked
    _pg_runs.MIGRATION_FRESH_HEAD,
    # 8: a thread's idleness, fresh, for a submit that its process's worker takes at once
    _pg_runs.MIGRATION_IDLE,
]

SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = "seq, parent, kind, run_id, step, task_id, ns, ts, body, hash"


class Statements:
    """Every statement for one schema, built once."""

    def __init__(self, schema: str) -> None:
        s = self.schema = quote_ident(schema)
        self.create_schema = f"CREATE SCHEMA IF NOT EXISTS {s}"
        self.create_version = (
            f"CREATE TABLE IF NOT EXISTS {s}.lograph_schema_version ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        self.version = f"SELECT coalesce(max(version), 0) FROM {s}.lograph_schema_version"
        self.record_version = f"INSERT INTO {s}.lograph_schema_version (version) VALUES ($1)"
        self.migrations = [[stmt.format(s=s) for stmt in step] for step in MIGRATIONS]

        # One statement appends any number of items. Rows arrive sorted by (thread, seq)
        # so concurrent writers take the key locks in one order. The gap check: an
        # item's first row stores NULL into seq (a NOT NULL violation) unless the
        # event it follows (its base, expect_head) is stored, so an append beyond the
        # head fails whole instead of leaving a hole. Later rows of an item follow
        # rows of the same statement, which the check cannot see, so they skip it.
        # The check is a scalar subquery, never EXISTS: PostgreSQL may turn EXISTS into
        # a hashed subplan that reads the whole table on every append (seen with
        # generic plans); a scalar subquery is always one primary-key probe.
        # An item's first row may also carry ``phash``, the hash its writer read for the
        # event it follows: a stored parent with another hash (the thread was deleted
        # and written again) fails the row the same way. When that event is the base
        # (not a fork's first event), one probe checks both.
        # A fenced append (items carrying a worker's lease; ``insert_fenced``) adds one
        # more condition to an item's first row: its run's row, read FOR SHARE, still has
        # the lease's token, is running and unexpired (see ``_pg_runs``). The share lock
        # makes a claim that would take the run over skip it until this commits.
        self.insert = self._insert(s, fenced=False)
        self.insert_fenced = self._insert(s, fenced=True)
        # ... and an item that is its in-process run's last (``Append.drops_run``, on its
        # first row: ``ldrop``) deletes the run's row instead of reading it FOR SHARE: the
        # delete is its fence (the row held under the token, running, unexpired), undone
        # with the statement if any row fails
        self.insert_dropping = self._insert(s, fenced=True, drops=True)
        # ... and an item that is its worker's run's last (``Append.ends_run``: ``lstatus``,
        # ``lresult``, ``lerror`` on its first row) records the run's end, as ``finish``
        # does, instead: that update is its fence. The statement returns the ended runs
        # (and whether a run is pending), and sends their NOTIFY ($20: the channel, $21:
        # the log's origin). It drops in-process runs' records as well (a batch may hold both).
        self.insert_ending = self._insert(s, fenced=True, drops=True, ends=True)
        self.runs = _pg_runs.RunStatements(s, schema)
        # After an unknown outcome: which first events of the pending items are stored.
        # (a scalar subquery per item: always a primary-key probe, never a table scan)
        self.stored_hashes = f"""
            SELECT t.i, (SELECT e.hash FROM {s}.events e
                         WHERE e.thread = t.thread AND e.seq = t.seq)
            FROM unnest($1::integer[], $2::text[], $3::bigint[]) AS t(i, thread, seq)"""
        self.read = (
            f"SELECT {_COLUMNS} FROM {s}.events "
            "WHERE thread = $1 AND seq > $2 AND seq <= $3 ORDER BY seq"
        )
        self.head = f"SELECT coalesce(max(seq), 0) FROM {s}.events WHERE thread = $1"
        self.head_event = (
            f"SELECT seq, hash FROM {s}.events WHERE thread = $1 ORDER BY seq DESC LIMIT 1"
        )
        # the same with the schema version, in one round trip: a log's first call
        self.head_event_checked = (
            f"SELECT ({self.version})::bigint, h.seq, h.hash FROM (SELECT 1) AS one "
            f"LEFT JOIN ({self.head_event}) AS h ON true"
        )
        # What folding a thread's head from cold needs, in one statement (see
        # PostgresLog.load_head), as rows (part, seq, ...): part 0 is the head (seq) and
        # the schema version (parent); part 1 the newest $2 snapshots at or below the
        # head (seq, data in body); part 2 the events after the newest of them up to the
        # head. Scalar columns only: array results would make asyncpg introspect their
        # types on a fresh connection (about 10 ms).
        self.load_head = f"""
            WITH h AS ({self.head}),
                 s AS (SELECT seq, data FROM {s}.snapshots
                       WHERE thread = $1 AND seq <= (SELECT * FROM h)
                       ORDER BY seq DESC LIMIT $2)
            SELECT 0 AS part, (SELECT * FROM h) AS seq, ({self.version})::bigint AS parent,
                   NULL::smallint AS kind, NULL::text AS run_id, NULL::bigint AS step,
                   NULL::text AS task_id, NULL::text AS ns, NULL::float8 AS ts,
                   NULL::bytea AS body, NULL::bytea AS hash
            UNION ALL
            SELECT 1, seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL, data, NULL FROM s
            UNION ALL
            SELECT 2, {_COLUMNS} FROM {s}.events
            WHERE thread = $1 AND seq <= (SELECT * FROM h)
              AND seq > (SELECT coalesce(max(seq), 0) FROM s)"""
        self.threads = f"""
            SELECT g.thread, g.head, g.n, g.bytes, l.ts
            FROM (SELECT thread, max(seq) AS head, count(*) AS n,
                         coalesce(sum(octet_length(body)), 0) AS bytes
                  FROM {s}.events GROUP BY thread) AS g
            JOIN {s}.events l ON l.thread = g.thread AND l.seq = g.head
            ORDER BY g.thread COLLATE "C" """
        self.put_snapshot = (
            f"INSERT INTO {s}.snapshots (thread, seq, data) VALUES ($1, $2, $3) "
            "ON CONFLICT (thread, seq) DO UPDATE SET data = EXCLUDED.data"
        )
        self.latest_snapshot = (
            f"SELECT seq, data FROM {s}.snapshots WHERE thread = $1 AND seq <= $2 "
            "ORDER BY seq DESC LIMIT 1"
        )
        self.recent_snapshots = (
            f"SELECT seq, data FROM {s}.snapshots WHERE thread = $1 AND seq <= $2 "
            "ORDER BY seq DESC LIMIT $3"
        )
        self.snapshots = f"SELECT seq FROM {s}.snapshots WHERE thread = $1 ORDER BY seq"
        self.delete_snapshots = f"DELETE FROM {s}.snapshots WHERE thread = $1"
        # one statement, so one implicit transaction: events and snapshots go together
        self.delete_thread = (
            f"WITH gone AS (DELETE FROM {s}.events WHERE thread = $1), "
            f"runs AS (DELETE FROM {s}.runs WHERE thread = $1) "
            f"DELETE FROM {s}.snapshots WHERE thread = $1"
        )
        # $1 is the raw schema name; format('%I') quotes it as an identifier
        self.storage_bytes = (
            "SELECT pg_total_relation_size(format('%I.events', $1::text)::regclass) "
            "+ pg_total_relation_size(format('%I.snapshots', $1::text)::regclass)"
        )

    @staticmethod
    def _insert(s: str, *, fenced: bool, drops: bool = False, ends: bool = False) -> str:
        fence = extra = names = gone = ended = ""
        if fenced:
            held = f"""(
                                SELECT r.token FROM {s}.runs r
                                WHERE r.run_id = t.lrun AND r.status = 'running'
                                  AND r.lease_expires > {_pg_runs.NOW} FOR SHARE) = t.ltoken"""
            extra, names = ", $14::text[], $15::text[]", ", lrun, ltoken"
            if ends:
                held = (f"CASE WHEN t.lstatus IS NOT NULL THEN t.lrun IN (SELECT run_id FROM "
                        f"ended) ELSE {held} END")
                extra, names = extra + ", $17::text[]", names + ", lstatus"
                returned = ", ".join("r." + c.strip() for c in _pg_runs.COLUMNS.split(","))
                ended = f""",
            ended AS (
                UPDATE {s}.runs r SET status = d.lstatus, result = d.lresult, error = d.lerror,
                       finished = {_pg_runs.NOW}, updated = {_pg_runs.NOW}, token = NULL,
                       lease_expires = NULL
                FROM unnest($14::text[], $15::text[], $17::text[], $18::bytea[], $19::text[])
                     AS d(lrun, ltoken, lstatus, lresult, lerror)
                WHERE d.lstatus IS NOT NULL AND r.run_id = d.lrun AND r.token = d.ltoken
                  AND r.status = 'running' AND r.lease_expires > {_pg_runs.NOW}
                RETURNING {returned}),
            w AS (SELECT EXISTS (SELECT 1 FROM {s}.runs o WHERE o.status = 'pending') AS waits),
            added AS ("""
            if drops:
                held = f"CASE WHEN t.ldrop THEN t.lrun IN (SELECT run_id FROM gone) ELSE {held} END"
                extra, names = extra + ", $16::boolean[]", names + ", ldrop"
                gone = f"""
            WITH gone AS (
                DELETE FROM {s}.runs r
                USING unnest($14::text[], $15::text[], $16::boolean[]) AS d(lrun, ltoken, ldrop)
                WHERE d.ldrop AND r.run_id = d.lrun AND r.token = d.ltoken
                  AND r.status = 'running' AND r.lease_expires > {_pg_runs.NOW}
                RETURNING r.run_id)"""
            fence = f"""
                            AND (t.lrun IS NULL OR {held})"""
        insert = f"""{gone}{ended}
            INSERT INTO {s}.events (thread, {_COLUMNS})
            SELECT t.thread,
                   CASE WHEN t.seq <> t.base + 1 OR ((
                            CASE WHEN t.phash IS NOT NULL AND t.parent = t.base
                            THEN (SELECT p.hash FROM {s}.events p
                                  WHERE p.thread = t.thread AND p.seq = t.base) = t.phash
                            ELSE (t.base = 0 OR (
                                    SELECT p.seq FROM {s}.events p
                                    WHERE p.thread = t.thread AND p.seq = t.base) IS NOT NULL)
                                 AND (t.phash IS NULL OR (
                                    SELECT p.hash FROM {s}.events p
                                    WHERE p.thread = t.thread AND p.seq = t.parent) = t.phash)
                            END){fence})
                        THEN t.seq END,
                   t.parent, t.kind, t.run_id, t.step, t.task_id, t.ns, t.ts, t.body, t.hash
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::smallint[], $5::text[],
                        $6::bigint[], $7::text[], $8::text[], $9::float8[], $10::bytea[],
                        $11::bytea[], $12::bigint[], $13::bytea[]{extra})
                 AS t(thread, seq, parent, kind, run_id, step, task_id, ns, ts, body, hash,
                      base, phash{names})"""
        if not ends:
            return insert
        return f"""{insert})
            SELECT ended.*, w.waits,
                   pg_notify($20::text, $21::text || CASE WHEN w.waits THEN ' E ' ELSE ' e ' END || ended.run_id)
            FROM ended, w"""
