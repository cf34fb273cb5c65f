"""One self-contained HTML report: sections of Plotly figures and tables, plotly.js inline.

A :class:`Report` is a title and an ordered list of sections; each section holds figures,
DataFrames (rendered as tables) or ready HTML snippets. :meth:`Report.write` embeds plotly.js
once, so the file opens offline, and writes atomically (temporary file, then rename). Later
stages add their own sections (forecast, staffing, schedule, simulation) to the same object.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from openwfm.io import atomic_write_text
from openwfm.report import charts
from openwfm.report.tables import kpi_summary, table_html

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1rem 2rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
table.kpi { border-collapse: collapse; margin: 0.5rem 0; }
table.kpi th, table.kpi td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; }
table.kpi th { background: #f4f4f4; } td.num { text-align: right; }
nav ul { columns: 2; } .note { color: #555; }
"""


@dataclass
class Section:
    heading: str
    items: list[Any] = field(default_factory=list)
    note: str | None = None


@dataclass
class Report:
    """An HTML report under construction: ``add_section`` in reading order, then ``write``."""

    title: str
    subtitle: str | None = None
    sections: list[Section] = field(default_factory=list)

    def add_section(
        self, heading: str, items: Any | Iterable[Any], *, note: str | None = None
    ) -> Report:
        """Append a section of Plotly figures, DataFrames (tables) or HTML strings."""
        if isinstance(items, str | pd.DataFrame) or not isinstance(items, Iterable):
            items = [items]
        self.sections.append(Section(heading, list(items), note))
        return self

    def to_html(self) -> str:
        """The whole page as one string, plotly.js included inline (works offline)."""
        from plotly.offline import get_plotlyjs

        figure_count = 0
        body: list[str] = []
        for number, section in enumerate(self.sections, start=1):
            body.append(f'<section id="s{number}"><h2>{html.escape(section.heading)}</h2>')
            if section.note:
                body.append(f'<p class="note">{html.escape(section.note)}</p>')
            for item in section.items:
                if isinstance(item, pd.DataFrame):
                    body.append(table_html(item))
                elif isinstance(item, str):
                    body.append(item)
                elif hasattr(item, "to_plotly_json"):
                    figure_count += 1
                    body.append(
                        item.to_html(
                            full_html=False,
                            include_plotlyjs=False,
                            div_id=f"figure-{figure_count}",
                            config={"displaylogo": False, "responsive": True},
                        )
                    )
                else:
                    raise TypeError(
                        f"section {section.heading!r}: expected a plotly Figure, a DataFrame or "
                        f"an HTML string, got {type(item).__name__}"
                    )
            body.append("</section>")
        contents = "".join(
            f'<li><a href="#s{n}">{html.escape(s.heading)}</a></li>'
            for n, s in enumerate(self.sections, start=1)
        )
        subtitle = f'<p class="meta">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f"<h1>{html.escape(self.title)}</h1>{subtitle}"
            f"<nav><ul>{contents}</ul></nav>{''.join(body)}</body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` atomically (a temporary file renamed into place)."""
        return atomic_write_text(path, self.to_html())


SECTION_HEADINGS = (
    "KPI summary",
    "Daily volume",
    "Intraday profile by weekday",
    "Service level and abandonment by interval",
    "Average handle time by queue",
    "Wait distribution",
)


def history_report(
    interactions: pd.DataFrame,
    kpis: pd.DataFrame,
    *,
    title: str,
    targets: dict[str, float] | None = None,
) -> Report:
    """The "what happened" report as a :class:`Report`, for stages to extend before writing.

    ``kpis`` is an interval-KPI table (:func:`openwfm.data.intervals.interval_kpis`) by queue;
    ``targets`` maps queue -> target service-level fraction, drawn on the service-level chart.
    """
    start = kpis["interval_start"].min()
    end = kpis["interval_start"].max()
    period = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}" if len(kpis) else "no intervals"
    subtitle = (
        f"{period} · {len(interactions):,} interactions · "
        f"generated {dt.datetime.now():%Y-%m-%d %H:%M}"
    )
    report = Report(title=title, subtitle=subtitle)
    report.add_section(
        SECTION_HEADINGS[0],
        [kpi_summary(kpis)],
        note="Counts summed over all intervals; rates from the summed counts. Service level "
        "under the definition named per queue; ASA and AHT in seconds.",
    )
    report.add_section(SECTION_HEADINGS[1], [charts.daily_volume(kpis)])
    report.add_section(SECTION_HEADINGS[2], [charts.intraday_profile(kpis)])
    report.add_section(
        SECTION_HEADINGS[3],
        [charts.service_level_by_interval(kpis, targets), charts.daily_service_level(kpis)],
    )
    report.add_section(SECTION_HEADINGS[4], [charts.aht_by_queue(kpis)])
    report.add_section(SECTION_HEADINGS[5], [charts.wait_distribution(interactions)])
    return report


def build_report(
    interactions: pd.DataFrame,
    kpis: pd.DataFrame,
    *,
    title: str,
    path: str | Path,
    targets: dict[str, float] | None = None,
) -> Path:
    """Write the history report (KPI table, volume, intraday, SL/abandonment, AHT, waits)."""
    return history_report(interactions, kpis, title=title, targets=targets).write(path)
