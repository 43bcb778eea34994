"""A stream its reader leaves: the run stops at a step boundary, recorded as cancelled.

Every way a reader can go away is tried, on asyncio and trio and on every store: the
reading task cancelled while it waits for a chunk (a node still running) or while it
holds one; the stream closed from another task; the stream dropped and collected by
the loop's finalizer of async generators; a web server's streaming response whose
client disconnects (Starlette's pattern: a task group with a disconnect listener that
cancels the task writing the body). Each time nothing escapes, the log ends with the
run cancelled (once the closing or cancelled task is done, where it waits for that), ``aget_state`` and ``lograph state`` show the same last committed step
and ``next``, and the next run continues from there with no write dropped and no node
run twice. The sync ``stream()`` closed or dropped early does the same.
"""

from __future__ import annotations

import gc
import json
import operator
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager, closing, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from lograph.adapters.cli import state_view
from lograph.adapters.memory import MemorySaver
from lograph.eventlog import Event, Kind, state_at
from lograph.runtime import START, Runs, StateGraph, Worker
from tests._stores import STORE_KINDS
from tests.faults import finished

pytestmark = [
    pytest.mark.anyio,
    # trio's finalizer of async generators warns that it had to close one: here it is
    # what is tested, not a mistake
    pytest.mark.filterwarnings("ignore:Async generator .* was garbage collected:ResourceWarning"),
]

ROOT = Path(__file__).resolve().parent.parent
THREAD = "t"
CONFIG = {"configurable": {"thread_id": THREAD}}


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


class Chain:
    """a -> b -> c; ``ran`` counts the nodes that finished; b waits for ``gate`` when
    one is set."""

    def __init__(self, saver: Any) -> None:
        self.ran: Counter[str] = Counter()
        self.gate: anyio.Event | None = None
        self.b_started = anyio.Event()
        builder = StateGraph(Log)
        for name in ("a", "b", "c"):
            builder.add_node(name, self._node(name))
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", "c")
        self.graph = builder.compile(checkpointer=saver)

    def _node(self, name: str) -> Callable[[Log], Awaitable[dict[str, Any]]]:
        async def node(state: Log) -> dict[str, Any]:
            if name == "b":
                self.b_started.set()
                if self.gate is not None:
                    await self.gate.wait()
            self.ran[name] += 1
            return {"log": [name]}

        return node


@asynccontextmanager
async def opened(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Any, str | None]]:
    """A saver of ``kind`` and how ``lograph`` names its store (None: memory, no CLI)."""
    if kind == "memory":
        yield MemorySaver(), None
    elif kind == "sqlite":
        from lograph.adapters.sqlite import SqliteSaver

        path = tmp_path / "saver.db"
        async with SqliteSaver.from_conn_string(path) as saver:
            yield saver, str(path)
    else:
        from lograph.adapters.postgres import AsyncPostgresSaver
        from tests._store_postgres import dsn, fresh_schema

        url, schema = await dsn(), fresh_schema()
        async with AsyncPostgresSaver.from_conn_string(url, schema=schema, max_size=4) as saver:
            await saver.setup()
            yield saver, f"{url}?schema={schema}"


def collect_garbage() -> None:
    """Collect dropped streams now (a reference cycle may hold them): their loop's
    finalizer closes them."""
    gc.collect()


async def run_over(saver: Any) -> list[Event]:
    """The thread's events once the streamed run has recorded its end."""
    with anyio.fail_after(20):
        while True:
            events: list[Event] = await saver.log.read(THREAD)
            if events and events[-1].kind == Kind.RUN_FINISHED:
                return events
            await anyio.sleep(0.01)


async def cli_state(store: str, *more: str) -> dict[str, Any]:
    done = await anyio.run_process(
        [sys.executable, "-m", "lograph.adapters.cli", "state", store, THREAD, "--json", *more],
        cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr.decode()
    state: dict[str, Any] = json.loads(done.stdout)
    return state


async def assert_stopped_after(chain: Chain, saver: Any, store: str | None, done: list[str]) -> None:
    """The run is recorded cancelled after the steps of ``done``; every reader agrees;
    the next run finishes the chain, each node having finished once."""
    events = await run_over(saver)
    assert finished(events) == ["cancelled"]
    snapshot = await chain.graph.aget_state(CONFIG)
    following = {"a": ("b",), "b": ("c",)}[done[-1]]
    assert (snapshot.values, snapshot.next) == ({"log": done}, following)
    # what `lograph state` shows: the same fold of the same log (run as the command on
    # a store it can open, by the function it calls on memory)
    if store is not None:
        shown = await cli_state(store)
    else:
        cp = state_at(events, events[-1].seq, exact=False, thread=THREAD)
        shown = {"checkpoint_id": cp.id, "values": cp.values, "run_status": cp.run_status,
                 "next": [t["name"] for t in cp.next]}
    assert shown["checkpoint_id"] == snapshot.config["configurable"]["checkpoint_id"]
    assert (shown["values"], tuple(shown["next"]), shown["run_status"]) == (
        {"log": done}, following, "cancelled")
    chain.gate = None
    assert await chain.graph.ainvoke(None, CONFIG) == {"log": ["a", "b", "c"]}
    assert chain.ran == Counter({"a": 1, "b": 1, "c": 1})
    assert finished(await saver.log.read(THREAD)) == ["cancelled", "done"]


async def first_chunk_then(stream: Any, got: anyio.Event, *, closing: bool) -> None:
    """Read the stream's first chunk, then wait (to be cancelled) holding it."""
    if closing:
        async with aclosing(stream):
            async for _ in stream:
                got.set()
                await anyio.sleep_forever()
    async for _ in stream:
        got.set()
        await anyio.sleep_forever()


async def cancel_after_first_chunk(opens: Callable[[], Any], *, closing: bool, keep: bool) -> list[Any]:
    """Run a reader of ``opens()`` until it has a chunk, then cancel it; the stream
    (left as the reader left it), if ``keep``."""
    holder = [opens()]
    got = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: first_chunk_then(holder[0], got, closing=closing))
        await got.wait()
        tg.cancel_scope.cancel()
    return holder if keep else []


def chain_stream(chain: Chain) -> Callable[[], Any]:
    return lambda: chain.graph.astream({"log": []}, CONFIG, stream_mode="updates")


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_reader_cancelled_while_a_node_runs(
    anyio_backend: str, kind: str, tmp_path: Path
) -> None:
    # the reader waits for the next chunk while b runs, and is cancelled there (the
    # request ends): b is cancelled with it, as cancelling ainvoke would
    async with opened(kind, tmp_path) as (saver, store):
        chain = Chain(saver)
        chain.gate = anyio.Event()

        async def reader() -> None:
            async for _ in chain.graph.astream({"log": []}, CONFIG, stream_mode="updates"):
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await chain.b_started.wait()
            tg.cancel_scope.cancel()
        # the cancelled reader is gone once the run has stopped
        assert (await saver.log.read(THREAD))[-1].kind == Kind.RUN_FINISHED
        await assert_stopped_after(chain, saver, store, ["a"])


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_reader_cancelled_in_a_step_keeps_its_finished_tasks_writes(
    anyio_backend: str, kind: str, tmp_path: Path
) -> None:
    gate, slow_started = anyio.Event(), anyio.Event()
    ran: Counter[str] = Counter()

    async def quick(state: Log) -> dict[str, Any]:
        ran["quick"] += 1
        return {"log": ["quick"]}

    async def slow(state: Log) -> dict[str, Any]:
        slow_started.set()
        await gate.wait()
        ran["slow"] += 1
        return {"log": ["slow"]}

    builder = StateGraph(Log)
    builder.add_node("quick", quick)
    builder.add_node("slow", slow)
    builder.add_edge(START, "quick")
    builder.add_edge(START, "slow")
    async with opened(kind, tmp_path) as (saver, store):
        graph = builder.compile(checkpointer=saver)
        async with anyio.create_task_group() as tg:

            async def reader() -> None:
                async for chunk in graph.astream({"log": []}, CONFIG, stream_mode="updates"):
                    assert chunk == {"quick": {"log": ["quick"]}}
                    got_quick.set()

            got_quick = anyio.Event()
            tg.start_soon(reader)
            await slow_started.wait()
            await got_quick.wait()  # the reader waits for slow from here on
            tg.cancel_scope.cancel()
        events = await saver.log.read(THREAD)
        assert finished(events) == ["cancelled"]
        snapshot = await graph.aget_state(CONFIG)
        # as LangGraph's get_state: the finished task's writes applied, only slow next
        assert (snapshot.values, snapshot.next) == ({"log": ["quick"]}, ("slow",))
        # `lograph state` shows the same view; given the graph (its reducers), the same
        # values; without it, the values at the step's start and quick's writes beside them
        (tmp_path / "fan.py").write_text(FAN)
        if store is not None:
            plain = await cli_state(store)
            given = await cli_state(store, "--graph", f"{tmp_path / 'fan.py'}:builder")
        else:  # (memory: the function the command calls)
            cp = state_at(events, events[-1].seq, exact=False, thread=THREAD)
            plain = json.loads(json.dumps(state_view(cp, THREAD, live=True)))
            given = json.loads(json.dumps(state_view(cp, THREAD, live=True, graph=builder)))
        for shown in (plain, given):
            assert shown["checkpoint_id"] == snapshot.config["configurable"]["checkpoint_id"]
            assert (shown["next"], shown["run_status"]) == (["slow"], "cancelled")
            assert list(shown["pending_writes"].values()) == [[["log", ["quick"]]]]
        assert (given["values"], plain["values"]) == ({"log": ["quick"]}, {"log": []})
        gate.set()
        assert sorted((await graph.ainvoke(None, CONFIG))["log"]) == ["quick", "slow"]
        assert ran == Counter({"quick": 1, "slow": 1})  # quick's writes were kept, not redone


FAN = """
import operator
from typing import Annotated, TypedDict

from lograph.runtime import START, StateGraph


class Log(TypedDict, total=False):
    log: Annotated[list, operator.add]


def node(state):
    return {}


builder = StateGraph(Log)
builder.add_node("quick", node)
builder.add_node("slow", node)
builder.add_edge(START, "quick")
builder.add_edge(START, "slow")
"""


@pytest.mark.parametrize("how", ["closed_in_the_cancelled_task", "closed_from_another_task",
                                 "dropped_and_finalized"])
@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_reader_cancelled_holding_a_chunk(
    anyio_backend: str, kind: str, tmp_path: Path, how: str
) -> None:
    async with opened(kind, tmp_path) as (saver, store):
        chain = Chain(saver)
        if how == "closed_in_the_cancelled_task":  # `async with aclosing(...)` in the reader
            await cancel_after_first_chunk(chain_stream(chain), closing=True, keep=False)
        elif how == "closed_from_another_task":
            [stream] = await cancel_after_first_chunk(chain_stream(chain), closing=False, keep=True)
            await stream.aclose()
        else:  # the loop's finalizer of async generators closes it
            await cancel_after_first_chunk(chain_stream(chain), closing=False, keep=False)
            collect_garbage()
        if how != "dropped_and_finalized":  # the close returned once the run had stopped
            assert (await saver.log.read(THREAD))[-1].kind == Kind.RUN_FINISHED
        await assert_stopped_after(chain, saver, store, ["a"])


async def streaming_response(body: AsyncIterator[bytes], send: Callable[[bytes], Awaitable[None]],
                             receive: Callable[[], Awaitable[str]]) -> None:
    """Starlette's StreamingResponse, reduced: the body is written by one task while
    another listens for the client's disconnect, which cancels both."""
    async with anyio.create_task_group() as tg:

        async def write_body() -> None:
            async for chunk in body:
                await send(chunk)
            tg.cancel_scope.cancel()

        async def listen_for_disconnect() -> None:
            while await receive() != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(write_body)
        await listen_for_disconnect()


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_client_that_disconnects_from_a_streaming_response(
    anyio_backend: str, kind: str, tmp_path: Path
) -> None:
    async with opened(kind, tmp_path) as (saver, store):
        chain = Chain(saver)

        async def body() -> AsyncIterator[bytes]:  # the app's endpoint, as users write it
            async for chunk in chain.graph.astream({"log": []}, CONFIG, stream_mode="updates"):
                yield json.dumps(chunk).encode() + b"\n"

        to_client, from_server = anyio.create_memory_object_stream[bytes](0)
        to_server, from_client = anyio.create_memory_object_stream[str](1)

        async def client() -> None:  # reads a chunk and goes away while b runs
            async with from_server, to_server:
                assert json.loads(await from_server.receive()) == {"a": {"log": ["a"]}}
                await chain.b_started.wait()
                await to_server.send("http.disconnect")

        chain.gate = anyio.Event()
        async with to_client, from_client, anyio.create_task_group() as tg:
            tg.start_soon(client)
            await streaming_response(body(), to_client.send, from_client.receive)
        collect_garbage()  # the server drops the response
        await assert_stopped_after(chain, saver, store, ["a"])


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_stream_read_to_its_end_is_not_cancelled(
    anyio_backend: str, kind: str, tmp_path: Path
) -> None:
    async with opened(kind, tmp_path) as (saver, _):
        chain = Chain(saver)
        async with aclosing(chain.graph.astream({"log": []}, CONFIG, stream_mode="values")) as stream:
            assert [chunk async for chunk in stream][-1] == {"log": ["a", "b", "c"]}
        assert finished(await saver.log.read(THREAD)) == ["done"]


async def test_a_run_that_fails_raises_its_own_error_to_the_reader(anyio_backend: str) -> None:
    builder = StateGraph(Log)

    def broken(state: Log) -> dict[str, Any]:
        raise KeyError("broken")

    builder.add_node("a", broken)
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=MemorySaver())
    with pytest.raises(KeyError, match="broken"):  # itself, not in a group
        async for _ in graph.astream({"log": []}, CONFIG):
            pass


@pytest.mark.parametrize("how", ["cancelled", "closed_from_another_task", "dropped"])
@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_background_runs_reader_leaving_leaves_the_run_alone(
    anyio_backend: str, kind: str, tmp_path: Path, how: str
) -> None:
    # a run submitted to the store belongs to its worker: the stream of its events
    # (RunHandle.stream) only reads the log, and its reader may go any way
    async with opened(kind, tmp_path) as (saver, _):
        chain = Chain(saver)
        chain.gate = anyio.Event()
        handle = await Runs(saver).submit(THREAD, {"log": []})
        async with Worker(chain.graph, lease=1.0, poll=0.01):
            kept = await cancel_after_first_chunk(lambda: handle.stream(poll=0.01), closing=False,
                                                  keep=True)
            if how == "closed_from_another_task":
                await kept.pop().aclose()
            elif how == "dropped":
                kept.clear()
                collect_garbage()
            chain.gate.set()
            assert await handle.join() == {"log": ["a", "b", "c"]}
        assert finished(await saver.log.read(THREAD)) == ["done"]


# -- the sync facade ------------------------------------------------------------------------


def sync_saver(kind: str, tmp_path: Path) -> tuple[Any, str | None]:
    if kind == "memory":
        return MemorySaver(), None
    if kind == "sqlite":
        from lograph.adapters.sqlite import SqliteSaver

        return SqliteSaver.from_conn_string(tmp_path / "saver.db"), str(tmp_path / "saver.db")
    from lograph.adapters.postgres import PostgresSaver
    from tests._store_postgres import fresh_schema, server

    url, schema = server().dsn, fresh_schema()
    return PostgresSaver.from_conn_string(url, schema=schema, max_size=2), f"{url}?schema={schema}"


@pytest.mark.parametrize("how", ["close", "raise", "drop"])
@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_sync_stream_left_early(kind: str, tmp_path: Path, how: str) -> None:
    opening, store = sync_saver(kind, tmp_path)
    with opening if kind != "memory" else nullcontext(opening) as saver:
        if kind == "postgres":
            saver.setup()
        chain = Chain(saver)
        if how == "raise":  # the reader fails inside `with closing(...)`
            with pytest.raises(LookupError), closing(
                chain.graph.stream({"log": []}, CONFIG, stream_mode="updates")
            ) as stream:
                for chunk in stream:
                    assert chunk == {"a": {"log": ["a"]}}
                    raise LookupError("the reader fails")
        else:
            stream = chain.graph.stream({"log": []}, CONFIG, stream_mode="updates")
            assert next(stream) == {"a": {"log": ["a"]}}
            if how == "close":
                stream.close()
            else:
                del stream
                collect_garbage()
        # the run has stopped when the reader's close returns: nothing to wait for
        snapshot = chain.graph.get_state(CONFIG)
        assert (snapshot.values, snapshot.next) == ({"log": ["a"]}, ("b",))
        if store is not None:
            shown = anyio.run(cli_state, store)
            assert shown["checkpoint_id"] == snapshot.config["configurable"]["checkpoint_id"]
            assert (shown["values"], shown["next"], shown["run_status"]) == (
                {"log": ["a"]}, ["b"], "cancelled")
        else:
            assert finished(anyio.run(saver.log.read, THREAD)) == ["cancelled"]
        assert chain.ran == Counter({"a": 1})
        assert chain.graph.invoke(None, CONFIG) == {"log": ["a", "b", "c"]}
        assert chain.ran == Counter({"a": 1, "b": 1, "c": 1})
