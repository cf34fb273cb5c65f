"""CLI body of ``openwfm schedule SCENARIO --slots slots.csv``: a slot roster.

Writes OUT (``agent, date, shift, ...`` one row per shift), OUT.coverage.csv (per slot:
required, scheduled, under, over, cost) and OUT.rules.csv (per rule: instances, violations,
penalty) in one atomic set, with --html a page (cover chart, roster grid, rules), and prints
status, objective, bound and gap.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def run_slots(
    scenario_path: Path,
    slots_path: Path,
    *,
    out: Path,
    start: dt.date | None,
    weeks: int | None,
    time_limit_s: float,
    deterministic: bool,
    html: Path | None = None,
) -> None:
    """Read, solve, write, print (errors are typed: the CLI prints one line and exits 2)."""
    from rich.console import Console
    from rich.table import Table

    from openwfm.errors import ParameterError
    from openwfm.io import check_output_path, write_tables
    from openwfm.scenario import load_scenario
    from openwfm.schedule.slot_input import read_slot_requirements
    from openwfm.schedule.slots import schedule_slots

    if weeks is not None and weeks < 1:
        raise ParameterError(f"expected at least 1 week, got {weeks}", field="--weeks")
    check_output_path(out)
    if html is not None:
        check_output_path(html, "--html")
    scenario = load_scenario(scenario_path)
    table = read_slot_requirements(slots_path)
    with Console(stderr=True).status("rostering slots..."):
        result = schedule_slots(
            scenario,
            table,
            time_limit_s=time_limit_s,
            start=start,
            days=None if weeks is None else 7 * weeks,
            deterministic=deterministic,
            source=str(slots_path),
        )
    stem = out.with_suffix("")
    write_tables(
        {
            out: result.shifts,
            Path(f"{stem}.coverage.csv"): result.coverage,
            Path(f"{stem}.rules.csv"): result.rules,
        }
    )
    if html is not None:
        from openwfm.report.html import Report
        from openwfm.schedule.slot_charts import add_slots_to_report

        add_slots_to_report(Report(title=f"Slot roster: {scenario.name}"), result).write(html)
    summary = Table(title=f"{scenario.name}: {len(result.shifts)} shifts -> {out}")
    for name in ("status", "objective", "bound", "gap", "time s", "under", "over"):
        summary.add_column(name)
    summary.add_row(
        result.status,
        f"{result.objective:.2f}",
        f"{result.bound:.2f}",
        f"{result.gap:.2%}",
        f"{result.wall_time_s:.1f}",
        str(int(result.coverage["under"].sum())),
        str(int(result.coverage["over"].sum())),
    )
    console = Console()
    console.print(summary)
    violated = result.rules[result.rules["violated"] > 0]
    if not violated.empty:
        console.print(violated[["rule", "hard", "violated", "penalty"]].to_string(index=False))
    for note in result.notes:
        console.print(f"note: {note}")
