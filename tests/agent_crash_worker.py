"""A worker process for tests/test_prebuilt_crash.py: a prebuilt tool-calling agent that
SIGKILLs itself while its second tool call runs, or resumes the thread.

    python tests/agent_crash_worker.py --store sqlite --target FILE --effects FILE \\
        --action run|resume [--schema NAME]

The model asks for two calls of the ``work`` tool at once (``a`` and ``b``), then answers
"done" once it sees their results. Every call of ``work`` appends ``start NAME`` and
``end NAME`` to the effects file (the side effect the test counts). With ``run``, the
call ``b`` waits until ``a``'s result is in the store, then kills the process; with
``resume``, ``invoke(None, config)`` continues the thread and the output is printed as
JSON. Both run in ``sync`` durability.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

from anyio.from_thread import run as run_from_thread
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool

from lograph.eventlog import Kind, decode
from lograph.runtime.prebuilt import create_react_agent

INPUT = {"messages": [("user", "do a and b")]}


class Planner(BaseChatModel):
    """Asks for the two calls until it sees their results (its answer depends only on
    the conversation, so a resumed process answers as the killed one would have)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Planner:
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        if any(isinstance(m, ToolMessage) for m in messages):
            answer = AIMessage("done", id="final")
        else:
            answer = AIMessage("", id="plan", tool_calls=[
                {"name": "work", "args": {"name": n}, "id": f"call-{n}", "type": "tool_call"}
                for n in ("a", "b")])
        return ChatResult(generations=[ChatGeneration(message=answer)])

    @property
    def _llm_type(self) -> str:
        return "planner"


def build(saver: Any, effects: str, *, armed: bool) -> Any:
    def record(what: str, name: str) -> None:
        with open(effects, "a") as f:
            f.write(f"{what} {name}\n")

    async def a_is_stored() -> bool:
        events = await saver.log.read("t")
        return any(e.kind == Kind.NODE_WRITES and decode(e.body)["name"] == "tools"
                   for e in events)

    @tool
    def work(name: str) -> str:
        """Does one piece of work (a side effect)."""
        record("start", name)
        if armed and name == "b":
            deadline = time.monotonic() + 10
            while not run_from_thread(a_is_stored):
                if time.monotonic() > deadline:
                    raise TimeoutError("a's result never reached the store")
                time.sleep(0.005)
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        record("end", name)
        return f"{name} done"

    return create_react_agent(Planner(), [work], checkpointer=saver)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--store", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--schema", default="lograph")
    p.add_argument("--effects", required=True)
    p.add_argument("--action", choices=["run", "resume"], required=True)
    args = p.parse_args(argv)
    if args.store == "sqlite":
        from lograph.adapters.sqlite import SqliteSaver

        opened: Any = SqliteSaver.from_conn_string(args.target)
    else:
        from lograph.adapters.postgres import PostgresSaver

        opened = PostgresSaver.from_conn_string(args.target, schema=args.schema, max_size=2)
    config = {"configurable": {"thread_id": "t"}}
    with opened as saver:
        if args.store == "postgres":
            saver.setup()
        agent = build(saver, args.effects, armed=args.action == "run")
        if args.action == "run":
            agent.invoke(INPUT, config, durability="sync")
            print("the run finished: the kill point was never reached", file=sys.stderr)
            return 3
        out = agent.invoke(None, config, durability="sync")
        print(json.dumps([[type(m).__name__, m.content] for m in out["messages"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
