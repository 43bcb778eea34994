"""An ``@entrypoint`` run's checkpoints, as LangGraph 1.2.24 makes them: the input
checkpoint holds the input and plans the function itself (no ``__start__`` step of its
own), the function runs in the next step and its loop checkpoint ends the run. So a
run takes two steps, the function's config says it was triggered by ``__start__``, and
the input checkpoint's task shows what the function returned. On every store, asyncio
and trio; threads written with the older ``__start__`` step still read, resume and
verify (``test_golden_store.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig

from lograph.runtime import Command, entrypoint, interrupt, task, verify_thread
from tests._stores import open_saver

pytestmark = pytest.mark.anyio


def workflow(saver: Any, seen: list[tuple[int, tuple[str, ...]]]) -> Any:
    @task
    def double(x: int) -> int:
        return x * 2

    @entrypoint(checkpointer=saver)
    def accumulate(x: int, *, previous: int | None = None, config: RunnableConfig) -> int:
        metadata = config["metadata"]
        seen.append((metadata["langgraph_step"], metadata["langgraph_triggers"]))
        if x > 6:
            interrupt("large: go on?")
        return double(x).result() + (previous or 0)

    return accumulate


async def test_a_run_is_its_input_checkpoint_and_the_functions_step(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    seen: list[tuple[int, tuple[str, ...]]] = []
    async with open_saver(store_kind, tmp_path) as saver:
        graph = workflow(saver, seen)
        config = {"configurable": {"thread_id": "steps"}}
        assert await graph.ainvoke(5, config) == 10
        assert "__interrupt__" in await graph.ainvoke(7, config)
        assert await graph.ainvoke(Command(resume="yes"), config) == 24
        history = [s async for s in graph.aget_state_history(config)]
        assert [(s.metadata["source"], s.metadata["step"], s.next, s.values) for s in history] == [
            ("loop", 2, (), 24), ("input", 1, ("accumulate",), 10),
            ("loop", 0, (), 10), ("input", -1, ("accumulate",), None)]
        assert [[(t.name, t.result) for t in s.tasks] for s in history] == [
            [], [("accumulate", 24)], [], [("accumulate", 10)]]
        assert seen == [(0, ("__start__",)), (2, ("__start__",)), (2, ("__start__",))]
        assert (await verify_thread(saver, "steps", graph=graph)).ok

        # the input checkpoint is where a replay of the run starts: the function runs again
        first_input = history[-1]
        assert await graph.ainvoke(None, first_input.config) == 10
