"""``lograph demo``: a durable agent's whole story on one SQLite file, offline, in seconds.

The agent writes a status report: a deterministic stand-in for the LLM plans three
tool calls; the tool (an ``@task``) appends a line to ``report.txt`` (the visible side
effect); the agent then asks a human to approve publishing (``interrupt()``); once
approved, ``publish`` copies the report to ``published/``.

The story, each phase told in one line as it happens:

1. a worker *process* (``python -m lograph.adapters._demo worker``) starts the run; its
   third tool call hangs (a stalled API);
2. the demo watches the store and, once two tool results are durable, kills the
   worker with SIGKILL: ``report.txt`` has two lines;
3. the thread resumes in this process: the two recorded tool calls are replayed from
   the log (not run again), the third runs once: three lines, none repeated;
4. the agent pauses for approval; alice approves with ``Command(resume=...)``: the
   report is published;
5. the thread forks from the checkpoint before the approval; on that branch bob
   rejects: nothing is published again, the first branch is unchanged;
6. the log is verified (hash chain, replay against this graph's code) and printed as
   the audit timeline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio

from lograph.eventlog import Kind, timeline
from lograph.runtime import (
    END,
    START,
    AIMessage,
    Command,
    StateGraph,
    ToolMessage,
    add_messages,
    interrupt,
    task,
    verify_thread,
)

from ._render import Output
from .sqlite import SqliteSaver

THREAD = "report-1"
FINDINGS = (
    "p99 latency down 18% after the cache fix",
    "2 flaky tests quarantined, 0 failing",
    "release 1.4 ready for review",
)
#: the line whose tool call hangs in the worker process (``--stall``)
STALL: dict[str, str | None] = {"line": None}


class Report(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    report: str
    approved: bool
    approver: str
    published: str


# --- the agent ------------------------------------------------------------------------------


def fake_llm(messages: list[Any]) -> AIMessage:
    """The offline stand-in for the LLM: a fixed policy over the conversation."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        calls = [{"id": f"call_{i}", "name": "append_line", "args": {"line": f"- {text}"}}
                 for i, text in enumerate(FINDINGS, 1)]
        return AIMessage(content="I will write the three findings to report.txt.", tool_calls=calls)
    return AIMessage(content=f"report.txt has {len(results)} findings; publish it?")


@task
def append_line(path: str, line: str) -> str:
    """The tool: appends one line to the report (the side effect that must not repeat)."""
    if line == STALL["line"]:
        time.sleep(120)  # a stalled API call: the demo kills this process now
    with open(path, "a") as f:
        f.write(line + "\n")
    return f"appended {line!r}"


@task
def publish_report(path: str) -> str:
    target = Path(path).parent / "published" / Path(path).name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, target)
    return str(target)


def agent(state: Report) -> dict[str, Any]:
    return {"messages": [fake_llm(state["messages"])]}


def tools(state: Report) -> dict[str, Any]:
    calls = state["messages"][-1].tool_calls
    results = [append_line(state["report"], c["args"]["line"]).result() for c in calls]
    return {"messages": [ToolMessage(content=r, tool_call_id=c["id"]) for r, c in zip(results, calls, strict=True)]}


def approve(state: Report) -> dict[str, Any]:
    answer = interrupt({"question": "Publish report.txt?", "lines": len(FINDINGS)})
    return {"approved": bool(answer.get("approved")), "approver": str(answer.get("by", ""))}


def publish(state: Report) -> dict[str, Any]:
    return {"published": publish_report(state["report"]).result()}


def after_agent(state: Report) -> str:
    if state["messages"][-1].tool_calls:
        return "tools"
    return "approve" if "approved" not in state else END


def after_approval(state: Report) -> str:
    return "publish" if state["approved"] else END


def build() -> StateGraph:
    builder = StateGraph(Report)
    for name, fn in (("agent", agent), ("tools", tools), ("approve", approve), ("publish", publish)):
        builder.add_node(name, fn)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", after_agent, ["tools", "approve", END])
    builder.add_edge("tools", "agent")
    builder.add_conditional_edges("approve", after_approval, ["publish", END])
    builder.add_edge("publish", END)
    return builder


def config(user: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": THREAD, "user": user, **extra}}


# --- the worker process ---------------------------------------------------------------------


def worker(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lograph.adapters._demo worker")
    p.add_argument("--db", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--stall", default=None)
    args = p.parse_args(argv)
    STALL["line"] = args.stall
    with SqliteSaver.from_conn_string(args.db) as saver:
        graph = build().compile(checkpointer=saver)
        request = "Write the weekly status report to report.txt"
        graph.invoke({"messages": [("user", request)], "report": args.report},
                     config("scheduler"), durability="sync")
    return 0


# --- the story ------------------------------------------------------------------------------


class DemoFailed(Exception):
    """The story did not go as it must (exit code 1)."""


class Story:
    def __init__(self, root: Path, out: Output) -> None:
        self.root = root
        self.out = out
        self.db = root / "demo.db"
        self.report = root / "report.txt"

    def say(self, phase: str, text: str) -> None:
        self.out.line(f"{phase:<8} {text}", style="bold" if phase else None)

    def lines(self) -> list[str]:
        return self.report.read_text().splitlines() if self.report.exists() else []

    def show_report(self) -> None:
        for line in self.lines():
            self.out.line(f"{'':<8}   report.txt | {line}", style="dim")

    async def crash(self, saver: SqliteSaver) -> None:
        argv = [sys.executable, "-m", "lograph.adapters._demo", "worker", "--db", str(self.db),
                "--report", str(self.report), "--stall", f"- {FINDINGS[-1]}"]
        errors = self.root / "worker.stderr"
        with errors.open("wb") as stderr:
            proc = await anyio.open_process(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=stderr)
        self.say("run", f"worker process {proc.pid} starts thread {THREAD!r}: the agent plans 3 tool "
                        "calls (durability=sync)")
        async with proc:
            try:
                await self._await_results(saver, proc, errors)
                os.kill(proc.pid, signal.SIGKILL)
                code = await proc.wait()
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        if code != -signal.SIGKILL or len(self.lines()) != 2:
            raise DemoFailed(f"expected a SIGKILLed worker and 2 report lines, got {code} and {self.lines()}")
        self.say("crash", f"2 tool results are durable and call 3 hangs: SIGKILL to process {proc.pid}; "
                          "report.txt has 2 lines")
        self.show_report()

    async def _await_results(self, saver: SqliteSaver, proc: Any, errors: Path) -> None:
        """Poll the store until two tool results are durable (the worker is in call 3)."""
        deadline = time.monotonic() + 20
        while _results(await saver.log.read(THREAD)) < 2:
            if proc.returncode is not None:
                text = await anyio.Path(errors).read_text()
                raise DemoFailed(f"the worker exited early ({proc.returncode}): {text}")
            if time.monotonic() > deadline:
                raise DemoFailed("the worker did not record two tool results within 20 s")
            await anyio.sleep(0.01)

    async def run(self) -> None:
        async with SqliteSaver.from_conn_string(self.db) as saver:
            graph = build().compile(checkpointer=saver)
            self.say("store", f"{self.db} (SQLite, WAL): the thread's log is the only state")
            await self.crash(saver)
            out = await graph.ainvoke(None, config("ops"), durability="sync")
            if self.lines() != [f"- {t}" for t in FINDINGS]:
                raise DemoFailed(f"report.txt after the resume: {self.lines()}")
            self.say("resume", "this process calls invoke(None) on the thread: calls 1-2 come from "
                               "the log (not run again), call 3 runs once: 3 lines, none repeated")
            self.show_report()
            pending = out.get("__interrupt__") or []
            if len(pending) != 1:
                raise DemoFailed(f"expected the agent to wait for approval, got {out}")
            question = pending[0].value["question"]
            self.say("pause", f"the agent waits for approval: {question!r} (interrupt "
                              f"{pending[0].id[:8]}); nothing runs until someone answers")
            out = await graph.ainvoke(Command(resume={"approved": True, "by": "alice"}), config("alice"))
            published = Path(out["published"])
            self.say("approve", f"alice answers Command(resume={{'approved': True}}): published to "
                                f"{published.relative_to(self.root)}")
            await self.fork(graph, published)
            verdict = await verify_thread(saver, THREAD, graph=graph)
            if not verdict.ok:
                raise DemoFailed(f"verify failed: {verdict.problem}")
            self.say("verify", f"{verdict.events} events: hash chain intact; replayed against this "
                               "graph's code (no node run): it decides as the log says")
            self.say("audit", f"the timeline of thread {THREAD!r} (lograph log {self.db} {THREAD}):")
            events = await saver.log.read(THREAD)
            self.out.timeline(timeline(events), title=f"thread {THREAD!r}: {len(events)} events, 2 branches")

    async def fork(self, graph: Any, published: Path) -> None:
        before = None
        async for snap in graph.aget_state_history(config("bob")):
            if snap.next == ("approve",):
                before = snap
                break
        if before is None:
            raise DemoFailed("no checkpoint before the approval in the history")
        cid = before.config["configurable"]["checkpoint_id"]
        out = await graph.ainvoke(None, config("bob", checkpoint_id=cid))
        if not out.get("__interrupt__"):
            raise DemoFailed(f"the fork did not ask for approval again: {out}")
        out = await graph.ainvoke(Command(resume={"approved": False, "by": "bob"}), config("bob"))
        copies = list((self.root / "published").iterdir())
        if out.get("published") or copies != [published] or len(self.lines()) != 3:
            raise DemoFailed(f"the fork changed what it must not: {out}, {copies}")
        self.say("fork", f"from checkpoint {cid} (step {before.metadata['step']}, before the "
                         "approval) bob answers no: not published; alice's branch is unchanged")


def _results(events: list[Any]) -> int:
    return sum(1 for e in events if e.kind == Kind.TASK_RESULT)


def run_demo(directory: str | None, out: Output) -> int:
    """Run the story; return 0, or 1 with the reason on stderr if it went wrong."""
    started = time.monotonic()
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="lograph-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    story = Story(root, out)
    for old in (story.db, Path(f"{story.db}-wal"), Path(f"{story.db}-shm"), story.report):
        old.unlink(missing_ok=True)
    shutil.rmtree(root / "published", ignore_errors=True)
    try:
        anyio.run(story.run)
    except DemoFailed as e:
        print(f"lograph demo: {e}", file=sys.stderr)
        return 1
    out.line(f"done in {time.monotonic() - started:.1f} s; files kept in {root}", style="dim")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        sys.exit(worker(sys.argv[2:]))
    sys.exit(run_demo(None, Output()))
