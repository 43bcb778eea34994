"""The one place where asyncpg's errors become lograph's (``raise ... from e``).

Ladder:
- transient (the server restarted, a connection dropped, a serialization failure or a
  deadlock): retried by the caller within its budget, then StoreUnavailableError;
- unique violation on an event's key: ConflictError for that append only;
- a value the server refuses (too long for an index, a character it cannot keep):
  RowRefusedError for that append only;
- the schema or its tables are missing: SchemaVersionError saying to call setup();
- malformed connection settings (a bad DSN): ValueError;
- anything else from the server or the driver: StoreUnavailableError naming the
  operation and the SQLSTATE.
"""

from __future__ import annotations

import asyncpg

from lograph.eventlog import (
    ConflictError,
    RowRefusedError,
    SchemaVersionError,
    StoreUnavailableError,
)

__all__ = ["is_conflict", "is_refusal", "is_transient", "not_a_connection", "translate"]

# serialization failure, deadlock, admin/crash shutdown, cannot connect now (starting up)
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})
# undefined table, invalid schema name
_MISSING_SQLSTATES = frozenset({"42P01", "3F000"})
# unique violation: another writer stored the key; not-null on seq: the append's base
# event is not stored (see the gap check in _pg_sql)
_CONFLICT_SQLSTATES = frozenset({"23505", "23502"})


def is_transient(e: BaseException) -> bool:
    """True for a failure that a retry on a fresh connection may cure."""
    if isinstance(e, OSError):  # refused, reset, timeouts (TimeoutError is an OSError)
        return True
    if isinstance(e, asyncpg.PostgresConnectionError):  # SQLSTATE class 08
        return True
    if isinstance(e, asyncpg.PostgresError):
        return getattr(e, "sqlstate", None) in _TRANSIENT_SQLSTATES
    if isinstance(e, asyncpg.InterfaceError):
        return "connection is closed" in str(e)
    # asyncpg's protocol is out of step with the server, e.g. a connection the server
    # terminated while it sat idle in the pool: a fresh connection cures it
    return isinstance(e, asyncpg.InternalClientError)


def is_conflict(e: BaseException) -> bool:
    """True when an append's insert failed because its thread moved on (or back)."""
    return isinstance(e, asyncpg.PostgresError) and getattr(e, "sqlstate", None) in _CONFLICT_SQLSTATES


def is_refusal(e: BaseException) -> bool:
    """True when the server refused a row's value (a data exception: SQLSTATE class 22,
    such as a character the encoding lacks; or a limit: class 54, such as an index entry
    too large): that append alone fails."""
    sqlstate = getattr(e, "sqlstate", None) or ""
    return isinstance(e, asyncpg.PostgresError) and sqlstate[:2] in ("22", "54")


def refused(e: BaseException, thread: str) -> RowRefusedError:
    err = RowRefusedError(
        f"thread {thread!r}: PostgreSQL refused a row of this append (SQLSTATE "
        f"{getattr(e, 'sqlstate', '?')}: {e}); nothing of it was written: make the value "
        "smaller or storable")
    err.__cause__ = e
    return err


def conflict(e: BaseException, thread: str, expect_head: int, actual: int | None) -> ConflictError:
    err = ConflictError(thread, expect_head, actual)
    err.__cause__ = e
    return err


def translate(
    e: BaseException, what: str, schema: str, *, gave_up_after: float | None = None
) -> Exception:
    """The lograph error for driver error ``e`` raised while doing ``what``."""
    err: Exception
    if isinstance(e, asyncpg.ClientConfigurationError) or (
            isinstance(e, ValueError) and what == "connecting"):  # the DSN's parse (a port, a host)
        err = ValueError(f"invalid PostgreSQL connection settings: {e}")
    elif gave_up_after is not None:
        err = StoreUnavailableError(
            f"PostgreSQL store unavailable: {what} kept failing for {gave_up_after:.1f}s "
            f"({type(e).__name__}: {e}); check that the server is up and reachable, "
            "then retry (an append's outcome is unknown: reload the thread's head)"
        )
    elif isinstance(e, asyncpg.PostgresError) and getattr(e, "sqlstate", None) in _MISSING_SQLSTATES:
        err = SchemaVersionError(
            f"PostgreSQL schema {schema!r} is not set up (missing: {e}); "
            "call `await log.setup()` (or `saver.setup()`) once before using the store"
        )
    elif isinstance(e, asyncpg.PostgresError):
        sqlstate = getattr(e, "sqlstate", "?")
        err = StoreUnavailableError(f"PostgreSQL refused {what} (SQLSTATE {sqlstate}): {e}")
    else:
        err = StoreUnavailableError(f"PostgreSQL store failed during {what}: {type(e).__name__}: {e}")
    err.__cause__ = e
    return err


def not_a_connection(conn: object, name: str, also: str = "") -> TypeError:
    """The error for a constructor given something other than an asyncpg pool or
    connection (``also``: what else it takes). A psycopg connection or pool, which
    LangGraph's docs pass, gets its own message: lograph does not depend on psycopg."""
    if type(conn).__module__.split(".")[0] in ("psycopg", "psycopg_pool", "psycopg2"):
        return TypeError(
            f"{name} runs on asyncpg, not psycopg (lograph does not depend on psycopg), so it "
            f"cannot use a {type(conn).__module__}.{type(conn).__name__}: pass an asyncpg "
            "connection or pool (`await asyncpg.connect(dsn)`, `await asyncpg.create_pool(dsn)`), "
            f"or let it connect: `{name}.from_conn_string(dsn)`")
    return TypeError(
        f"{name} takes an asyncpg pool or connection{also}, not {type(conn).__name__}; to "
        f"connect from a DSN use `{name}.from_conn_string(dsn)`")
