"""A process that calls ``ainvoke`` on one thread of a shared store, for
tests/test_multiprocess_invoke.py.

``python -m tests.xproc_caller STORE BACKEND COMMAND ...`` where STORE is JSON
(``{"sqlite": path}`` or ``{"dsn": ..., "schema": ...}``) and BACKEND is asyncio or trio.
Commands:

- ``invoke THREAD TAG N [STRATEGY]``: N runs in turn, input ``TAG-i`` (STRATEGY
  ``plain``: a call that names none; default ``enqueue``); one JSON line per run, ``{"input": ..., "ok": true}`` or ``{"input": ..., "error": type, "status": ...}``.
- ``serve THREAD``: a line protocol on a local TCP port (printed first as
  ``{"port": N}``): each line a request's input, answered ``ok`` or ``error TYPE: TEXT``
  once its run ended. Stops at end of input on stdin.

The graph (``graph``): START -> work -> END; the input is appended to ``log``; ``work``
sleeps ``$XPROC_NODE_SECONDS`` (default 0.02) and appends ``"w"``. ``$XPROC_STEPS``
(default 1) chains that many ``work`` nodes. ``$XPROC_LEASE``: the in-process runs'
lease (seconds). ``$XPROC_STARTED``: a file each run's first node appends its input to.
"""

from __future__ import annotations

import json
import operator
import os
import sys
from functools import partial
from typing import Annotated, Any, TypedDict

import anyio
from anyio.abc import SocketStream

from lograph.runtime import END, START, StateGraph


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def _started(text: str) -> None:
    started = os.environ.get("XPROC_STARTED")
    if started:
        with open(started, "a") as f:
            f.write(text + "\n")


def _work(i: int) -> Any:
    async def work(state: S) -> dict[str, Any]:
        if i == 0:
            _started(state["log"][-1])
        await anyio.sleep(float(os.environ.get("XPROC_NODE_SECONDS", "0.02")))
        return {"log": ["w"]}

    return work


def build() -> Any:
    builder = StateGraph(S)
    steps = int(os.environ.get("XPROC_STEPS", "1"))
    previous = START
    for i in range(steps):
        builder.add_node(f"work{i}", _work(i))
        builder.add_edge(previous, f"work{i}")
        previous = f"work{i}"
    builder.add_edge(previous, END)
    return builder


def open_saver(spec: dict[str, Any]) -> Any:
    if "sqlite" in spec:
        from lograph.adapters.sqlite import SqliteSaver

        return SqliteSaver.from_conn_string(spec["sqlite"])
    from lograph.adapters.postgres import AsyncPostgresSaver

    return AsyncPostgresSaver.from_conn_string(spec["dsn"], schema=spec["schema"], max_size=4)


def _outcome(text: str, e: BaseException) -> dict[str, Any]:
    return {"input": text, "error": type(e).__name__, "status": getattr(e, "status", None),
            "text": str(e)}


async def invoke(graph: Any, thread: str, tag: str, n: int, strategy: str | None) -> None:
    config = {"configurable": {"thread_id": thread}}
    for i in range(n):
        text = f"{tag}-{i}"
        try:
            await graph.ainvoke({"log": [text]}, config, durability="sync",
                                multitask_strategy=None if strategy == "plain" else (
                                    strategy or "enqueue"))
            line: dict[str, Any] = {"input": text, "ok": True}
        except Exception as e:  # noqa: BLE001 - reported to the test
            line = _outcome(text, e)
        print(json.dumps(line), flush=True)


async def serve(graph: Any, thread: str) -> None:
    config = {"configurable": {"thread_id": thread, "multitask_strategy": "enqueue"}}

    async def handle(client: SocketStream) -> None:
        async with client:
            buffered = b""
            while True:
                try:
                    buffered += await client.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    try:
                        await graph.ainvoke({"log": [line.decode()]}, config, durability="sync")
                        answer = "ok"
                    except Exception as e:  # noqa: BLE001 - the server's error, answered
                        answer = f"error {type(e).__name__}: {e}"
                    await client.send(answer.encode() + b"\n")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    print(json.dumps({"port": port}), flush=True)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        await anyio.to_thread.run_sync(sys.stdin.read)  # until the test closes our stdin
        tg.cancel_scope.cancel()


async def main(spec: dict[str, Any], command: str, args: list[str]) -> None:
    if "XPROC_LEASE" in os.environ:
        from lograph.runtime import _place

        _place.LEASE = float(os.environ["XPROC_LEASE"])
    async with open_saver(spec) as saver:
        graph = build().compile(checkpointer=saver)
        if command == "invoke":
            thread, tag, n, *strategy = args
            await invoke(graph, thread, tag, int(n), strategy[0] if strategy else None)
        else:
            await serve(graph, args[0])


if __name__ == "__main__":
    store, backend, command, *rest = sys.argv[1:]
    anyio.run(partial(main, json.loads(store), command, rest), backend=backend)
