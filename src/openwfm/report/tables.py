"""Summary tables over the interval-KPI table, and their HTML rendering."""

from __future__ import annotations

import html

import pandas as pd

from openwfm.report.charts import service_level_base

SUMMARY_COLUMNS = (
    "queue",
    "offered",
    "answered",
    "abandoned",
    "abandon_rate",
    "service_level",
    "sl_definition",
    "asa_s",
    "aht_s",
    "avg_wait_s",
)


def kpi_summary(kpis: pd.DataFrame) -> pd.DataFrame:
    """Per-queue totals of an interval-KPI table: counts summed, rates from the summed counts.

    ``service_level`` = sum(answered within target) / sum(denominator of the row's definition);
    ``asa_s`` and ``aht_s`` are weighted by answered contacts (AHT over the intervals with a
    known handle time), ``avg_wait_s`` by offered ones.
    Seconds and fractions; NaN where the denominator is zero.
    """
    frame = kpis.assign(
        queue=kpis["queue"].astype(str),
        sl_base=service_level_base(kpis),
        wait_total_s=kpis["avg_wait_s"].fillna(0.0) * kpis["offered"],
        answer_total_s=kpis["asa_s"].fillna(0.0) * kpis["answered"],
        handle_total_s=kpis["aht_s"].fillna(0.0) * kpis["answered"],
        handle_n=kpis["answered"].where(kpis["aht_s"].notna(), 0),
    )
    grouped = frame.groupby("queue", sort=False)
    sums = grouped[
        [
            "offered",
            "answered",
            "abandoned",
            "answered_within_target",
            "sl_base",
            "wait_total_s",
            "answer_total_s",
            "handle_total_s",
            "handle_n",
        ]
    ].sum()

    def ratio(numerator: str, denominator: str) -> pd.Series:
        return sums[numerator] / sums[denominator].where(sums[denominator] > 0)

    summary = pd.DataFrame(
        {
            "offered": sums["offered"].astype("int64"),
            "answered": sums["answered"].astype("int64"),
            "abandoned": sums["abandoned"].astype("int64"),
            "abandon_rate": ratio("abandoned", "offered"),
            "service_level": ratio("answered_within_target", "sl_base"),
            "sl_definition": grouped["sl_definition"].agg(lambda s: "/".join(sorted(set(s)))),
            "asa_s": ratio("answer_total_s", "answered"),
            "aht_s": ratio("handle_total_s", "handle_n"),
            "avg_wait_s": ratio("wait_total_s", "offered"),
        }
    )
    return summary.reset_index()[list(SUMMARY_COLUMNS)]


_FORMATS = {
    "abandon_rate": "{:.1%}",
    "service_level": "{:.1%}",
    "asa_s": "{:.1f}",
    "aht_s": "{:.1f}",
    "avg_wait_s": "{:.1f}",
}


def table_html(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A plain HTML table; numbers right-aligned, ``formats`` maps column -> format string.

    Integers are written without thousands separators so the numbers can be read back exactly.
    """
    formats = {**_FORMATS, **(formats or {})}
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            if value is None or (isinstance(value, float) and value != value):
                text, numeric = "-", True
            elif column in formats and isinstance(value, int | float):
                text, numeric = formats[column].format(value), True
            else:
                numeric = isinstance(value, int | float)
                text = str(value)
            align = ' class="num"' if numeric else ""
            cells.append(f"<td{align}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table class="kpi"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def scenario_targets(scenario) -> tuple[dict, str, dict[str, float]]:
    """KPI settings from a scenario: (answer-time target s per queue with a ``"*"`` default of
    20 s: :meth:`~openwfm.model.Scenario.answer_targets_s`, the service-level definition,
    target service-level fraction per queue).

    The definition is the queues' common one; when they differ, ``offered`` (the strictest).
    """
    definitions = {q.target.definition.value for q in scenario.queues}
    definition = definitions.pop() if len(definitions) == 1 else "offered"
    levels = {q.name: float(q.target.service_level) for q in scenario.queues}
    return scenario.answer_targets_s(20.0), definition, levels
