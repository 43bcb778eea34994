"""``config["max_concurrency"]``: at most that many of a step's tasks run at once.

As in LangGraph, the limit is per step (a fan-out of ``Send``s waits for free slots);
every task still runs, and the step's writes are the same as without the limit.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any

import anyio
import pytest

from lograph.runtime import START, Send, StateGraph
from tests._stores import open_saver


class Running:
    def __init__(self) -> None:
        self.now = 0
        self.most = 0


def fan_out_graph(running: Running, **compile_kw: Any) -> Any:
    def spread(state: list) -> list:
        return [Send("work", i) for i in range(12)]

    async def work(i: int) -> list:
        running.now += 1
        running.most = max(running.most, running.now)
        await anyio.sleep(0.01)
        running.now -= 1
        return [i]

    b = StateGraph(Annotated[list, operator.add])
    b.add_node("start", lambda s: [])
    b.add_node("work", work)
    b.add_edge(START, "start")
    b.add_conditional_edges("start", spread)
    return b.compile(**compile_kw)


@pytest.mark.anyio
async def test_a_fan_out_runs_at_most_max_concurrency_tasks_at_once(anyio_backend: str) -> None:
    running = Running()
    graph = fan_out_graph(running)
    assert await graph.ainvoke([]) == list(range(12))
    assert running.most == 12  # no limit: the whole fan-out at once
    running.most = 0
    assert await graph.ainvoke([], {"max_concurrency": 3}) == list(range(12))
    assert running.most == 3 and running.now == 0


@pytest.mark.anyio
async def test_the_limit_holds_on_a_thread_and_after_a_breakpoint(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    running = Running()
    async with open_saver(store_kind, tmp_path) as saver:
        graph = fan_out_graph(running, checkpointer=saver, interrupt_before=["work"])
        config = {"configurable": {"thread_id": "t"}, "max_concurrency": 4}
        assert await graph.ainvoke([], config) == []
        assert await graph.ainvoke(None, config) == list(range(12))
        assert running.most == 4


@pytest.mark.anyio
@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True])
async def test_a_limit_that_is_not_a_positive_whole_number_is_refused(
    anyio_backend: str, store_kind: str, tmp_path: Path, bad: Any,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = fan_out_graph(Running(), checkpointer=saver)
        with pytest.raises(ValueError, match="max_concurrency"):
            await graph.ainvoke([], {"configurable": {"thread_id": "t"}, "max_concurrency": bad})
        assert await saver.log.read("t") == []  # nothing written
