"""``Command(resume=..., update=...)`` answering an interrupt: the update shows, as in
LangGraph 1.2.24, in the ``values`` chunk a resumed run starts with, in the chunk of
the interrupt it pauses at next, and in the record of the checkpoint it resumed
(history applies a Command's update to the checkpoint it was given at, not the
tasks' writes).
"""

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.runtime import START, Command, StateGraph, interrupt
from tests._stores import open_saver


class Notes(TypedDict):
    text: Annotated[str, operator.add]


async def two_questions(state: Notes) -> dict[str, Any]:
    first = interrupt("first?")
    second = interrupt("second?")
    return {"text": f"[{first}/{second}]"}


@pytest.mark.anyio
async def test_an_update_given_with_an_answer_shows_at_once(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    builder = StateGraph(Notes)
    builder.add_node("ask", two_questions)
    builder.add_edge(START, "ask")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "notes"}}
        await graph.ainvoke({"text": "n"}, config)

        chunks = [c async for c in graph.astream(Command(resume="x", update={"text": "+u"}), config,
                                                 stream_mode="values")]
        assert [{k: v for k, v in c.items() if k != "__interrupt__"} for c in chunks] == [
            {"text": "n+u"}, {"text": "n+u"}]
        assert [i.value for i in chunks[-1]["__interrupt__"]] == ["second?"]

        records = [s async for s in graph.aget_state_history(config)]
        assert [(s.metadata["step"], s.values) for s in records] == [(0, {"text": "n+u"}), (-1, {"text": ""})]

        chunks = [c async for c in graph.astream(Command(resume="y"), config, stream_mode="values")]
        assert chunks == [{"text": "n+u"}, {"text": "n+u[x/y]"}]
