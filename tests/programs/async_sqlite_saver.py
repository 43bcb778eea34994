"""LangGraph's AsyncSqliteSaver docstring: its StateGraph example, and its raw usage on
an aiosqlite connection, which reads checkpoints with aget_tuple/alist after a run (in
place of its hand-made aput: lograph's savers refuse writes from code)."""

import asyncio

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: TID251 - the program as LangGraph's docs write it
from langgraph.graph import StateGraph  # noqa: TID251 - the program as LangGraph's docs write it


async def main():
    builder = StateGraph(int)
    builder.add_node("add_one", lambda x: x + 1)
    builder.set_entry_point("add_one")
    builder.set_finish_point("add_one")
    async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as memory:
        graph = builder.compile(checkpointer=memory)
        coro = graph.ainvoke(1, {"configurable": {"thread_id": "thread-1"}})
        print(await asyncio.gather(coro))


asyncio.run(main())


async def raw():
    async with aiosqlite.connect("checkpoints.db") as conn:
        saver = AsyncSqliteSaver(conn)
        builder = StateGraph(int)
        builder.add_node("double", lambda x: x * 2)
        builder.set_entry_point("double")
        builder.set_finish_point("double")
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "1", "checkpoint_ns": ""}}
        print(await graph.ainvoke(21, config))
        latest = await saver.aget_tuple(config)
        print(latest.checkpoint["channel_values"], latest.metadata)
        print(latest.config["configurable"]["checkpoint_ns"], latest.parent_config is not None)
        print([t.metadata["step"] async for t in saver.alist(config)])
        print([t.checkpoint["channel_values"] async for t in saver.alist(config, limit=1)])
        print((await saver.aget({"configurable": {"thread_id": "thread-1"}}))["channel_values"])
        print((await graph.aget_state({"configurable": {"thread_id": "thread-1"}})).values)


asyncio.run(raw())
