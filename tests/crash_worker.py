"""A worker process for tests/test_crash_sigkill.py: runs a graph, SIGKILLs itself at a
precise point, or resumes the thread.

    python tests/crash_worker.py --store sqlite --target FILE --mode sync \\
        --scenario between --thread t --effects FILE --action run|resume

- ``--store postgres --target DSN --schema NAME`` uses PostgreSQL instead.
- ``run`` invokes the scenario's graph with its input; the kill is armed: the process
  sends itself SIGKILL at the scenario's point (after writing a ``start`` marker).
- ``resume`` invokes ``invoke(None, config)`` (the original input when the kill left
  nothing to resume) and prints the output as JSON on stdout.

Every node and task body appends ``start NAME`` when it begins and ``end NAME`` when it
finishes to the effects file: the side effects the test counts.

Scenarios (``KILLED`` names the body running when the kill comes):
- ``between``: START -> a -> b -> c -> d; killed as c starts, after b finished.
- ``in_node``: START -> prep -> work -> finish; work calls tasks t1, t2, t3 in order;
  killed inside work after t1 and t2 returned.
- ``parallel``: START -> a -> (b, c) -> join d; killed inside c after its sibling b
  finished (and, in sync and async mode, after b's writes reached the store).
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, TypedDict

import anyio
from langchain_core.runnables import RunnableConfig

from lograph.runtime import END, START, Checkpointer, EmptyInputError, StateGraph, task

INPUTS: dict[str, Any] = {
    "between": {"log": ["in"]},
    "in_node": {"log": ["in"]},
    "parallel": {"log": ["in"]},
}
KILLED = {"between": "c", "in_node": "work", "parallel": "c"}
NAMES = {
    "between": ("a", "b", "c", "d"),
    "in_node": ("prep", "work", "t1", "t2", "t3", "finish"),
    "parallel": ("a", "b", "c", "d"),
}


class State(TypedDict, total=False):
    log: Annotated[list, operator.add]


class Worker:
    """One scenario's graph, its effects file and whether the kill is armed."""

    def __init__(self, effects: str, *, armed: bool, mode: str) -> None:
        self.effects = effects
        self.armed = armed
        self.mode = mode
        self.saver: Checkpointer | None = None

    def record(self, what: str, name: str) -> None:
        with open(self.effects, "a") as f:
            f.write(f"{what} {name}\n")

    def kill(self) -> None:
        if self.armed:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(10)  # never reached

    def ended(self, name: str) -> bool:
        if not os.path.exists(self.effects):
            return False
        with open(self.effects) as f:
            return f"end {name}\n" in f.readlines()

    # -- graphs -------------------------------------------------------------------------

    def plain(self, name: str, *, kill_at_start: bool = False) -> Callable[[State], dict[str, Any]]:
        def node(state: State) -> dict[str, Any]:
            self.record("start", name)
            if kill_at_start:
                self.kill()
            self.record("end", name)
            return {"log": [f"{name}{len(state['log'])}"]}

        return node

    def between(self, saver: Checkpointer) -> Any:
        builder = StateGraph(State)
        for name in ("a", "b", "c", "d"):
            builder.add_node(name, self.plain(name, kill_at_start=name == "c"))
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", "c")
        builder.add_edge("c", "d")
        builder.add_edge("d", END)
        return builder.compile(checkpointer=saver)

    def in_node(self, saver: Checkpointer) -> Any:
        def make_task(name: str) -> Any:
            @task(name=name)
            def body(x: int) -> int:
                self.record("start", name)
                self.record("end", name)
                return x * 10 + int(name[1])

            return body

        t1, t2, t3 = (make_task(n) for n in ("t1", "t2", "t3"))

        def work(state: State) -> dict[str, Any]:
            self.record("start", "work")
            first = t1(len(state["log"])).result()
            second = t2(first).result()
            self.kill()
            third = t3(second).result()
            self.record("end", "work")
            return {"log": [first, second, third]}

        builder = StateGraph(State)
        builder.add_node("prep", self.plain("prep"))
        builder.add_node("work", work)
        builder.add_node("finish", self.plain("finish"))
        builder.add_edge(START, "prep")
        builder.add_edge("prep", "work")
        builder.add_edge("work", "finish")
        builder.add_edge("finish", END)
        return builder.compile(checkpointer=saver)

    def parallel(self, saver: Checkpointer) -> Any:
        async def c(state: State, config: RunnableConfig) -> dict[str, Any]:
            self.record("start", "c")
            if self.armed:
                thread = config["configurable"]["thread_id"]
                await self.until_durable(saver, thread, "b")
                self.kill()
            self.record("end", "c")
            return {"log": [f"c{len(state['log'])}"]}

        builder = StateGraph(State)
        builder.add_node("a", self.plain("a"))
        builder.add_node("b", self.plain("b"))
        builder.add_node("c", c)
        builder.add_node("d", self.plain("d"))
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("a", "c")
        builder.add_edge(["b", "c"], "d")
        builder.add_edge("d", END)
        return builder.compile(checkpointer=saver)

    async def until_durable(self, saver: Checkpointer, thread: str, name: str) -> None:
        """Wait until ``name`` finished and, unless in exit mode, its writes are stored."""
        from lograph.eventlog import Kind, decode

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ended(name):
                if self.mode == "exit":
                    return
                events = await saver.log.read(thread)
                if any(
                    e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == name for e in events
                ):
                    return
            await anyio.sleep(0.002)
        raise TimeoutError(f"{name!r} never became durable")

    def build(self, scenario: str, saver: Checkpointer) -> Any:
        self.saver = saver
        builder: Callable[[Checkpointer], Any] = getattr(self, scenario)
        return builder(saver)


def open_saver(store: str, target: str, schema: str) -> AbstractContextManager[Any]:
    if store == "sqlite":
        from lograph.adapters.sqlite import SqliteSaver

        return SqliteSaver.from_conn_string(target)
    from lograph.adapters.postgres import PostgresSaver

    return PostgresSaver.from_conn_string(target, schema=schema, max_size=2)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--store", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--schema", default="lograph")
    p.add_argument("--mode", choices=["sync", "async", "exit"], required=True)
    p.add_argument("--scenario", choices=sorted(INPUTS), required=True)
    p.add_argument("--thread", required=True)
    p.add_argument("--effects", required=True)
    p.add_argument("--action", choices=["run", "resume"], required=True)
    args = p.parse_args(argv)

    worker = Worker(args.effects, armed=args.action == "run", mode=args.mode)
    config = {"configurable": {"thread_id": args.thread}}
    with open_saver(args.store, args.target, args.schema) as saver:
        if args.store == "postgres":
            saver.setup()
        graph = worker.build(args.scenario, saver)
        if args.action == "run":
            graph.invoke(INPUTS[args.scenario], config, durability=args.mode)
            print("the run finished: the kill point was never reached", file=sys.stderr)
            return 3
        try:
            out = graph.invoke(None, config, durability=args.mode)
        except EmptyInputError:
            out = graph.invoke(INPUTS[args.scenario], config, durability=args.mode)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
