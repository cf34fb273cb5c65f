"""The HTML pages and their static files (served from the package, offline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from openwfm.routing.problems import NotFound

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PAGES = ("dashboard", "supervisor", "agent")
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def plotly_bundle() -> Path:
    """The ``plotly.min.js`` shipped inside the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def render(page: str, tv: bool = False) -> str:
    shell = (TEMPLATES / "shell.html").read_text(encoding="utf-8")
    body = (TEMPLATES / f"{page}.html").read_text(encoding="utf-8")
    titles = {"dashboard": "Wallboard", "supervisor": "Supervisor", "agent": "Agent desktop"}
    return (
        shell.replace("{{title}}", titles[page])
        .replace("{{page}}", page)
        .replace("{{body_class}}", f"page-{page}{' tv' if tv else ''}")
        .replace("{{body}}", body)
    )


def page_routes() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/")
    def index():
        return RedirectResponse("/dashboard")

    @pages.get("/dashboard", response_class=HTMLResponse)
    def dashboard(tv: bool = Query(default=False)):
        return HTMLResponse(render("dashboard", tv))

    @pages.get("/supervisor", response_class=HTMLResponse)
    def supervisor():
        return HTMLResponse(render("supervisor"))

    @pages.get("/agent", response_class=HTMLResponse)
    def agent():
        return HTMLResponse(render("agent"))

    @pages.get("/static/plotly.min.js")
    def plotly_js():
        return FileResponse(plotly_bundle(), media_type="text/javascript")

    @pages.get("/static/{name}")
    def static(name: str):
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise NotFound(f"no static file {name!r}", field="name")
        return FileResponse(path, media_type=TYPES.get(path.suffix, "application/octet-stream"))

    return pages
