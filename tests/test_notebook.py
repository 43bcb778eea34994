"""The seed programs as notebook cells, in a real Jupyter kernel (ipykernel, run by nbclient).

A kernel runs each cell inside its own asyncio event loop, where most people first try
LangGraph: the sync API (``invoke``, ``get_state``, ``with
SqliteSaver.from_conn_string(...)``, ...) must work there. Each notebook's printed
output must be what the same cells print as a plain script. One kernel serves the
whole module (it takes a second or two to start); a kernel that cannot start fails
the tests, it never skips them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.test_seeds import SEED_GRAPH

# --- the seed programs (seeds/000_00c9a02d27c87c5c.txt), one cell each --------------------

IN_A_LOOP = '''
import sniffio
print("event loop:", sniffio.current_async_library())
'''

MEMORY = '''
from lograph.adapters.langgraph.checkpoint.memory import MemorySaver

checkpointer = MemorySaver()
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "user-123-session-1"}}
result = graph.invoke(
    {"messages": [("user", "데이터 분석 작업 시작해줘")],
     "task_status": "started",
     "retry_count": 0},
    config=config
)
'''

NEXT_TURN = '''
result2 = graph.invoke(
    {"messages": [("user", "아까 분석 결과 요약해줘")]},
    config=config
)
state = graph.get_state(config)
print(state.values)
print(state.next)
print({k: v for k, v in state.metadata.items() if k in ("source", "step")})
for checkpoint in graph.get_state_history(config):
    print(checkpoint.metadata["step"], checkpoint.values["task_status"])
'''

SQLITE_FIRST_RUN = '''
from lograph.adapters.langgraph.checkpoint.sqlite import SqliteSaver

with SqliteSaver.from_conn_string("./agent_checkpoints.db") as checkpointer:
    graph = builder.compile(checkpointer=checkpointer)
    config = {"configurable": {"thread_id": "task-456"}}
    graph.invoke(
        {"messages": [("user", "긴 작업 시작")],
         "task_status": "started",
         "retry_count": 0},
        config=config
    )
'''

SQLITE_AFTER_RESTART = '''
with SqliteSaver.from_conn_string("./agent_checkpoints.db") as checkpointer:
    graph = builder.compile(checkpointer=checkpointer)
    state = graph.get_state({"configurable": {"thread_id": "task-456"}})
    print(f"재개 위치: {state.next}")
    print(f"저장된 상태: {state.values['task_status']}")
'''

# the later programs need an open saver across cells: LangGraph's docs build that one on
# a connection the notebook owns
SQLITE_CONNECTION = '''
import sqlite3

conn = sqlite3.connect("agent_checkpoints.db", check_same_thread=False)
checkpointer = SqliteSaver(conn)
graph = builder.compile(checkpointer=checkpointer)
config = {"configurable": {"thread_id": "task-456"}}
'''

TIME_TRAVEL = '''
history = list(graph.get_state_history(config))
for i, checkpoint in enumerate(history):
    print(f"Step {checkpoint.metadata['step']}: "
          f"{checkpoint.values.get('task_status')} "
          f"→ next: {checkpoint.next}")
target_checkpoint = history[2]
rollback_config = target_checkpoint.config
graph.invoke(
    {"messages": [("user", "다른 방향으로 다시 시도")]},
    config=rollback_config
)
print(len(list(graph.get_state_history(config))), "checkpoints after the fork")
'''

HUMAN_IN_THE_LOOP = '''
graph = builder.compile(
    checkpointer=checkpointer,
    interrupt_before=["review"]
)
config = {"configurable": {"thread_id": "approval-task-789"}}
result = graph.invoke(
    {"messages": [("user", "중요한 작업 실행")],
     "task_status": "started",
     "retry_count": 0},
    config=config
)
state = graph.get_state(config)
print(f"대기 중인 노드: {state.next}")
print(f"현재 결과: {state.values['messages'][-1].content}")
graph.invoke(None, config=config)
graph.update_state(
    config,
    {"task_status": "approved"},
    as_node="review"
)
graph.invoke(None, config=config)
print(graph.get_state(config).values["task_status"])
'''

# The seed's history loop ends with a KeyError on LangGraph as on lograph: it reaches the
# step -1 input checkpoint, whose values have no "task_status" (see test_state_api.py).
# That cell is tagged to raise, and its error is part of what it prints.
RAISES = "# raises: KeyError\n"
NOTEBOOKS = {
    "memory": [SEED_GRAPH, MEMORY, RAISES + NEXT_TURN, TIME_TRAVEL, HUMAN_IN_THE_LOOP],
    "sqlite": [SEED_GRAPH, SQLITE_FIRST_RUN, SQLITE_AFTER_RESTART, SQLITE_CONNECTION,
               TIME_TRAVEL, HUMAN_IN_THE_LOOP, "checkpointer.close()\nconn.close()"],
}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotebookClient]:
    """One kernel of this interpreter (so it imports this lograph), for every test here."""
    specs = tmp_path_factory.mktemp("kernels")
    (specs / "lograph-test").mkdir()
    (specs / "lograph-test" / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lograph tests", "language": "python",
    }))
    km = KernelManager(kernel_name="lograph-test",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
    km.start_kernel()
    client = NotebookClient(nbformat.v4.new_notebook(), km=km, timeout=120, startup_timeout=60)
    try:
        yield client
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_in_kernel(client: NotebookClient, cells: list[str], directory: Path) -> str:
    """Run ``cells`` as a notebook in the module's kernel, in ``directory``; its stdout."""
    sources = [f"import os\nos.chdir({str(directory)!r})", *cells]
    client.nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(s, metadata={"tags": ["raises-exception"]} if s.startswith(RAISES) else {})
        for s in sources
    ])
    client.execute()  # raises CellExecutionError, with the cell's traceback, if a cell fails
    printed = []
    for cell in client.nb.cells:
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stdout":
                printed.append(output.text)
            elif output.output_type == "error":
                printed.append(f"{output.ename}: {output.evalue}\n")
    return "".join(printed)


def run_as_script(cells: list[str], directory: Path) -> str:
    path = directory / "program.py"
    program = [
        f"try:\n{textwrap.indent(cell, '    ')}\nexcept Exception as e:\n"
        "    print(f'{type(e).__name__}: {e}')\n" if cell.startswith(RAISES) else cell
        for cell in cells
    ]
    path.write_text("\n".join(program), encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], cwd=directory, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("store", sorted(NOTEBOOKS))
def test_the_seed_programs_run_as_notebook_cells(
    kernel: NotebookClient, store: str, tmp_path: Path
) -> None:
    cells = NOTEBOOKS[store]
    (tmp_path / "kernel").mkdir()
    (tmp_path / "script").mkdir()
    printed = run_in_kernel(kernel, [IN_A_LOOP, *cells], tmp_path / "kernel")
    assert printed.startswith("event loop: asyncio\n")  # the cells ran inside a running loop
    printed = printed.removeprefix("event loop: asyncio\n")
    assert printed == run_as_script(cells, tmp_path / "script")
    assert "대기 중인 노드: ('review',)" in printed
    if store == "memory":
        assert "0 started\nKeyError: 'task_status'\n" in printed
    assert printed.endswith("현재 결과: 1 messages; last: 중요한 작업 실행\napproved\n")
    if store == "sqlite":
        assert "재개 위치: ()\n저장된 상태: completed\n" in printed
