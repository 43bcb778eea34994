"""A worker process for tests/test_load.py's two-process race: one run per ``go`` line.

    python tests/race_worker.py NAME sqlite PATH
    python tests/race_worker.py NAME postgres DSN SCHEMA

Prints ``ready`` once the store is open. Then for each stdin line ``go THREAD MODE ROUND``
it runs the graph on THREAD with input ``{"log": ["NAME-ROUND"]}`` in durability MODE
and prints one line: ``ok``, ``conflict`` (a plain ConflictError), ``grouped`` (a
ConflictError inside an exception group) or ``error REPR``. The graph's two nodes sleep,
so two workers told to go at once overlap and race for the thread's head.
"""

from __future__ import annotations

import operator
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lograph.runtime import END, START, Checkpointer, ConflictError, StateGraph

PAUSE = 0.05


class Shared(TypedDict, total=False):
    log: Annotated[list, operator.add]


def build(saver: Checkpointer) -> Any:
    async def step(state: Shared) -> dict[str, Any]:
        await anyio.sleep(PAUSE)
        return {"log": [f"step{len(state['log'])}"]}

    async def done(state: Shared) -> dict[str, Any]:
        await anyio.sleep(PAUSE)
        return {"log": ["done"]}

    b = StateGraph(Shared)
    b.add_node("step", step)
    b.add_node("done", done)
    b.add_edge(START, "step")
    b.add_edge("step", "done")
    b.add_edge("done", END)
    return b.compile(checkpointer=saver)


def outcome(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    if type(error) is ConflictError:
        return "conflict"
    if isinstance(error, BaseExceptionGroup):
        matched, rest = error.split(ConflictError)
        if matched is not None and rest is None:
            return "grouped"
    return "error " + repr(error).replace("\n", " ")


async def serve(name: str, store: str, target: str, schema: str) -> None:
    if store == "sqlite":
        from lograph.adapters.sqlite import SqliteLog

        log: Any = await SqliteLog.open(target)
    else:
        from lograph.adapters.postgres import PostgresLog

        log = await PostgresLog.open(target, schema=schema, max_size=2)
    async with log:
        graph = build(Checkpointer(log))
        print("ready", flush=True)
        while line := await anyio.to_thread.run_sync(sys.stdin.readline):
            _, thread, mode, round_ = line.split()
            error: BaseException | None = None
            try:
                await graph.ainvoke({"log": [f"{name}-{round_}"]}, {"configurable": {"thread_id": thread}},
                                    durability=mode)
            except BaseException as e:  # noqa: BLE001 - reported to the test, which judges it
                error = e
            print(outcome(error), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    anyio.run(serve, args[0], args[1], args[2], args[3] if len(args) > 3 else "")
