"""The persistence API: threads, get_state, get_state_history, update_state, config errors.

Expected step lists, sources and values were produced by the same programs on LangGraph
1.2.22 (twins in /tmp/lgcheck). Checkpoint ids are lograph's own format: tests compare
them with each other, never with a pattern.
"""

import itertools
import operator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from lograph.adapters.memory import MemorySaver
from lograph.runtime import (
    END,
    START,
    AIMessage,
    EmptyInputError,
    GraphRecursionError,
    InvalidUpdateError,
    Send,
    StateGraph,
    add_messages,
    interrupt,
)
from tests._stores import open_saver


class LogState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    verdict: str


def appender(name: str) -> Any:
    def node(state: LogState) -> dict[str, Any]:
        return {"log": [name]}

    return node


def linear() -> StateGraph:
    """START -> a -> b -> END, each node appending its name to ``log``."""
    builder = StateGraph(LogState)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


async def history(graph: Any, config: dict[str, Any], **kwargs: Any) -> list[Any]:
    return [snapshot async for snapshot in graph.aget_state_history(config, **kwargs)]


def steps(snapshots: list[Any]) -> list[int]:
    return [s.metadata["step"] for s in snapshots]


def checkpoint_id(config: dict[str, Any]) -> str:
    return config["configurable"]["checkpoint_id"]


# What LangGraph 1.2.22 records for linear() run twice on one thread:
# invoke({"log": ["in"]}) then invoke({"log": ["in2"]}); newest first.
TWO_RUNS = [
    (6, "loop", (), ["in", "a", "b", "in2", "a", "b"]),
    (5, "loop", ("b",), ["in", "a", "b", "in2", "a"]),
    (4, "loop", ("a",), ["in", "a", "b", "in2"]),
    (3, "input", ("__start__",), ["in", "a", "b"]),
    (2, "loop", (), ["in", "a", "b"]),
    (1, "loop", ("b",), ["in", "a"]),
    (0, "loop", ("a",), ["in"]),
    (-1, "input", ("__start__",), []),
]


async def two_runs(graph: Any, thread: str = "t") -> dict[str, Any]:
    config = cfg(thread)
    await graph.ainvoke({"log": ["in"]}, config)
    await graph.ainvoke({"log": ["in2"]}, config)
    return config


# --- threads ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_threads_are_isolated(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["one"]}, cfg("t1"))
        await graph.ainvoke({"log": ["two"]}, cfg("t2"))
        await graph.ainvoke({"log": ["one-again"]}, cfg("t1"))
        t1 = await graph.aget_state(cfg("t1"))
        t2 = await graph.aget_state(cfg("t2"))
        assert t1.values == {"log": ["one", "a", "b", "one-again", "a", "b"]}
        assert t2.values == {"log": ["two", "a", "b"]}
        assert steps(await history(graph, cfg("t2"))) == [2, 1, 0, -1]


class ChatState(TypedDict):
    messages: Annotated[list, add_messages]


def chat_bot() -> StateGraph:
    def bot(state: ChatState) -> dict[str, Any]:
        said = [m.content for m in state["messages"]]
        return {"messages": [AIMessage(content=f"I have seen: {' | '.join(said)}")]}

    builder = StateGraph(ChatState)
    builder.add_node("bot", bot)
    builder.add_edge(START, "bot")
    return builder


@pytest.mark.anyio
async def test_second_invoke_on_a_thread_sees_the_first(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = chat_bot().compile(checkpointer=saver)
        await graph.ainvoke({"messages": [("user", "hello")]}, cfg("chat"))
        out = await graph.ainvoke({"messages": [("user", "again")]}, cfg("chat"))
        assert [(type(m).__name__, m.content) for m in out["messages"]] == [
            ("HumanMessage", "hello"),
            ("AIMessage", "I have seen: hello"),
            ("HumanMessage", "again"),
            ("AIMessage", "I have seen: hello | I have seen: hello | again"),
        ]
        snapshot = await graph.aget_state(cfg("chat"))
        assert [m.content for m in snapshot.values["messages"]] == [
            m.content for m in out["messages"]
        ]
        assert len({m.id for m in snapshot.values["messages"]}) == 4


# --- get_state --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_state_after_a_run(anyio_backend: str, store_kind: str, tmp_path: Path) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"))
        snapshot = await graph.aget_state(cfg("t"))
        assert snapshot.values == {"log": ["in", "a", "b"]}
        assert snapshot.next == ()
        assert snapshot.tasks == ()
        assert snapshot.metadata["source"] == "loop"
        assert snapshot.metadata["step"] == 2
        conf = snapshot.config["configurable"]
        assert conf["thread_id"] == "t"
        assert conf["checkpoint_ns"] == ""
        assert isinstance(conf["checkpoint_id"], str) and conf["checkpoint_id"]
        older = await history(graph, cfg("t"))
        assert checkpoint_id(older[0].config) == conf["checkpoint_id"]
        assert checkpoint_id(snapshot.parent_config) == checkpoint_id(older[1].config)
        created = datetime.fromisoformat(snapshot.created_at)
        assert created.tzinfo is not None


@pytest.mark.anyio
async def test_get_state_of_an_unknown_thread_is_empty(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        snapshot = await graph.aget_state(cfg("never-used"))
        assert snapshot.values == {}
        assert snapshot.next == ()
        assert snapshot.metadata is None
        assert snapshot.created_at is None
        assert snapshot.parent_config is None
        assert snapshot.tasks == ()
        assert await history(graph, cfg("never-used")) == []


@pytest.mark.anyio
async def test_get_state_with_an_older_checkpoint_id_is_a_record_of_that_step(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"))
        snaps = await history(graph, cfg("t"))  # steps 2, 1, 0, -1
        old = await graph.aget_state(snaps[2].config)
        assert old.values == {"log": ["in"]}
        assert old.next == ("a",)
        assert [t.name for t in old.tasks] == ["a"]
        assert (old.metadata["source"], old.metadata["step"]) == ("loop", 0)
        assert checkpoint_id(old.config) == checkpoint_id(snaps[2].config)
        assert checkpoint_id(old.parent_config) == checkpoint_id(snaps[3].config)
        # reading an old checkpoint changes nothing: the head is still step 2
        head = await graph.aget_state(cfg("t"))
        assert head.metadata["step"] == 2


# --- history ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_history_steps_and_sources_over_two_invokes(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = await two_runs(graph)
        snaps = await history(graph, config)
        assert [(s.metadata["step"], s.metadata["source"]) for s in snaps] == [
            (step, source) for step, source, _, _ in TWO_RUNS
        ]


@pytest.mark.anyio
async def test_history_next_and_values_over_two_invokes(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = await two_runs(graph)
        snaps = await history(graph, config)
        assert [s.next for s in snaps] == [nxt for _, _, nxt, _ in TWO_RUNS]
        # LangGraph shows an unwritten reducer channel as its empty value ([]) at step -1
        assert [s.values for s in snaps] == [{"log": log} for _, _, _, log in TWO_RUNS]


@pytest.mark.anyio
async def test_history_is_a_parent_chain_newest_first(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = await two_runs(graph)
        snaps = await history(graph, config)
        ids = [checkpoint_id(s.config) for s in snaps]
        assert len(set(ids)) == len(snaps) == 8
        for newer, older in itertools.pairwise(snaps):
            assert checkpoint_id(newer.parent_config) == checkpoint_id(older.config)
            assert datetime.fromisoformat(newer.created_at) >= datetime.fromisoformat(
                older.created_at
            )
        assert snaps[-1].parent_config is None


@pytest.mark.anyio
async def test_history_limit_before_and_filter(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        config = await two_runs(graph)
        snaps = await history(graph, config)
        assert steps(await history(graph, config, limit=3)) == [6, 5, 4]
        assert steps(await history(graph, config, before=snaps[2].config)) == [3, 2, 1, 0, -1]
        assert steps(await history(graph, config, before=snaps[5].config, limit=2)) == [0, -1]
        assert steps(await history(graph, config, filter={"source": "input"})) == [3, -1]
        assert steps(await history(graph, config, filter={"step": 1})) == [1]
        assert steps(await history(graph, config, filter={"source": "update"})) == []
        # as LangGraph's savers list: a config naming a checkpoint lists that one only
        assert steps(await history(graph, snaps[4].config)) == [2]
        assert steps(await history(graph, snaps[4].config, filter={"step": 1})) == []


# --- update_state -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_update_state_as_node_adds_an_update_checkpoint(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"))
        head = await graph.aget_state(cfg("t"))
        new_config = await graph.aupdate_state(
            cfg("t"), {"log": ["manual"], "verdict": "ok"}, as_node="b"
        )
        after = await graph.aget_state(cfg("t"))
        assert checkpoint_id(new_config) == checkpoint_id(after.config)
        assert after.values == {"log": ["in", "a", "b", "manual"], "verdict": "ok"}
        assert after.next == ()  # b's edge goes to END
        assert (after.metadata["source"], after.metadata["step"]) == ("update", 3)
        assert checkpoint_id(after.parent_config) == checkpoint_id(head.config)

        # as "a": the reducer applies and b is next; invoke(None) runs it
        await graph.aupdate_state(cfg("t"), {"log": ["again"]}, as_node="a")
        after = await graph.aget_state(cfg("t"))
        assert after.next == ("b",)
        assert (after.metadata["source"], after.metadata["step"]) == ("update", 4)
        out = await graph.ainvoke(None, cfg("t"))
        assert out == {"log": ["in", "a", "b", "manual", "again", "b"], "verdict": "ok"}
        snaps = await history(graph, cfg("t"))
        assert [(s.metadata["step"], s.metadata["source"], s.next) for s in snaps] == [
            (5, "loop", ()),
            (4, "update", ("b",)),
            (3, "update", ()),
            (2, "loop", ()),
            (1, "loop", ("b",)),
            (0, "loop", ("a",)),
            (-1, "input", ("__start__",)),
        ]


# --- durability ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_every_durability_mode_reaches_the_same_state(
    anyio_backend: str, store_kind: str, tmp_path: Path, durability: str
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        out1 = await graph.ainvoke({"log": ["in"]}, cfg("t"), durability=durability)
        out2 = await graph.ainvoke({"log": ["in2"]}, cfg("t"), durability=durability)
        assert out1 == {"log": ["in", "a", "b"]}
        assert out2 == {"log": ["in", "a", "b", "in2", "a", "b"]}
        head = await graph.aget_state(cfg("t"))
        assert head.values == out2
        assert (head.metadata["source"], head.metadata["step"]) == ("loop", 6)


@pytest.mark.anyio
async def test_exit_durability_history_lists_every_step(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    # Deliberate difference (README, "Where lograph differs"): an exit-mode run's events,
    # every step included, are written in one transaction at its end, so its history is
    # the same as in the other modes. LangGraph keeps only the state at exit: [2], then
    # [6, 2] (the twin checks those values through the "langgraph:" lines).
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["in"]}, cfg("t"), durability="exit")
        got = steps(await history(graph, cfg("t")))
        assert got == [2, 1, 0, -1]  # langgraph: assert got == [2]
        await graph.ainvoke({"log": ["in2"]}, cfg("t"), durability="exit")
        snaps = await history(graph, cfg("t"))
        got_values = [(s.metadata["step"], s.values["log"]) for s in snaps]
        want = [(step, log) for step, _, _, log in TWO_RUNS]  # langgraph: want = LG_EXIT
        assert got_values == want


# LangGraph's exit-mode history after the two runs above (used by the twin only)
LG_EXIT = [(6, ["in", "a", "b", "in2", "a", "b"]), (2, ["in", "a", "b"])]


# --- config errors ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("config", [None, {}, {"configurable": {}}])
async def test_missing_thread_id_with_a_checkpointer_names_it(
    anyio_backend: str, store_kind: str, tmp_path: Path, config: Any
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        with pytest.raises(ValueError, match="thread_id"):
            await graph.ainvoke({"log": ["in"]}, config)


@pytest.mark.anyio
async def test_resuming_an_empty_thread_is_an_empty_input_error(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        graph = linear().compile(checkpointer=saver)
        with pytest.raises(EmptyInputError):
            await graph.ainvoke(None, cfg("empty"))


# --- the sync facade ----------------------------------------------------------------------


def test_sync_facade_invoke_get_state_history_update() -> None:
    graph = linear().compile(checkpointer=MemorySaver())
    config = cfg("sync")
    assert graph.invoke({"log": ["in"]}, config) == {"log": ["in", "a", "b"]}
    assert graph.invoke({"log": ["in2"]}, config) == {"log": ["in", "a", "b", "in2", "a", "b"]}
    snaps = list(graph.get_state_history(config))
    assert [(s.metadata["step"], s.metadata["source"], s.next) for s in snaps] == [
        (step, source, nxt) for step, source, nxt, _ in TWO_RUNS
    ]
    assert [s.metadata["step"] for s in graph.get_state_history(config, limit=2)] == [6, 5]
    graph.update_state(config, {"verdict": "checked"}, as_node="b")
    head = graph.get_state(config)
    assert head.values["verdict"] == "checked"
    assert (head.metadata["source"], head.metadata["step"]) == ("update", 7)


# --- the seed program ---------------------------------------------------------------------


class StandInChatAnthropic:
    """Deterministic stand-in for ``langchain_anthropic.ChatAnthropic``."""

    def __init__(self, model: str) -> None:
        self.model = model

    def invoke(self, messages: list) -> AIMessage:
        return AIMessage(content=f"{len(messages)} messages; last: {messages[-1][1]}")


def test_seed_memory_saver_example(capsys: pytest.CaptureFixture[str]) -> None:
    """seeds/000_00c9a02d27c87c5c.txt, first example, with only its imports changed.

    The program itself ends with a KeyError on LangGraph: its history loop reaches the
    step -1 input checkpoint, whose values hold no "task_status". lograph must match.
    """
    with pytest.raises(KeyError, match="task_status"):
        # ---- the program (indentation restored; imports changed) ----
        from typing import Annotated, TypedDict  # noqa: I001

        from lograph.runtime import StateGraph, END
        from lograph.adapters.memory import MemorySaver

        ChatAnthropic = StandInChatAnthropic  # was: from langchain_anthropic import ChatAnthropic
        import operator

        # 상태 정의
        class AgentState(TypedDict):
            messages: Annotated[list, operator.add]  # 메시지 누적
            task_status: str
            retry_count: int

        # 노드 함수
        llm = ChatAnthropic(model="claude-sonnet-4-5")

        def process_node(state: AgentState):  # type: ignore[no-untyped-def]
            response = llm.invoke(state["messages"])
            return {"messages": [response], "task_status": "processing"}

        def review_node(state: AgentState):  # type: ignore[no-untyped-def]
            # 결과 검토 로직
            return {"task_status": "completed"}

        # 그래프 구성
        builder = StateGraph(AgentState)
        builder.add_node("process", process_node)
        builder.add_node("review", review_node)
        builder.set_entry_point("process")
        builder.add_edge("process", "review")
        builder.add_edge("review", END)
        # ✅ Checkpointer 주입
        checkpointer = MemorySaver()
        graph = builder.compile(checkpointer=checkpointer)
        # 실행 — thread_id로 대화 단위 구분
        config = {"configurable": {"thread_id": "user-123-session-1"}}
        result = graph.invoke(
            {
                "messages": [("user", "데이터 분석 작업 시작해줘")],
                "task_status": "started",
                "retry_count": 0,
            },
            config=config,
        )
        # 같은 thread_id → 이전 대화 기억
        result2 = graph.invoke(
            {"messages": [("user", "아까 분석 결과 요약해줘")]},
            config=config,  # thread_id: "user-123-session-1" 동일
        )
        # 현재 상태 조회
        state = graph.get_state(config)
        print(state.values)  # 현재 상태값
        print(state.next)  # 다음 실행 노드
        print(state.metadata)  # 체크포인트 메타데이터
        # 체크포인트 히스토리 전체 조회
        for checkpoint in graph.get_state_history(config):
            print(checkpoint.metadata["step"], checkpoint.values["task_status"])
        # ---- end of the program ----

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 + 7
    values_line, next_line, metadata_line = lines[:3]
    for fragment in (
        "'task_status': 'completed'",
        "'retry_count': 0",
        "데이터 분석 작업 시작해줘",
        "1 messages; last: 데이터 분석 작업 시작해줘",
        "아까 분석 결과 요약해줘",
        "3 messages; last: 아까 분석 결과 요약해줘",
    ):
        assert fragment in values_line
    assert next_line == "()"
    assert "'source': 'loop'" in metadata_line
    assert "'step': 6" in metadata_line
    assert lines[3:] == [
        "6 completed",
        "5 processing",
        "4 completed",
        "3 completed",
        "2 completed",
        "1 processing",
        "0 started",
    ]

    assert result["task_status"] == "completed"
    assert [m.content for m in result2["messages"][1::2]] == [
        "1 messages; last: 데이터 분석 작업 시작해줘",
        "3 messages; last: 아까 분석 결과 요약해줘",
    ]
    messages = state.values["messages"]
    assert [type(m).__name__ for m in messages[1::2]] == ["AIMessage", "AIMessage"]
    assert [list(m) for m in messages[0::2]] == [
        ["user", "데이터 분석 작업 시작해줘"],
        ["user", "아까 분석 결과 요약해줘"],
    ]
    # Deliberate difference: LangGraph's saver returns these tuples as lists
    # (msgpack), so it prints ['user', ...]; lograph's codec keeps a tuple a tuple.
    assert all(isinstance(m, tuple) for m in messages[0::2])  # lograph-only


@pytest.mark.anyio
async def test_next_and_tasks_are_listed_as_langgraph_lists_them(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """LangGraph 1.2.22, same program: the Send tasks first (in the order sent), then the
    triggered nodes in the order the graph declares them; paths named __pregel_*. The
    order writes are applied in (node name, then Sends) is not this one, and stays."""
    builder = StateGraph(LogState)
    for name in ("zeta", "alpha", "mid"):
        builder.add_node(name, appender(name))
    builder.add_node("w", lambda s: {"log": [s["verdict"]]})
    builder.add_node("start", appender("start"))
    builder.add_edge(START, "start")
    builder.add_conditional_edges(
        "start", lambda s: ["zeta", "alpha", "mid", Send("w", {"verdict": "1"}), Send("w", {"verdict": "2"})]
    )
    async with open_saver(store_kind, tmp_path) as saver:
        paused = builder.compile(checkpointer=saver, interrupt_before=["zeta", "alpha", "mid", "w"])
        await paused.ainvoke({"log": []}, cfg("t"))
        state = await paused.aget_state(cfg("t"))
        assert state.next == ("w", "w", "zeta", "alpha", "mid")
        assert [(t.name, t.path[0]) for t in state.tasks] == [
            ("w", "__pregel_push"), ("w", "__pregel_push"), ("zeta", "__pregel_pull"),
            ("alpha", "__pregel_pull"), ("mid", "__pregel_pull"),
        ]
        out = await builder.compile(checkpointer=saver).ainvoke({"log": []}, cfg("u"))
        assert out["log"] == ["start", "alpha", "mid", "zeta", "1", "2"]


class Who(TypedDict, total=False):
    log: Annotated[list, operator.add]


def who_graph(saver: Any) -> Any:
    b = StateGraph(Who)
    b.add_node("a", lambda s, config: {"log": [config["configurable"].get("who", "?")]})
    b.add_edge(START, "a")
    return b.compile(checkpointer=saver)


@pytest.mark.anyio
async def test_with_config_sits_under_every_calls_config(anyio_backend: str) -> None:
    """LangGraph 1.2.22, same program: configurable keys merge, the call's win."""
    graph = who_graph(MemorySaver())
    bound = graph.with_config({"configurable": {"thread_id": "t", "who": "bound"}})
    assert await bound.ainvoke({"log": []}) == {"log": ["bound"]}
    assert await bound.ainvoke({"log": []}, {"configurable": {"who": "call"}}) == {"log": ["bound", "call"]}
    assert (await bound.aget_state({})).values == {"log": ["bound", "call"]}
    assert graph._defaults == {}  # the graph it came from is unchanged
    with pytest.raises(ValueError, match="thread_id"):
        await graph.ainvoke({"log": []})
    # as a subgraph node: its config sits under the caller's
    outer = StateGraph(Who)
    outer.add_node("sub", who_graph(None).with_config({"configurable": {"who": "sub's own"}}))
    outer.add_edge(START, "sub")
    out = await outer.compile(checkpointer=MemorySaver()).ainvoke({"log": []}, cfg("o"))
    assert out == {"log": ["sub's own"]}
    # recursion_limit=None is the default, as in LangGraph, and leaves with_config's as it is
    assert await bound.ainvoke({"log": []}, {"recursion_limit": None}) == {"log": ["bound", "call", "bound"]}
    looping = StateGraph(Who)
    looping.add_node("again", lambda s: {"log": ["x"]})
    looping.add_edge(START, "again")
    looping.add_conditional_edges("again", lambda s: "again" if len(s["log"]) < 10 else END)
    limited = looping.compile().with_config(recursion_limit=3)
    with pytest.raises(GraphRecursionError, match="limit of 3"):
        await limited.ainvoke({"log": []}, {"recursion_limit": None})
    host = StateGraph(Who)
    host.add_node("sub", limited)
    host.add_edge(START, "sub")
    with pytest.raises(GraphRecursionError, match="limit of 3"):
        await host.compile().ainvoke({"log": []})


@pytest.mark.anyio
async def test_batch_runs_each_input_and_keeps_their_order(anyio_backend: str) -> None:
    graph = who_graph(MemorySaver())
    configs = [cfg("b1"), cfg("b2")]
    assert await graph.abatch([{"log": ["x"]}, {"log": ["y"]}], configs) == [
        {"log": ["x", "?"]}, {"log": ["y", "?"]},
    ]
    out = await graph.abatch([{"log": ["x"]}, {"nope": 1}], [cfg("b3"), cfg("b4")], return_exceptions=True)
    assert out[0] == {"log": ["x", "?"]} and isinstance(out[1], InvalidUpdateError)
    with pytest.raises(InvalidUpdateError):
        await graph.abatch([{"nope": 1}], [cfg("b5")])
    with pytest.raises(ValueError, match="2 inputs and 1 configs"):
        await graph.abatch([{}, {}], [cfg("b6")])


def test_sync_batch() -> None:
    graph = who_graph(MemorySaver())
    assert graph.batch([{"log": ["x"]}], {"configurable": {"thread_id": "s"}}) == [{"log": ["x", "?"]}]


def _ask(state: LogState) -> dict[str, Any]:
    return {"log": [f"ask:{interrupt('ok?')}"]}


@pytest.mark.anyio
async def test_a_paused_steps_tasks_include_those_that_finished(
    anyio_backend: str, store_kind: str, tmp_path: Path
) -> None:
    """LangGraph 1.2.22, same program: the live snapshot lists every task of the open
    step, the finished ones with their result (``next`` only those still to run); the
    input step's task shows the input; an update on an empty thread is step 0."""
    builder = StateGraph(LogState)
    builder.add_node("fast", appender("fast"))
    builder.add_node("ask", _ask)
    builder.add_edge(START, "fast")
    builder.add_edge(START, "ask")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke({"log": []}, cfg("t"))
        state = await graph.aget_state(cfg("t"))
        assert state.next == ("ask",)
        assert [(t.name, t.result, len(t.interrupts)) for t in state.tasks] == [
            ("fast", {"log": ["fast"]}, 0), ("ask", None, 1),
        ]
        history = [s async for s in graph.aget_state_history(cfg("t"))]
        assert [s.next for s in history] == [("fast", "ask"), ("__start__",)]
        assert [(t.name, t.result) for t in history[-1].tasks] == [("__start__", {"log": []})]
        await graph.aupdate_state(cfg("empty"), {"log": ["x"]})
        assert (await graph.aget_state(cfg("empty"))).metadata["step"] == 0
