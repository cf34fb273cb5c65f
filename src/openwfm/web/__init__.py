"""The live pages of ``openwfm serve``: the wallboard (``/dashboard``), the supervisor's desk
(``/supervisor``) and the agent's desktop (``/agent``).

Plain HTML, one small script per page and a stylesheet, served by the package (no build
chain); charts with Plotly's own bundled ``plotly.min.js``. Every figure comes from the
router's HTTP API with the same keys and scopes as integrations; the wallboard and the
supervisor's desk refresh on the server-sent events of ``/v1/events/stream``, the agent's
desktop polls its own desk every second (agent tokens do not read the event log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from fastapi import FastAPI

    from openwfm.routing.core import Router


def mount_pages(
    app: FastAPI, router: Router, admin_key: str, clock_origin: pd.Timestamp | None = None
) -> None:
    """Add the pages, their API endpoints and the intraday stage's endpoints to the router's
    FastAPI ``app`` (``clock_origin``: a virtual clock's time 0, for adherence now)."""
    from openwfm.web.api import api_routes, intraday_stage_routes
    from openwfm.web.pages import page_routes

    app.include_router(api_routes(router, admin_key, clock_origin))
    app.include_router(intraday_stage_routes(router, admin_key))
    app.include_router(page_routes())
