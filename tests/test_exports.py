"""The public surface: each package's ``__all__`` is exact, and LangGraph's names are there."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["lograph.eventlog", "lograph.runtime"]  # adapters: one module per store


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "a name is exported twice"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ lists {item!r}, which it does not define"
        assert not item.startswith("_"), f"{name} exports the private name {item!r}"


def test_langgraph_names_are_exported_from_runtime() -> None:
    import lograph.runtime as runtime

    for item in ("StateGraph", "START", "END", "Send", "Command", "interrupt", "task",
                 "entrypoint", "RetryPolicy", "StateSnapshot", "Interrupt", "get_stream_writer",
                 "add_messages", "MessagesState"):
        assert item in runtime.__all__, item


def test_savers_under_their_langgraph_names() -> None:
    from lograph.adapters.memory import InMemorySaver, MemorySaver
    from lograph.adapters.postgres import AsyncPostgresSaver, PostgresSaver
    from lograph.adapters.sqlite import AsyncSqliteSaver, SqliteSaver

    assert InMemorySaver is MemorySaver
    assert AsyncSqliteSaver is SqliteSaver
    assert AsyncPostgresSaver is PostgresSaver


def test_eventlog_imports_neither_runtime_nor_adapters() -> None:
    """The layering (eventlog <- runtime <- adapters), checked on the source."""
    import pathlib

    import lograph.eventlog as eventlog
    import lograph.runtime as runtime

    for package, banned in ((eventlog, ("lograph.runtime", "lograph.adapters")),
                            (runtime, ("lograph.adapters", "asyncpg", "aiosqlite"))):
        for path in pathlib.Path(package.__file__).parent.glob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in banned:
                assert f"import {name}" not in text and f"from {name}" not in text, (path, name)
