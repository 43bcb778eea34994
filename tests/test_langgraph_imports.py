"""LangGraph's module names: ``lograph.adapters.langgraph.X`` re-exports what lograph implements of
``langgraph.X``, the README's table lists every such module, and ``lograph
migrate-imports`` rewrites a LangGraph program's imports so that it runs."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lograph import runtime
from lograph.adapters import langgraph as mirrors
from lograph.adapters import memory, postgres, sqlite
from lograph.adapters._migrate import migrate
from lograph.runtime import managed, prebuilt, store

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# What LangGraph's documentation imports from each module, and where lograph keeps it.
EXPECTED: dict[str, dict[str, object]] = {
    "graph": {"StateGraph": runtime.StateGraph, "START": runtime.START, "END": runtime.END,
              "MessagesState": runtime.MessagesState, "add_messages": runtime.add_messages},
    "graph.state": {"StateGraph": runtime.StateGraph, "START": runtime.START, "END": runtime.END,
                    "CompiledStateGraph": runtime.CompiledStateGraph},
    "graph.message": {"add_messages": runtime.add_messages, "MessagesState": runtime.MessagesState,
                      "REMOVE_ALL_MESSAGES": runtime.REMOVE_ALL_MESSAGES},
    "types": {"Command": runtime.Command, "Send": runtime.Send, "interrupt": runtime.interrupt,
              "Interrupt": runtime.Interrupt, "RetryPolicy": runtime.RetryPolicy,
              "StateSnapshot": runtime.StateSnapshot, "PregelTask": runtime.PregelTask,
              "Overwrite": runtime.Overwrite, "StreamWriter": runtime.StreamWriter},
    "func": {"entrypoint": runtime.entrypoint, "task": runtime.task},
    "constants": {"START": runtime.START, "END": runtime.END},
    "config": {"get_stream_writer": runtime.get_stream_writer, "get_config": runtime.get_config,
               "get_store": runtime.get_store},
    "runtime": {"Runtime": runtime.Runtime, "get_runtime": runtime.get_runtime,
                "RunControl": runtime.RunControl},
    "managed": {"RemainingSteps": managed.RemainingSteps, "IsLastStep": managed.IsLastStep},
    "managed.is_last_step": {"RemainingSteps": managed.RemainingSteps, "IsLastStep": managed.IsLastStep},
    "errors": {"GraphRecursionError": runtime.GraphRecursionError,
               "InvalidUpdateError": runtime.InvalidUpdateError,
               "EmptyInputError": runtime.EmptyInputError, "GraphDrained": runtime.GraphDrained},
    "checkpoint.base": {"BaseCheckpointSaver": runtime.Checkpointer,
                        "CheckpointTuple": runtime.CheckpointTuple},
    "checkpoint.memory": {"MemorySaver": memory.MemorySaver, "InMemorySaver": memory.InMemorySaver},
    "checkpoint.sqlite": {"SqliteSaver": sqlite.SqliteSaver},
    "checkpoint.sqlite.aio": {"AsyncSqliteSaver": sqlite.AsyncSqliteSaver},
    "checkpoint.postgres": {"PostgresSaver": postgres.PostgresSaver},
    "checkpoint.postgres.aio": {"AsyncPostgresSaver": postgres.AsyncPostgresSaver},
    "store.base": {"BaseStore": store.BaseStore, "Item": store.Item, "SearchItem": store.SearchItem,
                   "GetOp": store.GetOp, "PutOp": store.PutOp, "SearchOp": store.SearchOp,
                   "ListNamespacesOp": store.ListNamespacesOp, "IndexConfig": store.IndexConfig},
    "store.memory": {"InMemoryStore": store.InMemoryStore},
    "store.sqlite": {"SqliteStore": sqlite.SqliteStore, "AsyncSqliteStore": sqlite.AsyncSqliteStore},
    "store.sqlite.aio": {"AsyncSqliteStore": sqlite.AsyncSqliteStore},
    "store.postgres": {"PostgresStore": postgres.PostgresStore, "AsyncPostgresStore": postgres.AsyncPostgresStore},
    "store.postgres.aio": {"AsyncPostgresStore": postgres.AsyncPostgresStore},
    "prebuilt": {"create_react_agent": prebuilt.create_react_agent, "ToolNode": prebuilt.ToolNode,
                 "tools_condition": prebuilt.tools_condition,
                 "InjectedState": prebuilt.InjectedState, "InjectedStore": prebuilt.InjectedStore},
    "prebuilt.chat_agent_executor": {"AgentState": prebuilt.AgentState,
                                     "create_react_agent": prebuilt.create_react_agent},
    "prebuilt.interrupt": {"HumanInterrupt": prebuilt.HumanInterrupt,
                           "HumanResponse": prebuilt.HumanResponse},
    "prebuilt.tool_node": {"ToolNode": prebuilt.ToolNode,
                           "tools_condition": prebuilt.tools_condition},
}


def mirror_modules() -> list[str]:
    """Every module under ``lograph.adapters.langgraph``."""
    found = []
    for info in pkgutil.walk_packages(mirrors.__path__, "lograph.adapters.langgraph."):
        found.append(info.name)
    return sorted(found)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_langgraph_names_are_lograph_objects(name: str) -> None:
    module = importlib.import_module(f"lograph.adapters.langgraph.{name}")
    for item, obj in EXPECTED[name].items():
        assert getattr(module, item) is obj, f"lograph.adapters.langgraph.{name}.{item}"


@pytest.mark.parametrize("name", mirror_modules())
def test_each_mirror_module_exports_exactly_its_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and not isinstance(v, type(sys))}  # not submodules
    public -= {"Literal"}  # typing helpers the module itself uses
    exported = getattr(module, "__all__", [])  # none: a package holding modules only
    assert len(set(exported)) == len(exported)
    assert set(exported) == public, name


def readme_rows() -> dict[str, tuple[str, list[str]]]:
    """The README's import table: LangGraph module -> (lograph module, names)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Moving a LangGraph program over\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`langgraph"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), re.findall(r"`(\w+)`", cells[2]))
    return rows


def test_the_readme_table_lists_every_mirror_module_and_its_names() -> None:
    rows = readme_rows()
    listed = {lograph_name for lograph_name, _ in rows.values()}
    modules = {m for m in mirror_modules() if hasattr(importlib.import_module(m), "__all__")}
    assert modules <= listed, f"not in the README's table: {sorted(modules - listed)}"
    for langgraph_name, (lograph_name, names) in rows.items():
        assert lograph_name == "lograph.adapters.langgraph" + langgraph_name[len("langgraph"):]
        module = importlib.import_module(lograph_name)
        assert names and set(names) <= set(module.__all__), lograph_name


# --- lograph migrate-imports ---------------------------------------------------------


def test_migrate_rewrites_what_lograph_has_and_reports_the_rest() -> None:
    source = textwrap.dedent('''\
        from langgraph.graph import StateGraph, START  # langgraph's builder
        from langgraph.types import Command; name = "langgraph"
        from langgraph.checkpoint.sqlite.aio import (
            AsyncSqliteSaver,
        )
        import langgraph.func as lf
        from langgraph.errors import GraphInterrupt
        from langgraph.nowhere import thing
        import langgraph.graph
        from langgraph_sdk import get_client
        ''')
    done = migrate(source)
    assert done.source == textwrap.dedent('''\
        from lograph.adapters.langgraph.graph import StateGraph, START  # langgraph's builder
        from lograph.adapters.langgraph.types import Command; name = "langgraph"
        from lograph.adapters.langgraph.checkpoint.sqlite.aio import (
            AsyncSqliteSaver,
        )
        import lograph.adapters.langgraph.func as lf
        from langgraph.errors import GraphInterrupt
        from langgraph.nowhere import thing
        import langgraph.graph
        from langgraph_sdk import get_client
        ''')
    assert done.rewritten == 4
    assert [line for line, _ in done.problems] == [7, 8, 9]
    assert "GraphInterrupt" in done.problems[0][1]
    assert "no module lograph.adapters.langgraph.nowhere" in done.problems[1][1]
    assert "names the module" in done.problems[2][1]
    assert migrate(done.source).source == done.source  # a second pass changes nothing


LANGGRAPH_PROGRAM = '''
import operator
from typing import Annotated, TypedDict

from langchain_core.messages import AIMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.func import entrypoint, task
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class State(TypedDict):
    messages: Annotated[list, operator.add]
    approved: bool


def draft(state: State):
    return {"messages": [AIMessage(content="draft 1")]}


def review(state: State):
    answer = interrupt({"question": "publish?"})
    return {"approved": answer == "yes"}


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("review", review)
builder.add_edge(START, "draft")
builder.add_edge("draft", "review")
builder.add_edge("review", END)


@task
def double(x: int) -> int:
    return 2 * x


with SqliteSaver.from_conn_string("program.db") as saver:
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t1"}}
    paused = graph.invoke({"messages": [], "approved": False}, config)
    print(paused["__interrupt__"][0].value)
    done = graph.invoke(Command(resume="yes"), config)
    print(done["approved"], [m.content for m in done["messages"]])

    @entrypoint(checkpointer=saver)
    def workflow(xs: list[int]) -> list[int]:
        return [f.result() for f in [double(x) for x in xs]]

    print(workflow.invoke([1, 2, 3], {"configurable": {"thread_id": "t2"}}))
'''


def test_a_langgraph_program_runs_after_migrate_imports(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(LANGGRAPH_PROGRAM, encoding="utf-8")
    cli = [sys.executable, "-m", "lograph.adapters.cli"]
    diff = subprocess.run([*cli, "migrate-imports", "--diff", str(program)], capture_output=True,
                          text=True, timeout=60)
    assert diff.returncode == 0, diff.stderr
    assert "+from lograph.adapters.langgraph.graph import END, START, StateGraph" in diff.stdout
    assert program.read_text(encoding="utf-8") == LANGGRAPH_PROGRAM  # --diff writes nothing
    done = subprocess.run([*cli, "migrate-imports", str(program)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{program}: 4 import statement(s) rewritten, 0 left"
    assert "from langgraph." not in program.read_text(encoding="utf-8")
    ran = subprocess.run([sys.executable, str(program)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["{'question': 'publish?'}", "True ['draft 1']", "[2, 4, 6]"]


def test_migrate_imports_exit_codes(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "lograph.adapters.cli", "migrate-imports"]
    left = tmp_path / "left.py"
    left.write_text("from langgraph.graph import StateGraph\nfrom langgraph.nowhere import x\n")
    done = subprocess.run([*cli, str(left)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{left}:2: left as it was: lograph has no module lograph.adapters.langgraph.nowhere" in done.stderr
    assert left.read_text().startswith("from lograph.adapters.langgraph.graph import StateGraph\n")
    broken = tmp_path / "broken.py"
    broken.write_text("from langgraph.graph import (\n")
    done = subprocess.run([*cli, str(broken), str(tmp_path / "missing.py")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "cannot migrate" in done.stderr
