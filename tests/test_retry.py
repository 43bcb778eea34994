"""Retry policies on nodes and tasks, as LangGraph 1.2.24 applies them.

What is checked: which errors a policy retries (the default's list too), that the
first matching policy of a sequence decides, the waits (backoff, cap, jitter; a sync
node waits with ``time.sleep`` in its worker thread), an entrypoint's policy as its
tasks' default, and what the log records of each attempt, on every store.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import httpx
import pytest
import requests

from lograph.eventlog import Kind
from lograph.runtime import START, RetryPolicy, Runtime, StateGraph, entrypoint, task
from lograph.runtime._retry import default_retry_on, should_retry_on
from tests._stores import open_saver
from tests.faults import bodies

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    log: Annotated[list, operator.add]
    kind: str


class Flaky:
    """Raises ``errors`` in turn, then returns ``{"log": [name]}``; counts its calls."""

    def __init__(self, name: str, *errors: BaseException) -> None:
        self.name, self.errors, self.calls = name, list(errors), 0

    def __call__(self, state: State) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"log": [self.name]}


class AsyncFlaky(Flaky):
    async def __call__(self, state: State) -> dict[str, Any]:  # type: ignore[override]
        return super().__call__(state)


def one_node(fn: Any, **kw: Any) -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("work", fn, **kw)
    builder.add_edge(START, "work")
    return builder


def response(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://test"))


# --- which errors are retried ------------------------------------------------------------


@pytest.mark.parametrize(("error", "retried"), [
    (ConnectionError("refused"), True),
    (ConnectionResetError("reset"), True),  # an OSError, but a connection error first
    (ValueError("bad"), False),
    (KeyError("k"), False),
    (RuntimeError("r"), False),
    (OSError("disk"), False),
    (ZeroDivisionError(), False),
    (httpx.HTTPStatusError("5xx", request=response(503).request, response=response(503)), True),
    (httpx.HTTPStatusError("4xx", request=response(404).request, response=response(404)), False),
    (Exception("unknown"), True),
])
def test_the_default_retries_transient_errors_only(error: Exception, retried: bool) -> None:
    assert default_retry_on(error) is retried


def test_the_default_reads_a_requests_error_as_langgraph_does() -> None:
    class Reply:  # a response object that is truthy, with a status
        def __init__(self, status: int) -> None:
            self.status_code = status

    for status, retried in ((502, True), (400, False)):
        error = requests.HTTPError("http")
        error.response = Reply(status)  # type: ignore[assignment]
        assert default_retry_on(error) is retried
    assert default_retry_on(requests.HTTPError("no response")) is True


def test_retry_on_takes_a_class_a_sequence_or_a_predicate() -> None:
    assert should_retry_on(RetryPolicy(retry_on=KeyError), LookupError()) is False
    assert should_retry_on(RetryPolicy(retry_on=LookupError), KeyError()) is True
    assert should_retry_on(RetryPolicy(retry_on=(KeyError, ValueError)), ValueError()) is True
    assert should_retry_on(RetryPolicy(retry_on=[]), ValueError()) is False
    assert should_retry_on(RetryPolicy(retry_on=lambda e: "again" in str(e)), ValueError("again"))
    with pytest.raises(TypeError, match="retry_on must be"):
        should_retry_on(RetryPolicy(retry_on=42), ValueError())  # type: ignore[arg-type]


def test_a_policy_is_a_named_tuple_with_langgraph_defaults() -> None:
    policy = RetryPolicy()
    assert policy == (0.5, 2.0, 128.0, 3, True, default_retry_on)
    assert policy._replace(max_attempts=5).max_attempts == 5


# --- a node's attempts ------------------------------------------------------------------


def test_a_sync_node_waits_with_time_sleep_backing_off_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    node = Flaky("work", *[ValueError(i) for i in range(4)])
    policy = RetryPolicy(initial_interval=0.01, backoff_factor=3.0, max_interval=0.05,
                         max_attempts=5, jitter=False, retry_on=ValueError)
    assert one_node(node, retry_policy=policy).compile().invoke({"log": []}) == {"log": ["work"]}
    assert node.calls == 5
    assert waits == pytest.approx([0.01, 0.03, 0.05, 0.05])


def test_jitter_adds_up_to_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    monkeypatch.setattr("random.uniform", lambda a, b: 0.25)
    node = Flaky("work", ValueError())
    policy = RetryPolicy(initial_interval=0.01, jitter=True, retry_on=ValueError)
    one_node(node, retry_policy=policy).compile().invoke({"log": []})
    assert waits == [0.26]


async def test_the_first_matching_policy_decides(anyio_backend: str) -> None:
    value = RetryPolicy(initial_interval=0, jitter=False, max_attempts=2, retry_on=ValueError)
    key = RetryPolicy(initial_interval=0, jitter=False, max_attempts=4, retry_on=KeyError)
    node = AsyncFlaky("work", KeyError(1), KeyError(2), KeyError(3))
    graph = one_node(node, retry_policy=[value, key]).compile()
    assert await graph.ainvoke({"log": []}) == {"log": ["work"]}
    assert node.calls == 4
    node = AsyncFlaky("work", ValueError(1), ValueError(2))
    with pytest.raises(ValueError, match="2"):  # its policy allows two attempts
        await one_node(node, retry_policy=(value, key)).compile().ainvoke({"log": []})
    assert node.calls == 2


async def test_an_unmatched_error_is_not_retried_and_names_its_task(anyio_backend: str) -> None:
    node = AsyncFlaky("work", TypeError("wrong"))
    graph = one_node(node, retry_policy=RetryPolicy(initial_interval=0, retry_on=ValueError)).compile()
    with pytest.raises(TypeError, match="wrong") as info:
        await graph.ainvoke({"log": []})
    assert node.calls == 1
    assert any("During task with name 'work'" in note for note in info.value.__notes__)


async def test_each_attempt_is_recorded_and_a_resume_starts_over(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    policy = RetryPolicy(initial_interval=0, jitter=False, max_attempts=2, retry_on=ValueError)
    node = AsyncFlaky("work", ValueError("a"), ValueError("b"), ValueError("c"))
    cfg = {"configurable": {"thread_id": "t"}}
    async with open_saver(store_kind, tmp_path) as saver:
        graph = one_node(node, retry_policy=policy).compile(checkpointer=saver)
        with pytest.raises(ValueError, match="b"):
            await graph.ainvoke({"log": []}, cfg)
        failed = bodies(await saver.log.read("t"), Kind.NODE_FAILED)
        assert [(f["attempt"], f["final"], f["type"]) for f in failed] == [
            (1, False, "ValueError"), (2, True, "ValueError")]
        state = await graph.aget_state(cfg)
        assert state.next == ("work",) and "ValueError('b')" in state.tasks[0].error
        # as LangGraph: the failed task runs again, with all its attempts
        assert await graph.ainvoke(None, cfg) == {"log": ["work"]}
        failed = bodies(await saver.log.read("t"), Kind.NODE_FAILED)
        assert [(f["attempt"], f["final"]) for f in failed][2:] == [(1, False)]


# --- tasks ---------------------------------------------------------------------------


async def test_a_task_retries_and_records_each_failed_attempt(
    anyio_backend: str, store_kind: str, tmp_path: Path,
) -> None:
    calls = {"n": 0}

    @task(retry_policy=RetryPolicy(initial_interval=0, jitter=False, retry_on=KeyError))
    async def fetch(x: int) -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise KeyError(calls["n"])
        return x * 10

    async with open_saver(store_kind, tmp_path) as saver:
        @entrypoint(checkpointer=saver)
        async def flow(x: int) -> int:
            return await fetch(x)

        assert await flow.ainvoke(4, {"configurable": {"thread_id": "t"}}) == 40
        results = bodies(await saver.log.read("t"), Kind.TASK_RESULT)
        assert [(r["ok"], r.get("attempt")) for r in results] == [(False, 1), (False, 2), (True, 3)]


async def test_an_entrypoint_policy_is_its_tasks_default(anyio_backend: str) -> None:
    calls = {"own": 0, "plain": 0}

    @task
    async def plain() -> str:
        calls["plain"] += 1
        if calls["plain"] < 2:
            raise ConnectionError("flaky")
        return "plain"

    @task(retry_policy=RetryPolicy(max_attempts=1))
    async def own() -> str:
        calls["own"] += 1
        raise ConnectionError("once")

    @entrypoint(retry_policy=RetryPolicy(initial_interval=0, jitter=False))
    async def flow(_: Any) -> Any:
        first = await plain()
        try:
            await own()
        except ConnectionError:
            return first
        return None

    assert await flow.ainvoke(1) == "plain"
    assert calls == {"own": 1, "plain": 2}


async def test_each_attempt_knows_its_number_and_when_the_first_began(anyio_backend: str) -> None:
    seen: list[tuple[int, float | None]] = []

    async def node(state: State, runtime: Runtime) -> dict[str, Any]:
        info = runtime.execution_info
        seen.append((info.node_attempt, info.node_first_attempt_time))
        if len(seen) < 3:
            raise ValueError("again")
        return {"log": ["done"]}

    policy = RetryPolicy(initial_interval=0, jitter=False, retry_on=ValueError)
    assert await one_node(node, retry_policy=policy).compile().ainvoke({"log": []}) == {"log": ["done"]}
    assert [n for n, _ in seen] == [1, 2, 3]
    assert isinstance(seen[0][1], float) and {t for _, t in seen} == {seen[0][1]}
