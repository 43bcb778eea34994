"""The seed documents' programs, run with only their imports (and saver construction) changed.

``seeds/000_00c9a02d27c87c5c.txt``: the SQLite example across a process restart, the
PostgreSQL examples (sync with a DSN, async with an asyncpg pool), and the time-travel
and human-in-the-loop program. The first example is in test_state_api.py, the durable
execution seed in test_durability.py. The programs' code is kept as the seed wrote it
(indentation restored), so some names look unused to linters.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests import _store_postgres

# The seed's first example: the graph every later example compiles (`builder`).
SEED_GRAPH = '''
from typing import Annotated, TypedDict
import operator

from lograph.runtime import StateGraph, END, AIMessage


class ChatAnthropic:  # a deterministic stand-in for langchain_anthropic.ChatAnthropic
    def __init__(self, model):
        self.model = model

    def invoke(self, messages):
        last = messages[-1]
        text = last[1] if isinstance(last, tuple) else last.content
        return AIMessage(content=f"{len(messages)} messages; last: {text}")


class AgentState(TypedDict):
    messages: Annotated[list, operator.add]  # 메시지 누적
    task_status: str
    retry_count: int


llm = ChatAnthropic(model="claude-sonnet-4-5")


def process_node(state: AgentState):
    response = llm.invoke(state["messages"])
    return {"messages": [response], "task_status": "processing"}


def review_node(state: AgentState):
    # 결과 검토 로직
    return {"task_status": "completed"}


builder = StateGraph(AgentState)
builder.add_node("process", process_node)
builder.add_node("review", review_node)
builder.set_entry_point("process")
builder.add_edge("process", "review")
builder.add_edge("review", END)
'''


def run_program(tmp_path: Path, name: str, body: str) -> str:
    """Run ``SEED_GRAPH + body`` as a program of its own (a new process); return its stdout."""
    path = tmp_path / f"{name}.py"
    path.write_text(SEED_GRAPH + textwrap.dedent(body), encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sqlite_example_survives_a_restart(tmp_path: Path) -> None:
    first = run_program(tmp_path, "first", '''
        from lograph.adapters.sqlite import SqliteSaver

        # SQLite 파일 기반 체크포인터
        with SqliteSaver.from_conn_string("./agent_checkpoints.db") as checkpointer:
            graph = builder.compile(checkpointer=checkpointer, interrupt_before=["review"])
            config = {"configurable": {"thread_id": "task-456"}}
            # 첫 실행
            graph.invoke(
                {"messages": [("user", "긴 작업 시작")],
                 "task_status": "started",
                 "retry_count": 0},
                config=config,
            )
    ''')
    assert first == ""
    # --- 서버 재시작 후 --- (a new process opens the same file)
    second = run_program(tmp_path, "second", '''
        from lograph.adapters.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string("./agent_checkpoints.db") as checkpointer:
            graph = builder.compile(checkpointer=checkpointer)
            # ✅ 같은 thread_id → 중단된 지점부터 재개
            state = graph.get_state({"configurable": {"thread_id": "task-456"}})
            print(f"재개 위치: {state.next}")
            print(f"저장된 상태: {state.values['task_status']}")
            print(graph.invoke(None, {"configurable": {"thread_id": "task-456"}})["task_status"])
    ''')
    assert second.splitlines() == ["재개 위치: ('review',)", "저장된 상태: processing", "completed"]


def test_postgres_example_three_users_sync(tmp_path: Path) -> None:
    dsn = _store_postgres.server().dsn
    schema = f"seed_{uuid.uuid4().hex[:12]}"
    out = run_program(tmp_path, "pg_sync", f'''
        from lograph.adapters.postgres import PostgresSaver

        DB_URI = {dsn!r}
        # was: conn = psycopg.connect(DB_URI, autocommit=True); checkpointer = PostgresSaver(conn)
        with PostgresSaver.from_conn_string(DB_URI, schema={schema!r}) as checkpointer:
            # 최초 1회 — 체크포인트 테이블 생성
            checkpointer.setup()
            graph = builder.compile(checkpointer=checkpointer)
            # 멀티 유저 — thread_id로 완전 분리
            users = ["user-001", "user-002", "user-003"]
            for user_id in users:
                config = {{"configurable": {{"thread_id": f"session-{{user_id}}"}}}}
                graph.invoke(
                    {{"messages": [("user", f"{{user_id}}의 작업")],
                     "task_status": "started",
                     "retry_count": 0}},
                    config=config,
                )
            # 특정 유저 상태 조회
            state = graph.get_state({{"configurable": {{"thread_id": "session-user-001"}}}})
            print(state.values)
            checkpointer.setup()  # idempotent
    ''')
    assert "'task_status': 'completed'" in out
    assert "user-001의 작업" in out
    assert "user-002" not in out and "user-003" not in out  # threads are isolated


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # an asyncpg pool is an asyncio object
async def test_postgres_example_async_service_with_a_pool(anyio_backend: str) -> None:
    import asyncpg

    from lograph.adapters.postgres import AsyncPostgresSaver

    dsn = (await anyio.to_thread.run_sync(_store_postgres.server)).dsn
    module = types.ModuleType("seed_graph")  # the seed's graph code, as a module of its own
    sys.modules[module.__name__] = module
    exec(SEED_GRAPH, module.__dict__)
    builder = module.builder
    DB_URI = dsn  # noqa: N806 - the seed's name

    # ---- the program: psycopg_pool.AsyncConnectionPool became an asyncpg pool ----
    async def setup_graph() -> Any:
        pool = await asyncpg.create_pool(DB_URI, max_size=20)  # 최대 동시 연결
        checkpointer = AsyncPostgresSaver(pool, schema=f"seed_{uuid.uuid4().hex[:12]}")
        await checkpointer.setup()
        graph = builder.compile(checkpointer=checkpointer)
        return graph, pool

    graph, pool = await setup_graph()
    try:
        config = {"configurable": {"thread_id": "async-1"}}
        out = await graph.ainvoke(
            {"messages": [("user", "비동기 작업")], "task_status": "started", "retry_count": 0},
            config,
        )
        assert out["task_status"] == "completed"
        state = await graph.aget_state(config)
        assert state.values["messages"][-1].content == "1 messages; last: 비동기 작업"
        assert state.next == ()
    finally:
        await pool.close()


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_time_travel_and_human_in_the_loop(tmp_path: Path, store: str) -> None:
    saver = (
        "from lograph.adapters.memory import MemorySaver\n"
        "opening = contextlib.nullcontext(MemorySaver())\n"
        if store == "memory"
        else "from lograph.adapters.sqlite import SqliteSaver\n"
        "opening = SqliteSaver.from_conn_string('./agent_checkpoints.db')\n"
    )
    out = run_program(tmp_path, "hitl", "import contextlib\n" + saver + '''
with opening as checkpointer:
    graph = builder.compile(checkpointer=checkpointer)
    config = {"configurable": {"thread_id": "travel-1"}}
    graph.invoke({"messages": [("user", "첫 작업")], "task_status": "started", "retry_count": 0},
                 config=config)

    # ---- the program, from "실전 4" ----
    # 체크포인트 히스토리 전체 조회
    history = list(graph.get_state_history(config))
    # 히스토리 출력
    for i, checkpoint in enumerate(history):
        print(f"Step {checkpoint.metadata['step']}: "
              f"{checkpoint.values.get('task_status')} "
              f"→ next: {checkpoint.next}")
    # Step 3으로 롤백
    target_checkpoint = history[2]  # step 3
    rollback_config = target_checkpoint.config
    # ✅ 과거 시점부터 재실행 (다른 입력으로 분기 가능)
    graph.invoke(
        {"messages": [("user", "다른 방향으로 다시 시도")]},
        config=rollback_config
    )
    print("rolled back:", [m[1] if isinstance(m, tuple) else m.content
                           for m in graph.get_state(config).values["messages"]])
    print("original kept:", len(graph.get_state(rollback_config).values["messages"]))

    # interrupt_before로 승인 게이트 설정
    graph = builder.compile(
        checkpointer=checkpointer,
        interrupt_before=["review"]  # review 노드 전에 일시정지
    )
    config = {"configurable": {"thread_id": "approval-task-789"}}
    # 1단계: process 노드까지 실행 후 자동 중단
    result = graph.invoke(
        {"messages": [("user", "중요한 작업 실행")],
         "task_status": "started",
         "retry_count": 0},
        config=config
    )
    # 현재 상태 확인 (review 노드 앞에서 대기 중)
    state = graph.get_state(config)
    print(f"대기 중인 노드: {state.next}")  # ('review',)
    print(f"현재 결과: {state.values['messages'][-1].content}")
    # 사람이 검토 후 승인 → None 전달로 재개
    print("approved:", graph.invoke(None, config=config)["task_status"])

    config = {"configurable": {"thread_id": "approval-task-790"}}
    graph.invoke({"messages": [("user", "또 다른 작업")], "task_status": "started",
                  "retry_count": 0}, config=config)
    # 또는 상태 수정 후 재개
    graph.update_state(
        config,
        {"task_status": "approved"},  # 상태 수정
        as_node="review"
    )
    print("edited:", graph.get_state(config).values["task_status"], graph.get_state(config).next)
    print("after edit:", graph.invoke(None, config=config)["task_status"])
''')
    lines = out.splitlines()
    assert lines[:4] == [
        "Step 2: completed → next: ()",
        "Step 1: processing → next: ('review',)",
        "Step 0: started → next: ('process',)",
        "Step -1: None → next: ('__start__',)",
    ]
    assert lines[4] == "rolled back: ['첫 작업', '다른 방향으로 다시 시도', '2 messages; last: 다른 방향으로 다시 시도']"
    assert lines[5] == "original kept: 1"
    assert lines[6:] == [
        "대기 중인 노드: ('review',)",
        "현재 결과: 1 messages; last: 중요한 작업 실행",
        "approved: completed",
        "edited: approved ()",
        "after edit: approved",
    ]
