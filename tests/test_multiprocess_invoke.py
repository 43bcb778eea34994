"""Direct ``ainvoke`` callers in several OS processes on one thread of one SQLite file or
one PostgreSQL server (issue 21, item 3): they queue through the store's runs tier
instead of failing with ConflictError, and each ``multitask_strategy`` acts across
processes as it does for submitted runs.

The callers are ``tests/xproc_caller.py`` processes; the test process is a caller too
where a test needs one that it controls step by step.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from lograph.eventlog import RunBusyError
from lograph.eventlog.lowlevel import STALE
from lograph.runtime import RunError, _place
from tests._stores import open_saver
from tests.xproc_caller import build

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent
DISK_STORES = ["sqlite", "postgres"]
CONFIG = {"configurable": {"thread_id": "t", "multitask_strategy": "enqueue"}}  # (a place: asked)


async def _spec(kind: str, saver: Any, tmp_path: Path) -> str:
    if kind == "sqlite":
        return json.dumps({"sqlite": str(tmp_path / "saver.db")})
    from tests._store_postgres import dsn

    return json.dumps({"dsn": await dsn(), "schema": saver.log.schema})


def _caller(spec: str, backend: str, *args: str, stdin: Any = subprocess.DEVNULL,
            **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.xproc_caller", spec, backend, *args], cwd=ROOT,
        env={**os.environ, **env}, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


async def _finish(proc: subprocess.Popen[str], seconds: float = 60) -> list[dict[str, Any]]:
    out, err = await anyio.to_thread.run_sync(lambda: proc.communicate(timeout=seconds))
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _inputs(log: list[str]) -> list[str]:
    """The inputs a thread's ``log`` shows, each followed by its run's work."""
    assert log[1::2] == ["w"] * (len(log) // 2), log
    return log[::2]


@asynccontextmanager
async def _short_lease(seconds: float) -> AsyncIterator[None]:
    """This process's in-process runs under a lease of ``seconds`` (stops learned fast)."""
    old, _place.LEASE = _place.LEASE, seconds
    try:
        yield
    finally:
        _place.LEASE = old


async def _wait_for(path: Path, text: str) -> None:
    """Until a run whose input is ``text`` has started its first node (the file says)."""
    file = anyio.Path(path)
    with anyio.fail_after(30):
        while text not in ((await file.read_text()).split() if await file.exists() else []):  # noqa: ASYNC110 - another process writes it
            await anyio.sleep(0.01)


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_processes_calling_ainvoke_on_one_thread_queue_and_apply_each_input_once(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    async with open_saver(store_kind, tmp_path) as saver:
        spec = await _spec(store_kind, saver, tmp_path)
        procs = [_caller(spec, anyio_backend, "invoke", "t", tag, "4") for tag in "ABC"]
        lines = [line for p in procs for line in await _finish(p)]
        assert all(line.get("ok") for line in lines), lines  # no ConflictError, no failure
        state = await build().compile(checkpointer=saver).aget_state(CONFIG)
        applied = _inputs(state.values["log"])
        assert sorted(applied) == sorted(f"{t}-{i}" for t in "ABC" for i in range(4))
        for tag in "ABC":  # each caller's inputs in the order it made them
            assert [x for x in applied if x[0] == tag] == [f"{tag}-{i}" for i in range(4)]
        assert await saver.log.list_runs() == []  # an ended direct run leaves no record


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_reject_across_processes(store_kind: str, anyio_backend: str, tmp_path: Path) -> None:
    started = tmp_path / "started"
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        holder = _caller(await _spec(store_kind, saver, tmp_path), anyio_backend, "invoke", "t",
                         "A", "1", XPROC_NODE_SECONDS="1.5", XPROC_STARTED=str(started))
        await _wait_for(started, "A-0")
        with pytest.raises(RunBusyError, match="'reject'"):
            await graph.ainvoke({"log": ["B"]}, CONFIG, multitask_strategy="reject")
        with pytest.raises(RunBusyError):  # the config's key says the same
            await graph.ainvoke({"log": ["B"]}, {"configurable": {
                "thread_id": "t", "multitask_strategy": "reject"}})
        await graph.ainvoke({"log": ["C"]}, CONFIG)  # enqueue (the default): after A
        assert await _finish(holder) == [{"input": "A-0", "ok": True}]
        assert _inputs((await graph.aget_state(CONFIG)).values["log"]) == ["A-0", "C"]


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_interrupt_and_rollback_across_processes(
    store_kind: str, strategy: str, anyio_backend: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = tmp_path / "started"
    monkeypatch.setenv("XPROC_STEPS", "3")
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        await graph.ainvoke({"log": ["first"]}, CONFIG)
        # A: three 0.4 s steps, under a 0.6 s lease (it learns of a stop within 0.2 s)
        holder = _caller(await _spec(store_kind, saver, tmp_path), anyio_backend, "invoke", "t",
                         "A", "1", XPROC_NODE_SECONDS="0.4", XPROC_LEASE="0.6",
                         XPROC_STARTED=str(started))
        await _wait_for(started, "A-0")
        await graph.ainvoke({"log": ["B"]}, CONFIG, multitask_strategy=strategy)
        (line,) = await _finish(holder)
        # A stopped at a step boundary, and its caller got a RunError saying how
        assert line["error"] == "RunError", line
        status = "interrupted" if strategy == "interrupt" else "cancelled"
        assert line["status"] == status
        log = (await graph.aget_state(CONFIG)).values["log"]
        first, ours = ["first", "w", "w", "w"], ["B", "w", "w", "w"]
        if strategy == "interrupt":  # A's input and its committed step(s) are kept
            kept = log[len(first):-len(ours)]
            assert log[:len(first)] == first and log[-len(ours):] == ours, log
            assert kept in (["A-0", "w"], ["A-0", "w", "w"]), log
        else:  # B ran from where A started: A's steps are on a branch of their own
            assert log == first + ours
        kept_runs = await saver.log.list_runs(thread="t")
        assert [(r.status, r.stop) for r in kept_runs][-1] == (status, strategy)


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_a_killed_callers_place_expires_and_the_thread_moves_on(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    started = tmp_path / "started"
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        holder = _caller(await _spec(store_kind, saver, tmp_path), anyio_backend, "invoke", "t",
                         "A", "1", XPROC_NODE_SECONDS="30", XPROC_LEASE="0.8",
                         XPROC_STARTED=str(started))
        await _wait_for(started, "A-0")
        holder.send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(holder.communicate)
        killed = time.monotonic()
        async with _short_lease(0.8):
            await graph.ainvoke({"log": ["B"]}, CONFIG)
        assert time.monotonic() - killed < 0.8 + 2.0
        (dead,) = await saver.log.list_runs(thread="t")
        assert (dead.status, dead.error) == ("error", STALE)
        # A's input reached the log before it died (its node never finished)
        log = (await graph.aget_state(CONFIG)).values["log"]
        assert log[0] == "A-0" and log[-2:] == ["B", "w"] and log.count("B") == 1, log


async def _request(port: int, text: str) -> str:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(text.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            answer += await stream.receive()
    return answer.decode().strip()


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_two_web_servers_on_one_thread(store_kind: str, anyio_backend: str, tmp_path: Path) -> None:
    """Two server processes, requests for one thread sent to both in turn while earlier ones
    are still running: every request answered ok, every input applied once, in the order
    the servers accepted them (took their place in the thread's queue)."""
    total = 10
    async with open_saver(store_kind, tmp_path) as saver:
        spec = await _spec(store_kind, saver, tmp_path)
        servers = [_caller(spec, anyio_backend, "serve", "t", stdin=subprocess.PIPE,
                           XPROC_NODE_SECONDS="0.1") for _ in range(2)]
        try:
            ports = []
            for s in servers:
                assert s.stdout is not None
                ports.append(json.loads(await anyio.to_thread.run_sync(s.stdout.readline))["port"])
            answers: dict[str, str] = {}
            accepted: list[str] = []
            newest = 0

            async def send(i: int) -> None:
                answers[f"r{i}"] = await _request(ports[i % 2], f"r{i}")

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for i in range(total):
                        tg.start_soon(send, i)
                        # the next request goes out once this one has its place in the queue
                        while True:
                            recorded = await saver.log.list_runs(thread="t", limit=1)
                            if recorded and recorded[0].order > newest:
                                newest = recorded[0].order
                                accepted.append(f"r{i}")
                                break
                            if f"r{i}" in answers:  # it ran and ended before we looked
                                accepted.append(f"r{i}")
                                break
                            await anyio.sleep(0.005)
        finally:  # (communicate closes their stdin: they stop)
            errors = [(await anyio.to_thread.run_sync(s.communicate))[1] for s in servers]
        assert answers == {f"r{i}": "ok" for i in range(total)}, errors
        state = await build().compile(checkpointer=saver).aget_state(CONFIG)
        assert _inputs(state.values["log"]) == accepted == [f"r{i}" for i in range(total)]


async def test_strategies_in_one_process(
    store_kind: str, anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In one process too (every store): a second caller's strategy acts on the first."""
    started = tmp_path / "started"
    monkeypatch.setenv("XPROC_STARTED", str(started))
    monkeypatch.setenv("XPROC_NODE_SECONDS", "0.4")
    monkeypatch.setenv("XPROC_STEPS", "3")
    async with open_saver(store_kind, tmp_path) as saver, _short_lease(0.3):
        graph = build().compile(checkpointer=saver)
        outcome: list[Any] = []

        async def first() -> None:
            try:
                outcome.append(await graph.ainvoke({"log": ["A"]}, CONFIG))
            except RunError as e:
                outcome.append(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await _wait_for(started, "A")
            with pytest.raises(RunBusyError):
                await graph.ainvoke({"log": ["B"]}, CONFIG, multitask_strategy="reject")
            await graph.ainvoke({"log": ["C"]}, CONFIG, multitask_strategy="interrupt")
        (stopped,) = outcome
        assert isinstance(stopped, RunError) and stopped.status == "interrupted"
        # A stopped at a step boundary (its steps kept: one, or two on a slow machine); C
        # ran after it
        log = (await graph.aget_state(CONFIG)).values["log"]
        assert log in (["A", "w", "C", "w", "w", "w"], ["A", "w", "w", "C", "w", "w", "w"]), log
        with pytest.raises(ValueError, match="multitask_strategy='sometimes'"):
            await graph.ainvoke({"log": ["D"]}, CONFIG, multitask_strategy="sometimes")
        if store_kind == "postgres":  # the log forgot every place it took, stopped ones too
            assert saver.log._relaxed == {}


async def test_a_plain_run_takes_no_place_on_any_store(
    store_kind: str, anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that names no strategy takes no place, on every store alike (its appends stay
    optimistic; a place costs it 3% on memory and more than 5% on disk stores); one that
    names ``enqueue`` takes one, seen by the queue while it runs and gone once it ends."""
    started = tmp_path / "started"
    monkeypatch.setenv("XPROC_STARTED", str(started))
    monkeypatch.setenv("XPROC_NODE_SECONDS", "0.3")
    plain = {"configurable": {"thread_id": "t"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        async with anyio.create_task_group() as tg:
            tg.start_soon(graph.ainvoke, {"log": ["A"]}, plain)
            await _wait_for(started, "A")
            assert await saver.log.list_runs(thread="t") == []
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(graph.ainvoke, {"log": ["B"]}, plain,
                                            multitask_strategy="enqueue"))
            await _wait_for(started, "B")
            listed = await saver.log.list_runs(thread="t")
            assert [(r.status, r.in_process) for r in listed] == [("running", True)]
        assert await saver.log.list_runs() == []
        assert _inputs((await graph.aget_state(plain)).values["log"]) == ["A", "B"]


async def test_a_run_that_ends_drops_its_place_with_its_last_append(
    store_kind: str, anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A place costs no round trip of its own at the end: the run's last append (every
    durability mode) drops it in its transaction; a run that wrote nothing drops it alone."""
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        dropped: list[Any] = []
        drop = saver.log.drop_run

        async def counted(lease: Any) -> None:
            dropped.append(lease)
            await drop(lease)

        monkeypatch.setattr(saver.log, "drop_run", counted)
        for i, mode in enumerate(["sync", "async", "exit"]):
            await graph.ainvoke({"log": [f"x{i}"]}, CONFIG, durability=mode,
                                multitask_strategy="enqueue")
            assert dropped == [] and await saver.log.list_runs() == [], mode
        with pytest.raises(ValueError, match="interrupt_before"):  # refused before it wrote
            await graph.ainvoke({"log": ["y"]}, CONFIG, interrupt_before=["nowhere"],
                                multitask_strategy="enqueue")
        assert len(dropped) == 1 and await saver.log.list_runs() == []
        assert _inputs((await graph.aget_state(CONFIG)).values["log"]) == ["x0", "x1", "x2"]


PLAIN = {"configurable": {"thread_id": "t"}}  # (a call that names no strategy)


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_plain_ainvoke_callers_in_processes_take_turns(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    """Calls that name no strategy queue too: each holds its thread's turn (no record)."""
    async with open_saver(store_kind, tmp_path) as saver:
        spec = await _spec(store_kind, saver, tmp_path)
        procs = [_caller(spec, anyio_backend, "invoke", "t", tag, "4", "plain") for tag in "ABC"]
        lines = [line for p in procs for line in await _finish(p)]
        assert all(line.get("ok") for line in lines), lines  # no ConflictError
        applied = _inputs((await build().compile(checkpointer=saver).aget_state(PLAIN)).values["log"])
        assert sorted(applied) == sorted(f"{t}-{i}" for t in "ABC" for i in range(4))
        for tag in "ABC":
            assert [x for x in applied if x[0] == tag] == [f"{tag}-{i}" for i in range(4)]
        assert await saver.log.list_runs() == []


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_plain_and_recorded_runs_wait_for_each_other_across_processes(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    """A run with a place waits for another process's plain run, and a plain run waits
    behind another process's recorded run; each in the order they came."""
    started = tmp_path / "started"
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        spec = await _spec(store_kind, saver, tmp_path)
        holder = _caller(spec, anyio_backend, "invoke", "t", "A", "1", "plain",
                         XPROC_NODE_SECONDS="0.6", XPROC_STARTED=str(started))
        await _wait_for(started, "A-0")
        await graph.ainvoke({"log": ["B"]}, CONFIG)  # enqueue
        assert await _finish(holder) == [{"input": "A-0", "ok": True}]
        holder = _caller(spec, anyio_backend, "invoke", "t", "C", "1", "enqueue",
                         XPROC_NODE_SECONDS="0.6", XPROC_STARTED=str(started))
        await _wait_for(started, "C-0")
        await graph.ainvoke({"log": ["D"]}, PLAIN)
        assert await _finish(holder) == [{"input": "C-0", "ok": True}]
        assert _inputs((await graph.aget_state(PLAIN)).values["log"]) == ["A-0", "B", "C-0", "D"]
        assert await saver.log.list_runs() == []


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_update_state_waits_for_another_processes_run(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    started = tmp_path / "started"
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        spec = await _spec(store_kind, saver, tmp_path)
        for strategy in ("plain", "enqueue"):
            holder = _caller(spec, anyio_backend, "invoke", "t", strategy, "1", strategy,
                             XPROC_NODE_SECONDS="0.6", XPROC_STARTED=str(started))
            await _wait_for(started, f"{strategy}-0")
            await graph.aupdate_state(PLAIN, {"log": [f"edit-{strategy}"]})  # no ConflictError
            assert await _finish(holder) == [{"input": f"{strategy}-0", "ok": True}]
        log = (await graph.aget_state(PLAIN)).values["log"]
        assert log == ["plain-0", "w", "edit-plain", "enqueue-0", "w", "edit-enqueue"]


@pytest.mark.parametrize("store_kind", DISK_STORES)
async def test_a_killed_plain_callers_thread_is_free_at_once(
    store_kind: str, anyio_backend: str, tmp_path: Path,
) -> None:
    """A plain call's turn dies with its process: no lease to wait out."""
    started = tmp_path / "started"
    async with open_saver(store_kind, tmp_path) as saver:
        graph = build().compile(checkpointer=saver)
        holder = _caller(await _spec(store_kind, saver, tmp_path), anyio_backend, "invoke", "t",
                         "A", "1", "plain", XPROC_NODE_SECONDS="30", XPROC_STARTED=str(started))
        await _wait_for(started, "A-0")
        holder.send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(holder.communicate)
        with anyio.fail_after(_place.LEASE / 2):  # (far less than a place's lease)
            await graph.ainvoke({"log": ["B"]}, PLAIN)
        log = (await graph.aget_state(PLAIN)).values["log"]
        assert log[0] == "A-0" and log[-2:] == ["B", "w"], log
