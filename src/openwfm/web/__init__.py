"""The live pages of ``openwfm serve``: the wallboard (``/dashboard``), the supervisor's desk
(``/supervisor``) and the agent's desktop (``/agent``).

Plain HTML, one small script per page and a stylesheet, served by the package (no build
chain); charts with Plotly's own bundled ``plotly.min.js``. Every figure comes from the
router's HTTP API with the same keys and scopes as integrations; the wallboard and the
supervisor's desk refresh on the server-sent events of ``/v1/events/stream``, the agent's
desktop polls its own desk every second (agent tokens do not read the event log).
"""

from __future__ import annotations


def mount_pages(app, router, admin_key: str) -> None:
    """Add the pages and their API endpoints to the router's FastAPI ``app``."""
    from openwfm.web.api import api_routes
    from openwfm.web.pages import page_routes

    published: dict = {}
    app.state.published_outlook = published
    app.include_router(api_routes(router, admin_key, published))
    app.include_router(page_routes())
