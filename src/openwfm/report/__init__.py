"""Reports: Plotly charts (:mod:`.charts`), summary tables (:mod:`.tables`) and the
self-contained HTML report (:mod:`.html`) that every stage can add sections to."""

from __future__ import annotations

from openwfm.report.html import Report, build_report, history_report

__all__ = ["Report", "build_report", "history_report"]
