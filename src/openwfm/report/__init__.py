"""Reports: Plotly charts (:mod:`.charts`), summary tables (:mod:`.tables`) and the
self-contained HTML report (:mod:`.html`) that every stage can add sections to."""

from openwfm._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "html": [
            "Report",
            "build_report",
            "history_report",
        ],
    },
)
