"""The plan's progress display: one line per stage (rich, on stderr), off when not a terminal."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class PlanProgress:
    """A line per stage: a spinner while it runs, then its state (``computed``, ``cached``,
    ``failed``, ...). ``enabled=False`` (or a console that is not a terminal) shows nothing."""

    def __init__(self, stages: tuple[str, ...], console: Console, enabled: bool) -> None:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TimeElapsedColumn(),
        )
        self._bar = Progress(
            *columns, console=console, disable=not enabled or not console.is_terminal
        )
        self._tasks = {s: self._bar.add_task(f"[dim]{s}", total=1, start=False) for s in stages}
        self._totals = dict.fromkeys(stages, 1)

    def __enter__(self) -> PlanProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.__exit__(kind, error, trace)

    def begin(self, stage: str, text: str | None = None, total: int = 1) -> float:
        """Start ``stage`` (``total`` steps); returns the start time (``time.perf_counter``)."""
        task = self._tasks[stage]
        self._totals[stage] = total
        self._bar.start_task(task)
        self._bar.update(task, description=text or stage, total=total, completed=0)
        return time.perf_counter()

    def status(self, stage: str, text: str) -> None:
        """Replace the stage's line (a solver's objective and bound, say)."""
        self._bar.update(self._tasks[stage], description=text)

    def advance(self, stage: str) -> None:
        """One step of the stage done (a replication)."""
        self._bar.advance(self._tasks[stage])

    def end(self, stage: str, began: float, state: str, text: str | None = None) -> float:
        """Mark ``stage`` done with ``state``; returns its wall seconds since ``began``."""
        task = self._tasks[stage]
        total = self._totals[stage]
        self._bar.update(
            task, completed=total, total=total, description=f"{text or stage} ({state})"
        )
        return time.perf_counter() - began

    def skip(self, stage: str, why: str) -> None:
        """The stage did not run."""
        self._bar.update(self._tasks[stage], completed=1, description=f"{stage} ({why})")
