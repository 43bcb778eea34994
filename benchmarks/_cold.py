"""``python -m benchmarks._cold SPEC``: read a thread's state from a brand-new process.

The parent (``history``) runs this for the cold reads: SPEC (JSON) names the engine,
the place, the thread and what to read (``"read"``: ``"state"``, the default, or
``"history"``). After importing the engine (not timed: imports are the interpreter's,
the same for every read) it collects garbage once (see below), then opens a saver on
the existing store, compiles the chat graph and awaits ``aget_state`` or lists the
whole ``aget_state_history``. It prints one JSON line: the milliseconds of open + read
(``ms``), of the read alone (``read_ms``; LangGraph's savers also set up lazily on the
first read, so only ``ms`` compares the engines) and of the imports, the number of
messages it saw (in the newest entry, for a history) and the number of history entries.

Why collect first: the cyclic garbage collector runs a generation-1 collection after
every ten of its generation-0 ones, and right after the imports that one costs about a
millisecond here (it traverses what the imports left behind). Each engine's open and
``aget_state`` leave about 3,600 new objects (five generation-0 collections), so
whether that collection lands in the timed window depends only on where each engine's
imports left the collector's counters: one engine or the other paid it by the luck of
its import order, not for anything its read does.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from ._common import config
from ._stores import Place
from .graphs import chat_builder


async def _read(engine: Any, place: Place, thread: str, what: str) -> dict[str, Any]:
    t = time.perf_counter()
    async with engine.saver(place, fresh=False) as saver:
        graph = chat_builder(engine.api).compile(checkpointer=saver)
        r = time.perf_counter()
        if what == "history":
            entries = [s async for s in graph.aget_state_history(config(thread))]
            snap = entries[0] if entries else None
        else:
            entries = []
            snap = await graph.aget_state(config(thread))
        done = time.perf_counter()
    values = (snap.values if snap is not None else None) or {}
    return {"ms": (done - t) * 1e3, "read_ms": (done - r) * 1e3,
            "messages": len(values.get("messages", ())), "entries": len(entries)}


def main(spec_text: str) -> dict[str, Any]:
    spec = json.loads(spec_text)
    t = time.perf_counter()
    if spec["engine"] == "lograph":
        from .lo_engine import LographEngine as Engine
    else:
        from .lg_engine import LangGraphEngine as Engine  # type: ignore[assignment]
    imports_ms = (time.perf_counter() - t) * 1e3
    gc.collect()  # the imports' garbage, not the read's: see the module docstring
    p = spec["place"]
    place = Place(p["kind"], path=Path(p["path"]) if p["path"] else None, dsn=p["dsn"], schema=p["schema"])
    what = spec.get("read", "state")
    result = anyio.run(_read, Engine(), place, spec["thread"], what, backend="asyncio")
    return {**result, "imports_ms": imports_ms}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
