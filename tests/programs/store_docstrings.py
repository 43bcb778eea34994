"""The Store docstrings of LangGraph's InMemoryStore, SqliteStore, AsyncSqliteStore,
PostgresStore and AsyncPostgresStore, and BaseStore.list_namespaces', with what each
example computes printed.

Stand-ins: `embed_texts` (letter counts, deterministic) for the embedding models, DB_URI
from the environment, `isolation_level=None` on the docstring's sqlite3 connection
(LangGraph's SqliteStore needs it: on the default connection its `put` after `setup()`
fails with "cannot start a transaction within a transaction"). Semantic search runs on
InMemoryStore only: LangGraph's SQLite index needs a Python whose sqlite3 loads
extensions (sqlite-vec), its PostgreSQL index the pgvector extension; lograph needs
neither (its own tests search on all three).
"""

import asyncio
import os
import sqlite3

from langgraph.store.memory import InMemoryStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.postgres import AsyncPostgresStore, PostgresStore  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.store.sqlite import AsyncSqliteStore, SqliteStore  # noqa: TID251 - the program as LangGraph's docs write it

DB_URI = os.environ.get("DB_URI", "postgresql://postgres:postgres@localhost:5432/postgres")


def embed_texts(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        v = [0.0] * 26
        for ch in text.lower():
            if "a" <= ch <= "z":
                v[ord(ch) - 97] += 1.0
        out.append(v)
    return out


def show(results):
    print([(r.key, r.value, None if r.score is None else round(r.score, 4)) for r in results])


# InMemoryStore: key-value storage, then vector search
store = InMemoryStore()
store.put(("users", "123"), "prefs", {"theme": "dark"})
item = store.get(("users", "123"), "prefs")
print(item.namespace, item.key, item.value)

store = InMemoryStore(index={"dims": 26, "embed": embed_texts})
store.put(("docs",), "doc1", {"text": "Python tutorial"})
store.put(("docs",), "doc2", {"text": "TypeScript guide"})
show(store.search(("docs",), query="python programming"))

# SqliteStore on a connection
conn = sqlite3.connect(":memory:", isolation_level=None)
store = SqliteStore(conn)
store.setup()  # Run migrations. Done once
store.put(("users", "123"), "prefs", {"theme": "dark"})
item = store.get(("users", "123"), "prefs")
print(item.namespace, item.key, item.value)

# SqliteStore.from_conn_string, then with an index
with SqliteStore.from_conn_string(":memory:") as store:
    store.setup()
    store.put(("users", "123"), "prefs", {"theme": "dark"})
    print(store.get(("users", "123"), "prefs").value)

with SqliteStore.from_conn_string(":memory:") as store:
    # the namespaces of BaseStore.list_namespaces' docstring
    for ns in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f")]:
        store.put(ns, "k", {"text": "x"})
    print(store.list_namespaces(prefix=("a", "b"), max_depth=3))
    print(store.list_namespaces(suffix=("f",)))


async def main():
    async with AsyncSqliteStore.from_conn_string(":memory:") as store:
        await store.setup()
        await store.aput(("users", "123"), "prefs", {"theme": "dark"})
        item = await store.aget(("users", "123"), "prefs")
        print(item.value)

    async with AsyncPostgresStore.from_conn_string(DB_URI) as store:
        await store.setup()  # Run migrations. Done once
        await store.aput(("users", "123"), "prefs", {"theme": "dark"})
        item = await store.aget(("users", "123"), "prefs")
        print(item.value)


asyncio.run(main())

with PostgresStore.from_conn_string(DB_URI) as store:
    store.setup()
    store.put(("users", "123"), "prefs", {"theme": "light"})
    item = store.get(("users", "123"), "prefs")
    print(item.namespace, item.key, item.value)
    store.put(("users", "123"), "lang", {"code": "en", "level": 3})
    print(sorted(i.key for i in store.search(("users",), filter={"level": 3})))
    store.delete(("users", "123"), "lang")
    print(store.get(("users", "123"), "lang"))
