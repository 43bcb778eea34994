"""PostgreSQL-specific behaviour: schema setup and versions, pools, the sync and async
saver forms, cross-process conflicts, and appends across connection losses and server
outages. (The port's contract is tested for every store in test_store_contract.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import asyncpg
import pytest

from lograph.adapters._bridge import Bridge
from lograph.adapters._pg_sql import Statements
from lograph.adapters.pgserver import TempPostgres, _free_port
from lograph.adapters.postgres import (
    SCHEMA_VERSION,
    AsyncPostgresSaver,
    PostgresLog,
    PostgresSaver,
)
from lograph.eventlog import (
    GENESIS,
    Append,
    ConflictError,
    Event,
    SchemaVersionError,
    StoreUnavailableError,
    make_event,
    verify_link,
)
from lograph.runtime.lowlevel import portal
from tests import _store_postgres as pg


def chain(n: int, *, start: int = 1, after: Event | None = None, tag: str = "") -> list[Event]:
    """``n`` linked events with seqs ``start..``, sealed after ``after`` (or genesis)."""
    out: list[Event] = []
    parent_hash = after.hash if after is not None else GENESIS
    for seq in range(start, start + n):
        e = make_event(parent_hash, seq=seq, parent=seq - 1, kind="node.writes",
                       run_id="r", step=seq, ts=float(seq), body=f"{tag}{seq}".encode())
        out.append(e)
        parent_hash = e.hash
    return out


def assert_chain(events: list[Event]) -> None:
    """Dense seqs from 1, each event sealed after the previous one."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS
    for e in events:
        assert verify_link(e, prev), e.seq
        prev = e.hash


async def raw(dsn: str, sql: str, *args: object) -> object:
    """One statement on a connection of its own (asyncpg needs asyncio: via the bridge)."""

    async def run() -> object:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return await Bridge.here().run(run)


# -- schema setup ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_setup_is_idempotent(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        assert await log.schema_version() == 0
        await log.setup()
        await log.setup()
        assert await log.schema_version() == SCHEMA_VERSION
        await log.append("t", chain(2), 0)
    async with await PostgresLog.open(dsn, schema=schema) as again:
        await again.setup()  # a second process starting up: nothing changes
        assert len(await again.read("t")) == 2
    rows = await raw(dsn, f'SELECT count(*) FROM "{schema}".lograph_schema_version')
    assert rows == SCHEMA_VERSION


@pytest.mark.anyio
async def test_setup_migrates_a_version_1_schema_with_its_events(anyio_backend: str) -> None:
    """A database written by the first lograph (schema 1: kind as text, other column
    order) is migrated by setup(): every event reads back the same, and appends go on."""
    from lograph.adapters._pg_sql import MIGRATIONS, quote_ident
    from lograph.eventlog import KINDS

    dsn, schema = await pg.dsn(), pg.fresh_schema()
    s = quote_ident(schema)
    events: list[Event] = []
    for seq, kind in enumerate(sorted(KINDS), start=1):  # one event of every kind
        events.append(make_event(events[-1].hash if events else GENESIS, seq=seq, parent=seq - 1,
                                 kind=kind, run_id="r", step=seq, task_id=f"task-{seq}",
                                 ns="" if seq % 2 else "sub:1", ts=float(seq), body=b"\xa0"))

    async def write_v1() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {s}")
            await conn.execute(f"CREATE TABLE {s}.lograph_schema_version (version integer "
                               "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            for statement in MIGRATIONS[0]:
                await conn.execute(statement.format(s=s))
            await conn.execute(f"INSERT INTO {s}.lograph_schema_version (version) VALUES (1)")
            for e in events:
                await conn.execute(
                    f"INSERT INTO {s}.events (thread, seq, parent, kind, run_id, step, task_id, ns,"
                    " ts, body, hash) VALUES ('t', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    e.seq, e.parent, e.kind, e.run_id, e.step, e.task_id, e.ns, e.ts, e.body, e.hash,
                )
        finally:
            await conn.close()

    await Bridge.here().run(write_v1)
    async with await PostgresLog.open(dsn, schema=schema) as log:
        assert await log.schema_version() == 1
        with pytest.raises(SchemaVersionError, match=r"call `await log\.setup"):
            await log.read("t")
        await log.setup()
        assert await log.schema_version() == SCHEMA_VERSION
        assert await log.read("t") == events
        more = chain(2, start=len(events) + 1, after=events[-1])
        await log.append("t", more, len(events))
        assert await log.read("t") == events + more


@pytest.mark.anyio
async def test_setup_migrates_a_version_5_schema_with_its_runs(anyio_backend: str) -> None:
    """Schema 6 names a run's graph: a version 5 schema's runs read back with no graph
    (any worker's) and are claimed, listed and finished as before; new runs name theirs."""
    from lograph.adapters import _pg_runs
    from lograph.adapters._pg_sql import MIGRATIONS, quote_ident
    from lograph.eventlog import NewRun

    dsn, schema = await pg.dsn(), pg.fresh_schema()
    s = quote_ident(schema)

    async def write_v5() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {s}")
            await conn.execute(f"CREATE TABLE {s}.lograph_schema_version (version integer "
                               "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            for step in MIGRATIONS[:5]:
                for statement in step:
                    await conn.execute(statement.format(s=s))
            await conn.execute(f"INSERT INTO {s}.lograph_schema_version (version) VALUES (5)")
            await conn.execute(
                f"INSERT INTO {s}.runs (run_id, thread, status, input, config, durability, "
                "strategy, metadata, created, updated, attempts, first_seq) VALUES "
                "('old', 't', 'pending', '\\xa0'::bytea, ''::bytea, 'sync', 'enqueue', "
                "'{\"user\": \"ann\"}'::jsonb, 1, 1, 0, 0)")
        finally:
            await conn.close()

    assert _pg_runs.MIGRATION_GRAPH == MIGRATIONS[5]
    await Bridge.here().run(write_v5)
    async with await PostgresLog.open(dsn, schema=schema) as log:
        assert await log.schema_version() == 5
        await log.setup()
        assert await log.schema_version() == SCHEMA_VERSION
        (old,) = await log.list_runs()
        assert (old.run_id, old.graph, old.metadata, old.input) == ("old", None, {"user": "ann"}, b"\xa0")
        await log.create_run(NewRun("new", "t2", b"\xa0", graph="g"))
        assert [r.run_id for r in await log.list_runs(graph="g")] == ["new"]
        claimed = await log.claim_run("w", 30, graph="g", limit=1)
        assert claimed is not None and (claimed[0].run_id, claimed[0].graph) == ("old", "g")
        await log.finish_run(claimed[1], "success")


@pytest.mark.anyio
async def test_concurrent_setups_are_safe(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    logs = [await PostgresLog.open(dsn, schema=schema, max_size=1) for _ in range(8)]
    try:
        async with anyio.create_task_group() as tg:
            for log in logs:
                tg.start_soon(log.setup)
        for log in logs:
            assert await log.schema_version() == SCHEMA_VERSION
        await logs[0].append("t", chain(1), 0)
        assert await logs[-1].head("t") == 1
    finally:
        for log in logs:
            await log.aclose()


@pytest.mark.anyio
async def test_schema_name_needing_quotes(anyio_backend: str) -> None:
    schema = f'My "Schema" {uuid.uuid4().hex[:6]}; DROP'
    dsn = await pg.dsn()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
        await log.append("t", chain(3), 0)
        await log.put_snapshot("t", 2, b"snap")
        assert [e.seq for e in await log.read("t")] == [1, 2, 3]
        assert (await log.threads())[0].head == 3
        assert await log.storage_bytes() > 0
        await log.delete_thread("t")
        assert await log.head("t") == 0
    assert await raw(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema) == 1


@pytest.mark.anyio
async def test_newer_schema_version_is_refused(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
        await log.append("t", chain(1), 0)
    await raw(dsn, f'INSERT INTO "{schema}".lograph_schema_version (version) VALUES ($1)',
              SCHEMA_VERSION + 1)
    async with await PostgresLog.open(dsn, schema=schema) as newer:
        with pytest.raises(SchemaVersionError, match="newer lograph"):
            await newer.setup()
        with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 1}"):
            await newer.read("t")
    # refused, not touched
    assert await raw(dsn, f'SELECT count(*) FROM "{schema}".events') == 1


@pytest.mark.anyio
async def test_missing_setup_is_a_clear_error(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        for call in (log.head("t"), log.threads(), log.append("t", chain(1), 0)):
            with pytest.raises(SchemaVersionError, match=r"not set up.*setup\(\)"):
                await call
        await log.setup()
        await log.append("t", chain(1), 0)
        assert await log.head("t") == 1


@pytest.mark.anyio
async def test_older_schema_asks_for_setup(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    await raw(dsn, f'CREATE SCHEMA "{schema}"')
    await raw(dsn, f'CREATE TABLE "{schema}".lograph_schema_version (version integer PRIMARY KEY)')
    async with await PostgresLog.open(dsn, schema=schema) as log:
        with pytest.raises(SchemaVersionError, match=r"version 0.*setup\(\)"):
            await log.head("t")


@pytest.mark.anyio
async def test_bad_schema_name_fails_before_io(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match="schema name"):
        await PostgresLog.open("postgresql://nobody@127.0.0.1:1/none", schema="")


@pytest.mark.anyio
async def test_unreachable_server_is_store_unavailable(anyio_backend: str) -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(StoreUnavailableError, match="connecting kept failing"):
        await PostgresLog.open(f"postgresql://postgres@127.0.0.1:{port}/x", retry_for=0.3)


@pytest.mark.anyio
async def test_bad_dsn_is_a_value_error(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match="invalid PostgreSQL connection settings"):
        await PostgresLog.open("mysql://nobody@127.0.0.1/x")


@pytest.mark.parametrize(
    ("dsn", "kwargs", "env", "skip"),
    [
        ("postgresql://u@127.0.0.1:5432/db", {}, None, True),
        ("postgresql://u@localhost/db", {}, None, True),
        ("postgres://u:pw@[::1]:5432/db", {}, None, True),
        ("postgresql://u@127.0.0.1,localhost:5433/db", {}, None, True),
        ("postgresql:///db?host=localhost", {}, None, True),
        ("postgresql://u@db.example.com/db", {}, None, False),
        ("postgresql://u@127.0.0.1,db.example.com/db", {}, None, False),
        ("postgresql://u@127.0.0.1/db?sslmode=require", {}, None, False),
        ("postgresql://u@127.0.0.1/db?ssl=true", {}, None, False),
        ("postgresql://u@127.0.0.1/db?sslrootcert=/etc/ca.pem", {}, None, False),
        ("postgresql://u@127.0.0.1/db", {"ssl": True}, None, False),
        ("postgresql://u@127.0.0.1/db", {"direct_tls": True}, None, False),
        ("postgresql://u@127.0.0.1/db", {}, ("PGSSLMODE", "require"), False),
        ("postgresql://u@127.0.0.1/db", {}, ("PGSSLROOTCERT", "/etc/ca.pem"), False),
        ("postgresql:///db?host=/var/run/postgresql", {}, None, False),
        ("postgresql:///db", {}, None, False),
    ],
)
def test_tls_is_skipped_on_loopback_unless_asked_for(
    dsn: str, kwargs: dict[str, object], env: tuple[str, str] | None, skip: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lograph.adapters._pg_log import _loopback_without_tls

    for name in [n for n in os.environ if n.startswith("PGSSL")]:
        monkeypatch.delenv(name)
    if env is not None:
        monkeypatch.setenv(*env)
    assert _loopback_without_tls(dsn, dict(kwargs)) is skip


@pytest.mark.anyio
async def test_a_loopback_pool_connects_without_asking_for_tls(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test server listens on 127.0.0.1: the pool is told ssl=False; a DSN that
    names an sslmode is passed on untouched."""
    for name in [n for n in os.environ if n.startswith("PGSSL")]:
        monkeypatch.delenv(name)
    seen: list[dict[str, object]] = []
    real = asyncpg.create_pool

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "create_pool", spy)
    dsn = await pg.dsn()
    async with await PostgresLog.open(dsn, schema=pg.fresh_schema()):
        pass
    async with await PostgresLog.open(dsn + "?sslmode=disable", schema=pg.fresh_schema()):
        pass
    assert seen[0].get("ssl") is False
    assert "ssl" not in seen[1]


@pytest.mark.anyio
async def test_missing_database_fails_at_once(anyio_backend: str) -> None:
    dsn = (await pg.dsn()).rsplit("/", 1)[0] + "/no_such_db"
    with anyio.fail_after(5):  # not transient: no retrying for retry_for seconds
        with pytest.raises(StoreUnavailableError, match="3D000"):
            await PostgresLog.open(dsn, retry_for=60)


@pytest.mark.anyio
async def test_generic_plans_probe_the_primary_key(anyio_backend: str) -> None:
    """Regression: an EXISTS gap check became a hashed subplan reading the whole table
    on every append once PostgreSQL chose a generic plan (fresh tables invite it)."""
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
    sql = Statements(schema)
    arrays = ("'{t,t}','{2,3}','{1,2}','{9,9}','{r,r}','{0,0}','{a,a}','{n,n}','{0,0}','{x,y}',"
              "'{x,y}','{1,1}','{h,NULL}'")
    probes = {
        "ins": (sql.insert, arrays),
        "stored": (sql.stored_hashes, "'{0}','{t}','{1}'"),
        "rd": (sql.read, "'t', 0, 10"),
        "hd": (sql.head, "'t'"),
        "hde": (sql.head_event, "'t'"),
        "snap": (sql.latest_snapshot, "'t', 10"),
    }

    async def plans() -> dict[str, str]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            out = {}
            for name, (statement, args) in probes.items():
                await conn.execute(f"PREPARE {name} AS {statement}")
                rows = await conn.fetch(f"EXPLAIN EXECUTE {name}({args})")
                out[name] = "\n".join(r[0] for r in rows)
            return out
        finally:
            await conn.close()

    for name, plan in (await Bridge.here().run(plans)).items():
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"
        assert "_pkey" in plan, f"{name}:\n{plan}"


# -- appends --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_batch_conflicts_fail_alone(anyio_backend: str, tmp_path: Path) -> None:
    async with pg.open_log(tmp_path) as log:
        a = chain(3)
        await log.append("a", a, 0)
        more = chain(2, start=4, after=a[-1])
        results = await log.append_batch([
            Append("a", tuple(more), 3),                           # ok
            Append("b", tuple(chain(2)), 0),                        # ok
            Append("a", tuple(chain(1, start=4, tag="x")), 3),      # stale: conflict
            Append("c", tuple(chain(1, start=5)), 4),               # beyond head: conflict
            Append("a", tuple(chain(1, start=6, after=more[-1])), 5),  # follows item 0
            Append("d", (), 0),                                     # invalid: ValueError
        ])
        assert results[0] is None and results[1] is None and results[4] is None
        assert isinstance(results[2], ConflictError) and results[2].actual_head == 5
        assert isinstance(results[3], ConflictError) and results[3].actual_head == 0
        assert isinstance(results[5], ValueError)
        assert_chain(await log.read("a"))
        assert await log.head("c") == 0 and await log.head("b") == 2


@pytest.mark.anyio
async def test_same_thread_items_in_one_batch(anyio_backend: str, tmp_path: Path) -> None:
    async with pg.open_log(tmp_path) as log:
        first = chain(2)
        second = chain(2, start=3, after=first[-1])
        assert await log.append_batch([Append("t", tuple(first), 0),
                                       Append("t", tuple(second), 2)]) == [None, None]
        assert_chain(await log.read("t"))


def test_two_processes_one_thread_exactly_one_conflict(tmp_path: Path) -> None:
    dsn, schema, rounds = pg.server().dsn, pg.fresh_schema(), 8
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, sys
        from lograph.adapters.postgres import PostgresLog
        from lograph.eventlog import ConflictError, GENESIS, make_event

        async def main():
            log = await PostgresLog.open({dsn!r}, schema={schema!r}, max_size=1)
            try:
                await log.head("shared")  # connected and checked before the race
                print("ready", flush=True)
                for r in range({rounds}):
                    await asyncio.to_thread(sys.stdin.readline)
                    e = make_event(GENESIS, seq=r + 1, parent=r, kind="node.writes",
                                   ts=0.0, body=sys.argv[1].encode())
                    try:
                        await log.append("shared", [e], r)
                    except ConflictError:
                        print("conflict", flush=True)
                    else:
                        print("ok", flush=True)
            finally:
                await log.aclose()

        asyncio.run(main())
    """))

    async def setup() -> None:
        async with await PostgresLog.open(dsn, schema=schema) as log:
            await log.setup()

    anyio.run(setup)
    procs = [
        subprocess.Popen([sys.executable, "-W", "error", str(script), name], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
        for name in ("p1", "p2")
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for _ in range(rounds):
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            answers = sorted(p.stdout.readline().strip() for p in procs if p.stdout is not None)
            assert answers == ["conflict", "ok"]
        for p in procs:
            assert p.wait(timeout=30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout):
                if f is not None:
                    f.close()

    async def check() -> None:
        async with await PostgresLog.open(dsn, schema=schema) as log:
            events = await log.read("shared")
            assert [e.seq for e in events] == list(range(1, rounds + 1))

    anyio.run(check)


# -- pools and savers -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # an asyncpg pool needs asyncio
async def test_from_an_existing_pool(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        log = PostgresLog.from_pool(pool, schema=schema)
        await log.setup()
        await log.append("t", chain(2), 0)
        await log.aclose()
        await log.aclose()
        assert not pool._closed  # the caller's pool stays open
        async with AsyncPostgresSaver(pool, schema=schema) as saver:
            assert isinstance(saver.log, PostgresLog)
            assert await saver.log.head("t") == 2
        assert await pool.fetchval(f'SELECT count(*) FROM "{schema}".events') == 2
    finally:
        await pool.close()


def test_saver_refuses_other_connections() -> None:
    with pytest.raises(TypeError, match="from_conn_string"):
        AsyncPostgresSaver("postgresql://x")


def test_sync_saver_from_plain_sync_code() -> None:
    dsn, schema = pg.server().dsn, pg.fresh_schema()
    assert issubclass(PostgresSaver, AsyncPostgresSaver)
    with PostgresSaver.from_conn_string(dsn, schema=schema, snapshot_every=7) as saver:
        assert saver.setup() is None  # the sync spelling blocks until done
        assert saver.snapshot_every == 7
        p = portal()
        p.call(saver.log.append, "t", chain(2), 0)
        assert p.call(saver.log.head, "t") == 2
        saver.delete_thread("t")
        assert p.call(saver.log.head, "t") == 0
    # closed on exit: the pool is gone
    with pytest.raises(StoreUnavailableError, match="closed"):
        p.call(saver.log.head, "t")


@pytest.mark.anyio
async def test_async_saver_from_conn_string(anyio_backend: str) -> None:
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    async with AsyncPostgresSaver.from_conn_string(dsn, schema=schema) as saver:
        await saver.setup()  # the async spelling: setup() returns an awaitable in a loop
        await saver.asetup()
        await saver.log.append("t", chain(3), 0)
        assert [e.seq for e in await saver.log.read("t", after=1)] == [2, 3]
        assert await saver.storage_bytes() > 0
        # the sync form inside the loop opens a saver of its own on the sync facade's loop
        with PostgresSaver.from_conn_string(dsn, schema=schema) as other:
            assert other.setup() is None  # PostgresSaver.setup() blocks, also here
            assert portal().call(other.log.head, "t") == 3  # this loop waits meanwhile
    with pytest.raises(StoreUnavailableError, match="closed"):
        await saver.log.head("t")


# -- transient failures -------------------------------------------------------------------


@pytest.mark.anyio
async def test_terminated_connections_are_retried(anyio_backend: str) -> None:
    dsn, schema, app = await pg.dsn(), pg.fresh_schema(), f"victim-{uuid.uuid4().hex[:8]}"
    log = await PostgresLog.open(dsn, schema=schema, min_size=4, max_size=4,
                                 server_settings={"application_name": app})
    async with log:
        await log.setup()
        events = chain(12)
        for k in range(4):
            killed = await raw(
                dsn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE application_name = $1", app)
            assert isinstance(killed, int) and killed >= 1
            await log.append_batch([
                Append("t", tuple(events[3 * k:3 * k + 3]), 3 * k),
                Append(f"o{k}", tuple(chain(1)), 0),
            ])
        assert_chain(await log.read("t"))
        assert [t.thread for t in await log.threads()] == ["o0", "o1", "o2", "o3", "t"]


@pytest.mark.anyio
async def test_lost_commit_acknowledgement_is_not_written_twice(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server commits, then the connection drops before the client hears it."""
    lost: list[int] = []
    write = PostgresLog._write

    async def write_then_lose(self: PostgresLog, conn: object, *args: object) -> None:
        await write(self, conn, *args)
        if not lost:
            lost.append(1)
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(PostgresLog, "_write", write_then_lose)
    async with pg.open_log(tmp_path) as log:
        a = chain(2)
        results = await log.append_batch([Append("a", tuple(a), 0), Append("b", tuple(chain(1)), 0)])
        assert lost and results == [None, None]  # not a conflict with our own write
        await log.append("a", chain(1, start=3, after=a[-1]), 2)
        assert_chain(await log.read("a"))
        assert await log.head("b") == 1

        # the same through the savepoint path: one item of the batch conflicts
        lost.clear()
        c = chain(2)
        results = await log.append_batch([
            Append("c", tuple(c), 0),
            Append("b", tuple(chain(1, tag="stale")), 0),
            Append("d", tuple(chain(3)), 0),
        ])
        assert lost
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ConflictError) and results[1].actual_head == 1
        assert await log.read("c") == c
        assert [e.seq for e in await log.read("d")] == [1, 2, 3]


@pytest.fixture(scope="module")
def outage_server() -> Iterator[TempPostgres]:
    """A server of its own: these tests stop and restart it."""
    server = pg.start_server(fsync=False, max_connections=30)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.anyio
async def test_server_restart_within_budget_is_retried(
    anyio_backend: str, outage_server: TempPostgres
) -> None:
    log = await PostgresLog.open(outage_server.dsn, schema=pg.fresh_schema(), retry_for=30)
    async with log:
        await log.setup()
        events = chain(6)
        await log.append("t", events[:3], 0)
        await anyio.to_thread.run_sync(outage_server.kill)

        async def restart_soon() -> None:
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(outage_server.restart)

        async with anyio.create_task_group() as tg:
            tg.start_soon(restart_soon)
            await log.append("t", events[3:], 3)  # waits out the outage
        assert_chain(await log.read("t"))
        assert len(await log.read("t")) == 6


@pytest.mark.anyio
async def test_server_down_beyond_budget_then_back(
    anyio_backend: str, outage_server: TempPostgres
) -> None:
    log = await PostgresLog.open(outage_server.dsn, schema=pg.fresh_schema(), retry_for=1.0)
    async with log:
        await log.setup()
        events = chain(5)
        await log.append("t", events[:2], 0)
        await anyio.to_thread.run_sync(outage_server.kill)
        try:
            with pytest.raises(StoreUnavailableError, match=r"append kept failing for 1\.0s"):
                await log.append("t", events[2:4], 2)
            with pytest.raises(StoreUnavailableError, match="read kept failing"):
                await log.read("t")
        finally:
            await anyio.to_thread.run_sync(outage_server.restart)
        assert_chain(await log.read("t"))
        assert await log.head("t") == 2
        await log.append("t", events[2:], 2)
        assert_chain(await log.read("t"))
        assert await log.head("t") == 5


# -- the throwaway server -------------------------------------------------------------------


def test_temp_postgres_lifecycle() -> None:
    server = pg.start_server(fsync=False, max_connections=10)
    root = server.root
    assert root is not None and root.exists()
    assert server.dsn.startswith("postgresql://postgres@127.0.0.1:")
    server.kill()
    assert not server.running and root.exists()
    server.restart()
    assert server.running
    server.stop()
    server.stop()  # twice is fine
    assert not root.exists()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.datadir


def test_temp_postgres_reports_why_it_cannot_start() -> None:
    pg.server()  # skips when no server can start here at all
    bad = TempPostgres(settings={"shared_buffers": "'lots'"}, start_timeout=20)
    with pytest.raises(RuntimeError, match="pg_ctl start failed") as info:
        bad.start()
    assert "shared_buffers" in str(info.value)
    assert bad.root is None  # cleaned up


def test_temp_postgres_leaves_nothing_when_its_owner_is_killed(tmp_path: Path) -> None:
    pg.server()  # skips when no server can start here at all
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent("""
        import os, signal
        from lograph.adapters.pgserver import TempPostgres
        server = TempPostgres(fsync=False, max_connections=10).start()
        print(server.root, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no finally
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    root = Path(proc.stdout.strip())
    assert root.name.startswith("lograph-pg-")
    deadline = time.monotonic() + 30
    while root.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not root.exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(root) not in ps  # no server left running on it


@pytest.mark.anyio
async def test_large_bodies_and_snapshots_are_stored_compressed(anyio_backend: str) -> None:
    from lograph.eventlog import encode

    dsn, schema = await pg.dsn(), pg.fresh_schema()
    prose = encode({"content": "the model answered at some length " * 30}, path="x")
    first = make_event(GENESIS, seq=1, parent=0, kind="node.writes", ts=1.0, body=prose)
    events = [first, make_event(first.hash, seq=2, parent=1, kind="checkpoint", ts=2.0, body=b"\xa0")]
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
        await log.append("t", events, 0)
        await log.put_snapshot("t", 2, prose)
        assert await log.read("t") == events
        assert await log.latest_snapshot("t", 2) == (2, prose)
    stored = await raw(dsn, f'SELECT body FROM "{schema}".events WHERE seq = 1')
    assert isinstance(stored, bytes) and stored[0] == 0xFF and len(stored) < len(prose) // 2
    assert await raw(dsn, f'SELECT body FROM "{schema}".events WHERE seq = 2') == b"\xa0"
    data = await raw(dsn, f'SELECT data FROM "{schema}".snapshots')
    assert isinstance(data, bytes) and data[0] == 0xFF
    # PostgreSQL does not try to compress them again
    storage = await raw(dsn, "SELECT string_agg(attstorage::text, '' ORDER BY attrelid::regclass::text) "
                             "FROM pg_attribute WHERE (attrelid, attname) IN "
                             f"(('\"{schema}\".events'::regclass, 'body'), "
                             f"('\"{schema}\".snapshots'::regclass, 'data'))")
    assert storage == "ee"


@pytest.mark.anyio
async def test_load_head_answers_like_head_snapshots_and_read(anyio_backend: str) -> None:
    """The cold load's one statement returns what its three would."""
    dsn, schema = await pg.dsn(), pg.fresh_schema()
    events = chain(9)
    async with await PostgresLog.open(dsn, schema=schema) as log:
        await log.setup()
        assert await log.load_head("t", 17) == (0, [], [])
        await log.append("t", events, 0)
        assert await log.load_head("t", 17) == (9, [], events)
        for seq in (2, 4, 6):
            await log.put_snapshot("t", seq, f"snap {seq}".encode())
        assert await log.load_head("t", 17) == (9, [(6, b"snap 6"), (4, b"snap 4"), (2, b"snap 2")], events[6:])
        assert await log.load_head("t", 2) == (9, [(6, b"snap 6"), (4, b"snap 4")], events[6:])
        assert await log.load_head("other", 17) == (0, [], [])
    async with await PostgresLog.open(dsn, schema=schema) as fresh:  # the version check rides along
        assert await fresh.load_head("t", 1) == (9, [(6, b"snap 6")], events[6:])
    await raw(dsn, f'INSERT INTO "{schema}".lograph_schema_version (version) VALUES ($1)', SCHEMA_VERSION + 1)
    async with await PostgresLog.open(dsn, schema=schema) as newer:
        with pytest.raises(SchemaVersionError, match="newer lograph"):
            await newer.load_head("t", 17)
