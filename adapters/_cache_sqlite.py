"""``SqliteCache``: the node and task cache in a SQLite file (LangGraph's
``langgraph.cache.sqlite.SqliteCache``).

One table ``cache(ns, key, expiry, val)``, WAL mode; the values are lograph's codec
bytes (no pickle). The connection is shared by the worker threads the async calls run
in, behind a lock; ``path=":memory:"`` keeps it in memory.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lograph.runtime.lowlevel import BaseCache

__all__ = ["SqliteCache"]

FullKey = tuple[tuple[str, ...], str]


class SqliteCache(BaseCache[Any]):
    """A cache in a SQLite file, shared by the processes that open it."""

    def __init__(self, *, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.RLock()
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS cache (ns TEXT NOT NULL, key TEXT NOT NULL, expiry REAL, "
                "val BLOB NOT NULL, PRIMARY KEY (ns, key))")

    def _get(self, keys: Sequence[FullKey]) -> dict[FullKey, bytes]:
        if not keys:
            return {}
        now = time.time()
        out: dict[FullKey, bytes] = {}
        expired: list[tuple[str, str]] = []
        with self._lock, self._conn:
            for ns, key in keys:
                row = self._conn.execute("SELECT expiry, val FROM cache WHERE ns = ? AND key = ?",
                                         (",".join(ns), key)).fetchone()
                if row is None:
                    continue
                if row[0] is not None and row[0] <= now:
                    expired.append((",".join(ns), key))
                    continue
                out[(ns, key)] = bytes(row[1])
            if expired:
                self._conn.executemany("DELETE FROM cache WHERE ns = ? AND key = ?", expired)
        return out

    def _set(self, pairs: Mapping[FullKey, tuple[bytes, float | None]]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO cache (ns, key, expiry, val) VALUES (?, ?, ?, ?)",
                [(",".join(ns), key, expiry, value) for (ns, key), (value, expiry) in pairs.items()])

    def _clear(self, namespaces: Sequence[tuple[str, ...]] | None) -> None:
        with self._lock, self._conn:
            if namespaces is None:
                self._conn.execute("DELETE FROM cache")
            else:
                self._conn.executemany("DELETE FROM cache WHERE ns = ?", [(",".join(ns),) for ns in namespaces])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
