"""The graph tests/test_runs_sigkill.py serves with ``lograph worker`` processes.

``graph``: START -> a -> b -> c -> d -> END; each node appends
``TIME start NAME THREAD RUN PID`` and ``TIME end NAME THREAD RUN PID`` lines to the file
``$RUNS_EFFECTS`` (the side effects the tests count; RUN is the durable run's id, ``-``
outside one). With ``$RUNS_DIE_IN=NAME`` the process running that node sends itself
SIGKILL right after its start line, once: the first process to create the file
``$RUNS_DIE_MARK``.
"""

from __future__ import annotations

import itertools
import operator
import os
import signal
import time
from typing import Annotated, Any, TypedDict

import anyio
from langchain_core.runnables import RunnableConfig

from lograph.runtime import END, START, StateGraph

NAMES = ("a", "b", "c", "d")


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def effect(what: str, name: str, config: RunnableConfig) -> None:
    thread = config["configurable"]["thread_id"]
    run = config.get("metadata", {}).get("run_id", "-")
    with open(os.environ["RUNS_EFFECTS"], "a") as f:
        f.write(f"{time.time():.6f} {what} {name} {thread} {run} {os.getpid()}\n")


def _die_here(name: str) -> bool:
    if os.environ.get("RUNS_DIE_IN") != name:
        return False
    try:
        os.close(os.open(os.environ["RUNS_DIE_MARK"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _node(name: str) -> Any:
    async def node(state: S, config: RunnableConfig) -> dict[str, Any]:
        effect("start", name, config)
        if _die_here(name):
            os.kill(os.getpid(), signal.SIGKILL)
        await anyio.sleep(float(os.environ.get("RUNS_NODE_SECONDS", "0.01")))
        effect("end", name, config)
        return {"log": [name]}

    return node


builder = StateGraph(S)
for _name in NAMES:
    builder.add_node(_name, _node(_name))
builder.add_edge(START, "a")
for _x, _y in itertools.pairwise(NAMES):
    builder.add_edge(_x, _y)
builder.add_edge("d", END)
graph = builder.compile()
