"""The public surface: each package's ``__all__`` is exact, LangGraph's names are there, and
the layers use each other only through what they publish."""

from __future__ import annotations

import ast
import importlib
import pathlib
import tomllib
from collections.abc import Iterator

import pytest

PACKAGES = ["lograph.eventlog", "lograph.runtime"]  # adapters: one module per store
#: every public surface: the packages, what extenders build on, the store contract kit
SURFACES = [*PACKAGES, "lograph.eventlog.lowlevel", "lograph.eventlog.testing",
            "lograph.runtime.lowlevel", "lograph.runtime.prebuilt"]
LAYERS = ("eventlog", "runtime", "adapters")


@pytest.mark.parametrize("name", SURFACES)
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
    assert issubclass(PostgresSaver, AsyncPostgresSaver)  # its setup() always blocks


def _sources() -> Iterator[tuple[str, pathlib.Path]]:
    """``(layer, path)`` of every module of the three packages."""
    for layer in LAYERS:
        package = importlib.import_module(f"lograph.{layer}")
        for path in sorted(pathlib.Path(str(package.__file__)).parent.glob("*.py")):
            yield layer, path


def _imported(layer: str, path: pathlib.Path) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` of everything ``path`` imports, wherever it does (at import
    time, inside a function, under TYPE_CHECKING); ``from m import n`` yields ``m.n``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the package is lograph.<layer>
                base = ["lograph", layer][: max(0, 3 - node.level)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def test_the_ast_walk_sees_every_kind_of_import(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import lograph.eventlog._fold\n"
        "from lograph.eventlog import _blob\n"
        "from .._x import y\n"
        "from ._journal import Journal\n"
        "def f():\n    from lograph.runtime._sync import portal\n"
        "if TYPE_CHECKING:\n    import trio\n"
    )
    names = {name for _, name in _imported("runtime", source)}
    assert {"lograph.eventlog._fold", "lograph.eventlog._blob", "lograph._x.y",
            "lograph.runtime._journal.Journal", "lograph.runtime._sync.portal", "trio"} <= names


#: Imports of another package's private module in files being rewritten by their owner
#: (issue 16). Nothing may be added (history and the verifier now walk the log with
#: ``lograph.eventlog.walk``: none is left).
PENDING: set[tuple[str, str]] = set()


def test_no_package_imports_another_packages_private_module() -> None:
    """Across layers only published names are used: ``lograph.<other>.<public>`` (its
    ``__init__``, ``lowlevel`` or ``testing``), never ``lograph.<other>._anything``."""
    found = []
    for layer, path in _sources():
        where = f"{layer}/{path.name}"
        for line, name in _imported(layer, path):
            parts = name.split(".")
            if len(parts) < 3 or parts[0] != "lograph" or parts[1] == layer:
                continue
            private = next((p for p in parts[2:] if p.startswith("_")), None)
            if private is not None and (where, ".".join(parts[:3])) not in PENDING:
                found.append(f"{where}:{line} imports {name}")
    assert not found, "use the other package's public surface:\n" + "\n".join(found)


def test_each_layer_imports_only_what_is_below_it() -> None:
    """The layering (eventlog <- runtime <- adapters): eventlog knows no graph code and
    runtime no store's driver; runtime reaches the event loop only through anyio."""
    banned = {
        "eventlog": ("lograph.runtime", "lograph.adapters", "asyncpg", "aiosqlite"),
        "runtime": ("lograph.adapters", "asyncpg", "aiosqlite", "asyncio", "trio"),
        "adapters": (),
    }
    found = [
        f"{layer}/{path.name}:{line} imports {name}"
        for layer, path in _sources()
        for line, name in _imported(layer, path)
        if any(name == b or name.startswith(b + ".") for b in banned[layer])
        # LangGraph's module names (adapters/langgraph/) re-export; nothing else imports them
        or (name.startswith("lograph.adapters.langgraph"))
    ]
    assert not found, "\n".join(found)


def test_the_top_level_holds_only_the_three_packages() -> None:
    """The repository's fixed layout: code lives in eventlog/, runtime/ and adapters/,
    installed as lograph.eventlog, lograph.runtime and lograph.adapters; nothing else is
    installed under the name lograph (LangGraph's module names live in adapters/langgraph/)."""
    root = pathlib.Path(__file__).resolve().parent.parent
    packaged = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(packaged["package-dir"]) == {f"lograph.{layer}" for layer in LAYERS}
    strays = [p for p in packaged["packages"]
              if not any(p == f"lograph.{layer}" or p.startswith(f"lograph.{layer}.") for layer in LAYERS)]
    assert not strays, f"installed outside the three packages: {strays}"
    assert not (root / "compat").exists(), "compat/ moved to adapters/langgraph/"
