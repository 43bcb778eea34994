"""Progress while the suite runs: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ._results import Cell


def headline(cell: Cell) -> str:
    """One line saying how a finished cell went."""
    if cell.status != "ok":
        last = (cell.error or "").strip().splitlines()[-1:] or ["?"]
        return f"{cell.name}: FAILED ({last[0]})"
    m = cell.metrics
    if "vs_exit" in m:
        figure = f"p50 {m['p50_ms']:.1f} ms, {m['vs_exit']:.3f}x exit"
    elif "steps_per_s" in m:
        figure = f"{m['steps_per_s']:,.0f} steps/s"
    elif "tasks_per_s" in m:
        figure = f"{m['tasks_per_s']:,.0f} tasks/s"
    elif "commits_per_s" in m:
        figure = f"{m['commits_per_s']:,.0f} commits/s"
    elif "first_ms" in m:
        per_turn = m.get("bytes_per_turn")
        size = f", {per_turn:,.0f} B/turn" if per_turn is not None else ""
        figure = f"turns {m['first_ms']:.2f} -> {m['last_ms']:.2f} ms{size}"
    elif "history_ms" in m:
        cold, history_cold = m.get("get_state_cold_ms"), m.get("history_cold_ms")
        figure = (f"get_state {m['get_state_warm_ms']:.2f} ms"
                  + (f" (cold {cold:.1f} ms)" if cold is not None else "")
                  + f", history {m['history_ms']:.1f} ms"
                  + (f" (cold {history_cold:.1f} ms)" if history_cold is not None else "")
                  + f", fork {m['fork_ms']:.1f} ms")
    else:
        figure = "ok"
    return f"{cell.name}: {figure} ({cell.seconds:.1f} s)"


class UI:
    def __init__(self, total: int) -> None:
        self.console = Console()
        self.live = self.console.is_terminal
        self.total = total
        self.done = 0
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> UI:
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def started(self, cell: Cell) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=cell.name.rsplit("/", 1)[0])

    def round(self, cell: Cell, r: int, rounds: int) -> None:
        if self._progress is not None:
            group = cell.name.rsplit("/", 1)[0]
            self._progress.update(self._task, description=f"{group} round {r}/{rounds}")

    def finished(self, cell: Cell) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {headline(cell)}"
        if self._progress is not None:
            self._progress.advance(self._task)
            self._progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stdout, flush=True)
