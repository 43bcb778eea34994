"""``lograph migrate-imports``: a program's ``langgraph`` imports rewritten to lograph's.

LangGraph's module ``langgraph.X`` is lograph's ``lograph.adapters.langgraph.X`` (that
package carries LangGraph's module names and re-exports what lograph implements). A statement
is rewritten only when lograph has the module and every name it imports from it; any
other is left as it was and reported, so a rewritten program never fails on an
import that lograph half-has. ``import langgraph.X`` without ``as`` is reported too:
the program names the module in its code, which a rewrite of imports cannot follow.

Which modules and names lograph has is learnt by importing ``lograph.adapters.langgraph.X`` and looking
at it (the modules only re-export), so the answer is always the installed lograph's.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass, field
from types import ModuleType

__all__ = ["Migration", "migrate"]

_WORD = re.compile(r"\blanggraph\b")


@dataclass
class Migration:
    """What :func:`migrate` made of one program: its new text, the statements it
    rewrote and, for each it left, the line and why."""

    source: str
    rewritten: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)


def _is_langgraph(module: str | None) -> bool:
    return module is not None and (module == "langgraph" or module.startswith("langgraph."))


MIRRORS = "lograph.adapters.langgraph"


def _target(module: str) -> str:
    return MIRRORS + module[len("langgraph"):]


def _module(name: str) -> ModuleType | str:
    """lograph's module ``name``, or why there is none."""
    if name == MIRRORS:
        return f"{name} has no LangGraph names; import from one of its modules"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            return f"lograph has no module {name}"
        return f"{name} needs {e.name}, which is not installed"


def _check_from(node: ast.ImportFrom) -> str | None:
    """Why ``from langgraph.X import ...`` cannot be rewritten, or None if it can."""
    assert node.module is not None
    found = _module(_target(node.module))
    if isinstance(found, str):
        return found
    missing = [a.name for a in node.names if a.name != "*" and not hasattr(found, a.name)]
    if missing:
        return f"lograph has no {', '.join(missing)} in {found.__name__}"
    return None


def _check_import(node: ast.Import) -> str | None:
    """Why ``import langgraph.X as y`` cannot be rewritten, or None if it can."""
    for alias in node.names:
        if not _is_langgraph(alias.name):
            continue
        if alias.asname is None:
            return (f"`import {alias.name}` names the module in the code: write "
                    f"`import {_target(alias.name)} as ...` or a from-import by hand")
        found = _module(_target(alias.name))
        if isinstance(found, str):
            return found
    return None


def migrate(source: str) -> Migration:
    """Rewrite ``source``'s langgraph imports (see the module). SyntaxError if it is not Python."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    out = Migration(source)
    spans: list[ast.stmt] = []  # the statements to rewrite
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_langgraph(node.module):
            why = _check_from(node)
        elif isinstance(node, ast.Import) and any(_is_langgraph(a.name) for a in node.names):
            why = _check_import(node)
        else:
            continue
        if why is None:
            spans.append(node)
        else:
            out.problems.append((node.lineno, why))
    for node in spans:
        for i in range(node.lineno - 1, node.end_lineno or node.lineno):
            line = lines[i].encode("utf-8")  # ast's columns count UTF-8 bytes
            # within the statement only (not a comment after it, nor another statement
            # after a ``;``): ``langgraph`` as a word is a module name there
            start = node.col_offset if i == node.lineno - 1 else 0
            last = i == (node.end_lineno or node.lineno) - 1
            end = node.end_col_offset if last and node.end_col_offset is not None else len(line)
            middle = _WORD.sub(MIRRORS, line[start:end].decode("utf-8"))
            lines[i] = line[:start].decode("utf-8") + middle + line[end:].decode("utf-8")
    out.source = "".join(lines)
    out.rewritten = len(spans)
    out.problems.sort()
    return out
