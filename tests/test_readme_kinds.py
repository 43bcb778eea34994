"""The README's table of event kinds is generated from ``eventlog/bodies.py`` and must not drift.

Regenerate it after changing a body class::

    .venv/bin/python -m tests.test_readme_kinds --write   # rewrites the README's table
    .venv/bin/python -m tests.test_readme_kinds           # prints it
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from lograph.eventlog import Kind
from lograph.eventlog import bodies as b

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- event kinds: generated from eventlog/bodies.py by `python -m tests.test_readme_kinds --write` -->"
END = "<!-- end of event kinds -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _field(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        default = f" = {f.default!r}"
    elif f.default_factory is not dataclasses.MISSING:
        default = f" = {f.default_factory()!r}"
    else:
        default = ""
    return _cell(f"`{f.name}: {f.type}{default}`")


def _what(cls: type) -> str:
    """The first paragraph of the class's docstring, as markdown."""
    first = (cls.__doc__ or "").strip().split("\n\n")[0]
    return _cell(" ".join(first.split()).replace("``", "`"))


def _values(enum: Any) -> str:
    return ", ".join(f"`{m.value}`" for m in enum)


def kinds_table() -> str:
    """The README's table: one row per event kind, from its body class."""
    rows = ["| kind | body class | version | fields | what it records |",
            "|---|---|---:|---|---|"]
    for kind in Kind:
        cls = b.body_class(kind)
        fields = ", ".join(_field(f) for f in dataclasses.fields(cls))
        rows.append(f"| `{kind.value}` | `{cls.__name__}` | {cls.VERSION} | {fields} | {_what(cls)} |")
    names = ", ".join(f"`{getattr(b, n)}` ({n})" for n in ("START", "END", "INPUT", "GOTO", "COPY"))
    rows += ["", f"Checkpoint sources (`Source`): {_values(b.Source)}. Run statuses (`RunStatus`): "
             f"{_values(b.RunStatus)}. Reserved names: {names}; `NULL_TASK` is the task id of a "
             "`Command` input's writes."]
    return "\n".join(rows)


def readme_section(text: str) -> re.Match[str]:
    """Where the table stands in the README (``group(1)``: the table)."""
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), text, re.S)
    assert found is not None, f"README.md has no event kinds section between {BEGIN!r} and {END!r}"
    return found


def test_the_readme_lists_every_event_kind_as_bodies_defines_it() -> None:
    assert readme_section(README.read_text(encoding="utf-8")).group(1) == kinds_table(), (
        "README.md's table of event kinds differs from eventlog/bodies.py: run "
        "`.venv/bin/python -m tests.test_readme_kinds --write` and review the change")


def test_the_table_names_every_field_of_every_kind() -> None:
    table = kinds_table()
    for kind in Kind:
        cls = b.body_class(kind)
        row = next(line for line in table.splitlines() if line.startswith(f"| `{kind.value}` |"))
        assert f"`{cls.__name__}`" in row
        for f in dataclasses.fields(cls):
            assert f"`{f.name}: " in row, (kind, f.name)


def main(argv: list[str]) -> int:
    table = kinds_table()
    if "--write" not in argv:
        print(table)
        return 0
    text = README.read_text(encoding="utf-8")
    found = readme_section(text)
    README.write_text(f"{text[:found.start()]}{BEGIN}\n{table}\n{END}{text[found.end():]}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
