"""Terminal output for the ``lograph`` command: rich on a terminal, plain text elsewhere.

Everything printed passes through :func:`safe`: a control character (a terminal escape
code in a client-chosen thread id, say) is shown as its escape, never sent to the
terminal. Plain output (stdout is not a terminal, or ``--plain``) has no colour and no box
drawing: a table is a header line and one line per row, columns separated by a tab,
so ``cut -f`` and ``awk -F'\\t'`` can read it. ``--json`` output is JSON lines.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from lograph.eventlog import TimelineRow
from lograph.eventlog.lowlevel import utc_time

TIMELINE_COLUMNS = ("seq", "time", "step", "node", "event", "took", "summary", "who")

_KIND_STYLE = {
    "run.started": "bold cyan", "run.finished": "bold cyan", "checkpoint": "dim",
    "node.started": "blue", "node.writes": "green", "node.failed": "bold red",
    "task.result": "magenta", "interrupt": "bold yellow", "resume": "bold yellow",
    "state.updated": "yellow",
}

_NO_WRAP = {"seq", "time", "step", "took", "checkpoint", "parent", "created", "last event"}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):  # past the year 9999: a wrong clock, an edited row
        return utc_time(ts)


def clock(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]
    except (ValueError, OverflowError, OSError):
        return utc_time(ts)


class Output:
    """Where the command writes: ``rich`` decides colours; ``plain`` forces plain text."""

    def __init__(self, stream: TextIO | None = None, *, plain: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        tty = self.stream.isatty()
        self.plain = (not tty) if plain is None else plain
        self.console = Console(file=self.stream, highlight=False, no_color=self.plain,
                               force_terminal=None if not self.plain else False)

    def line(self, text: str, style: str | None = None) -> None:
        """One line of prose; ``style`` applies on a terminal only."""
        text = safe(text)
        if self.plain:
            print(text, file=self.stream, flush=True)
        else:
            self.console.print(escape(text), style=style, soft_wrap=True)

    @contextmanager
    def progress(self, what: str, total: int, *, quiet: bool = False) -> Iterator[Callable[[], None]]:
        """A transient progress bar on a terminal (nothing in plain mode); yields ``advance``."""
        if self.plain or quiet or total < 2:
            yield lambda: None
            return
        with Progress(*Progress.get_default_columns(), console=self.console, transient=True) as bar:
            job = bar.add_task(what, total=total)
            yield lambda: bar.advance(job)

    def json(self, obj: Any) -> None:
        # (JSON escapes C0 controls itself; safe() escapes the rest, such as C1's CSI)
        try:
            text = json.dumps(obj, ensure_ascii=False)
        except RecursionError:  # a value nested past what json can write: cut it short
            text = json.dumps(bounded(obj), ensure_ascii=False)
        print(safe(text), file=self.stream, flush=True)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None,
              styles: Sequence[str | None] | None = None) -> None:
        rows = [[safe(str(c)) for c in row] for row in rows]
        title = safe(title) if title is not None else None
        if self.plain:
            print("\t".join(columns), file=self.stream)
            for row in rows:
                print("\t".join(_cell(c) for c in row), file=self.stream)
            self.stream.flush()
            return
        table = Table(title=title, title_justify="left", header_style="bold", expand=False)
        for name in columns:
            table.add_column(name, overflow="fold", no_wrap=name in _NO_WRAP)
        for i, row in enumerate(rows):
            table.add_row(*(escape(c) for c in row), style=styles[i] if styles else None)
        self.console.print(table)

    # -- timelines ---------------------------------------------------------------------

    def timeline_cells(self, row: TimelineRow) -> list[str]:
        when = iso(row.ts) if self.plain else clock(row.ts)
        summary = row.summary
        if row.branches:
            summary = f"(after #{row.parent}) {summary}"
        step = "" if row.step is None else str(row.step)
        return [str(row.seq), when, step, row.node, row.kind, duration(row.duration),
                summary, row.who]

    def timeline(self, rows: Sequence[TimelineRow], *, title: str | None = None) -> None:
        cells = [self.timeline_cells(r) for r in rows]
        self.table(TIMELINE_COLUMNS, cells, title=title, styles=[_KIND_STYLE.get(r.kind) for r in rows])

    def timeline_line(self, row: TimelineRow) -> None:
        """One row on its own (``--follow``)."""
        cells = [safe(c) for c in self.timeline_cells(row)]
        if self.plain:
            print("\t".join(_cell(c) for c in cells), file=self.stream, flush=True)
            return
        seq, when, step, node, kind, took, summary, who = cells
        step = f"step {step:>3}" if step else ""
        text = f"{seq:>4} {when} {step:<8} {node:<14} {kind:<13} {took:>7}  {summary}"
        self.console.print(escape(text + (f"  [{who}]" if who else "")),
                           style=_KIND_STYLE.get(row.kind), soft_wrap=True)


_SAFE = frozenset("\t\n")


def safe(text: str) -> str:
    """``text`` with every control or format character (C0, DEL, C1, bidi overrides) but
    tab and newline shown as its escape (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c in _SAFE or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs")
        else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


def bounded(value: Any, depth: int = 200) -> Any:
    """A JSON form with lists and maps past ``depth`` levels cut short."""
    if depth <= 0 and isinstance(value, list | dict):
        return {"$too_deep": "nested deeper than can be shown (a damaged or hostile row)"}
    if isinstance(value, list):
        return [bounded(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {k: bounded(v, depth - 1) for k, v in value.items()}
    return value


def _cell(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split()) if "\n" in text or "\t" in text else text
