"""No import cycle inside a package: runtime, eventlog, adapters, benchmarks.

Edges are the imports that run (at import time or inside a function); imports under
``TYPE_CHECKING`` are not edges. A cycle hidden behind a lazy import is still a cycle:
the modules cannot be understood, or loaded, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"runtime": "lograph.runtime", "eventlog": "lograph.eventlog",
            "adapters": "lograph.adapters", "benchmarks": "benchmarks"}


def _guarded(tree: ast.Module) -> set[int]:
    """The ids of nodes under an ``if TYPE_CHECKING:``."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for n in ast.walk(node))
    return out


def import_graph(folder: str, package: str) -> dict[str, set[str]]:
    modules = {p.stem for p in (ROOT / folder).glob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module in modules:
        tree = ast.parse((ROOT / folder / f"{module}.py").read_text())
        skip = _guarded(tree)
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1:
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
            elif node.level == 0 and node.module and node.module.startswith(package + "."):
                names = [node.module[len(package) + 1:].split(".")[0]]
            else:
                continue
            graph[module].update(n for n in names if n in modules and n != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_no_import_cycle(folder: str) -> None:
    assert cycles(import_graph(folder, PACKAGES[folder])) == []


def test_the_check_sees_a_lazy_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph("runtime", "lograph.runtime")
    assert "_structure" in graph["_step"]  # the edges are read from the source
