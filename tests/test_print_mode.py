"""``debug=True`` and ``print_mode``: a run prints its chunks to stdout as LangGraph does.

``debug=True`` (on a call or at ``compile``) prints the ``updates`` and ``values``
chunks; ``print_mode`` prints the modes it names. Each line is ``[mode]`` in bold (a
subgraph's namespace after it in yellow, only with ``subgraphs=True``), then the
chunk's repr. Printing changes nothing else: the result, the stream and the log are
those of the same run without it.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.adapters.memory import MemorySaver
from lograph.runtime import START, StateGraph
from tests._stores import open_saver

BOLD = "\033[1m"
PLAIN = "\033[0m"


class Log(TypedDict):
    log: Annotated[list, operator.add]


def first(state: Log) -> dict[str, Any]:
    return {"log": ["first"]}


async def second(state: Log) -> dict[str, Any]:
    return {"log": ["second"]}


def two_steps() -> StateGraph:
    b = StateGraph(Log)
    b.add_node("first", first)
    b.add_node("second", second)
    b.add_edge(START, "first")
    b.add_edge("first", "second")
    return b


def with_subgraph() -> StateGraph:
    inner = StateGraph(Log)
    inner.add_node("deep", first)
    inner.add_edge(START, "deep")
    b = StateGraph(Log)
    b.add_node("outer", second)
    b.add_node("sub", inner.compile())
    b.add_edge(START, "outer")
    b.add_edge("outer", "sub")
    return b


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def printed(out: str) -> list[tuple[str, str]]:
    """(mode, rest of the line) per printed line; the escape codes checked on the way."""
    lines = []
    for line in out.splitlines():
        match = re.fullmatch(re.escape(BOLD) + r"\[(\w+)\]" + re.escape(PLAIN) + " (.*)", line)
        assert match, line
        lines.append((match[1], match[2]))
    return lines


DEBUG_LINES = [
    ("values", "{'log': ['in']}"),
    ("updates", "{'first': {'log': ['first']}}"),
    ("values", "{'log': ['in', 'first']}"),
    ("updates", "{'second': {'log': ['second']}}"),
    ("values", "{'log': ['in', 'first', 'second']}"),
]


@pytest.mark.anyio
async def test_debug_prints_updates_and_values_and_changes_nothing_else(
    anyio_backend: str, store_kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_steps().compile(checkpointer=saver)
        out = await graph.ainvoke({"log": ["in"]}, cfg("loud"), debug=True)
        assert printed(capsys.readouterr().out) == DEBUG_LINES
        quiet = await graph.ainvoke({"log": ["in"]}, cfg("quiet"))
        assert capsys.readouterr().out == ""
        assert out == quiet == {"log": ["in", "first", "second"]}
        loud_kinds = [e.kind for e in await saver.log.read("loud")]
        assert loud_kinds == [e.kind for e in await saver.log.read("quiet")]


@pytest.mark.anyio
async def test_compiled_with_debug_every_run_prints(
    anyio_backend: str, capsys: pytest.CaptureFixture[str],
) -> None:
    graph = two_steps().compile(debug=True)
    assert await graph.ainvoke({"log": ["in"]}) == {"log": ["in", "first", "second"]}
    assert printed(capsys.readouterr().out) == DEBUG_LINES


@pytest.mark.anyio
async def test_print_mode_prints_apart_from_what_is_streamed(
    anyio_backend: str, store_kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_steps().compile(checkpointer=saver)
        chunks = [c async for c in graph.astream({"log": ["in"]}, cfg("t"), stream_mode="values",
                                                 print_mode="updates")]
        assert chunks == [{"log": ["in"]}, {"log": ["in", "first"]},
                          {"log": ["in", "first", "second"]}]
        assert printed(capsys.readouterr().out) == [m for m in DEBUG_LINES if m[0] == "updates"]
        # invoke with another stream_mode returns what it streams, and prints too
        got = await graph.ainvoke({"log": ["in"]}, cfg("u"), stream_mode="updates", print_mode=["values"])
        assert got == [{"first": {"log": ["first"]}}, {"second": {"log": ["second"]}}]
        assert printed(capsys.readouterr().out) == [m for m in DEBUG_LINES if m[0] == "values"]


@pytest.mark.anyio
async def test_a_subgraphs_chunks_are_printed_with_its_namespace_only_when_asked(
    anyio_backend: str, capsys: pytest.CaptureFixture[str],
) -> None:
    graph = with_subgraph().compile(checkpointer=MemorySaver())
    await graph.ainvoke({"log": []}, cfg("plain"), print_mode="updates")
    assert printed(capsys.readouterr().out) == [
        ("updates", "{'outer': {'log': ['second']}}"),
        ("updates", "{'sub': {'log': ['second', 'first']}}"),
    ]
    async for _ in graph.astream({"log": []}, cfg("deep"), print_mode="updates", subgraphs=True):
        pass
    lines = printed(capsys.readouterr().out)
    assert [mode for mode, _ in lines] == ["updates"] * 3
    label, chunk = lines[1][1].split(" ", 1)
    assert re.fullmatch(r"\033\[1;30;33m\[graph=\('sub:[^']+',\)\]" + re.escape(PLAIN), label)
    assert chunk == "{'deep': {'log': ['first']}}"


@pytest.mark.anyio
async def test_an_unknown_print_mode_is_refused_before_anything_is_written(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = two_steps().compile(checkpointer=saver)
        with pytest.raises(ValueError, match="print_mode 'loud'"):
            await graph.ainvoke({"log": []}, cfg("t"), print_mode="loud")
        with pytest.raises(ValueError, match="print_mode 'loud'"):
            async for _ in graph.astream({"log": []}, cfg("t"), print_mode=["values", "loud"]):
                pass
        assert await saver.log.read("t") == []


def test_the_sync_calls_print_too(capsys: pytest.CaptureFixture[str]) -> None:
    graph = two_steps().compile(checkpointer=MemorySaver())
    assert graph.invoke({"log": ["in"]}, cfg("t"), debug=True) == {"log": ["in", "first", "second"]}
    assert printed(capsys.readouterr().out) == DEBUG_LINES
    assert list(graph.stream({"log": ["in"]}, cfg("u"), debug=True)) == [
        {"first": {"log": ["first"]}}, {"second": {"log": ["second"]}}]
    assert printed(capsys.readouterr().out) == DEBUG_LINES
