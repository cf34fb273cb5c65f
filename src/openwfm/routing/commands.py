"""CLI: ``openwfm serve SCENARIO... [--db URL] [--host H] [--port P] [--clock wall|virtual]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from openwfm.routing.core import Router


DEFAULT_DB = "openwfm-router.db"


SUPPORTED_DATABASES = ("sqlite", "postgresql", "postgres")


def database_url(db: str | None) -> str:
    """``--db``: a SQLAlchemy URL, or a file path for the embedded SQLite store. Only the
    stores the router is built and tested on are accepted (a MySQL URL would fail deep inside
    SQLAlchemy with a missing driver)."""
    from openwfm.errors import ParameterError

    if db is None:
        db = DEFAULT_DB
    if "://" not in db:
        return f"sqlite:///{Path(db).resolve()}"
    scheme = db.split("://", 1)[0].split("+", 1)[0]
    if scheme not in SUPPORTED_DATABASES:
        raise ParameterError(
            f"expected a sqlite:/// or postgresql:// URL or a file path, got {scheme}://",
            field="--db",
        )
    return db


def open_router_store(router: Router, url: str) -> None:
    """Create or upgrade the router's schema; a database that cannot be opened (a folder that
    does not exist, a server that refuses) is one line naming ``--db``, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from openwfm.errors import ParameterError

    try:
        router.setup()
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise ParameterError(f"cannot open {url}: {reason}", field="--db") from None


def load_customers(router: Router, center: str, path: Path) -> int:
    """Customer profiles from CSV/Parquet: ``customer_id``, optional ``segment``, every other
    column an attribute. One transaction: a bad row stores nothing."""
    from openwfm.errors import DataError
    from openwfm.routing.operations import put_customers
    from openwfm.sim.commands import read_table_file

    frame = read_table_file(path, "customers")
    if "customer_id" not in frame.columns:
        raise DataError("missing column 'customer_id'", file=str(path), field="customer_id")
    return put_customers(router, center, frame, source=str(path))


def ensure_webhook(router: Router, center: str, url: str, secret: str) -> None:
    """Register ``url`` for ``center`` unless it is already (a restart keeps its cursor)."""
    from sqlalchemy import select

    from openwfm.routing import store as S
    from openwfm.routing.events import add_webhook

    w = S.webhooks.c
    with router.store.read() as connection:
        known = connection.execute(
            select(w.webhook_id).where(w.center == center, w.url == url)
        ).first()
    if known is None:
        add_webhook(router.store, center, url, secret, from_seq=0)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        scenarios: list[Path] = typer.Argument(..., help="scenario files, one center each"),
        db: str = typer.Option(None, help=f"database URL or SQLite file (default {DEFAULT_DB})"),
        host: str = typer.Option("127.0.0.1", help="interface to listen on"),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
        clock: str = typer.Option("wall", help="wall, or virtual (advanced by the admin)"),
        clock_origin: str = typer.Option("2024-01-01", help="virtual clock: date of second 0"),
        store: str = typer.Option("openwfm.duckdb", help="DuckDB interactions store ('' off)"),
        customers: list[str] = typer.Option([], help="profiles CSV/Parquet ([CENTER=]PATH)"),
        webhook: list[str] = typer.Option(
            [], help="event webhook URL, every center (secret: OPENWFM_WEBHOOK_SECRET)"
        ),
        offer_timeout_s: float = typer.Option(30.0, help="seconds to accept an offer"),
        max_missed_offers: int = typer.Option(3, help="expired offers before 'away'"),
        wrap_up_limit_s: float = typer.Option(300.0, help="longest wrap-up (s)"),
        callback_threshold_s: float = typer.Option(120.0, help="estimated wait for a callback"),
        affinity_s: float = typer.Option(0.0, help="wait for the customer's last agent (s)"),
        crm_url: str = typer.Option(None, help="CRM URL template with {customer_id}"),
        crm_timeout_s: float = typer.Option(0.5, help="CRM time-out (s)"),
        workers: int = typer.Option(1, help="router processes (PostgreSQL --db when above 1)"),
    ) -> None:
        """Run the live router (HTTP API) for the centers of the scenario files."""
        import dataclasses
        import os

        from openwfm.errors import ParameterError
        from openwfm.io import parse_date

        admin_key = os.environ.get("OPENWFM_ADMIN_KEY", "")
        if not admin_key:
            raise ParameterError(
                "not set: the router refuses to run without an admin key",
                field="OPENWFM_ADMIN_KEY",
            )
        if workers < 1 or (workers > 1 and not database_url(db).startswith("postgres")):
            raise ParameterError(
                f"expected 1, or more with a PostgreSQL --db (SQLite: one writer), got {workers}",
                field="--workers",
            )
        if clock not in ("wall", "virtual"):
            raise ParameterError(f"expected wall or virtual, got {clock!r}", field="--clock")
        import uvicorn

        from openwfm.routing.center import RouterSettings, load_centers
        from openwfm.routing.core import Router
        from openwfm.routing.service import create_app
        from openwfm.routing.store import Store

        centers = load_centers(scenarios)
        settings = RouterSettings(
            offer_timeout_s=offer_timeout_s,
            max_missed_offers=max_missed_offers,
            wrap_up_limit_s=wrap_up_limit_s,
            callback_threshold_s=callback_threshold_s,
            affinity_s=affinity_s,
            crm_url=crm_url,
            crm_timeout_s=crm_timeout_s,
        )
        url = database_url(db)
        router = Router(Store(url), centers, settings, clock == "virtual")
        open_router_store(router, url)
        for item in customers:
            name, _, path = item.rpartition("=")
            name = name or next(iter(centers))
            if name not in centers:
                raise ParameterError(f"unknown center {name!r}", field="--customers")
            load_customers(router, name, Path(path))
        if webhook:
            secret = os.environ.get("OPENWFM_WEBHOOK_SECRET", "")
            if len(secret) < 8:
                raise ParameterError(
                    "set it (8 characters or more) to sign the --webhook deliveries",
                    field="OPENWFM_WEBHOOK_SECRET",
                )
            for name in centers:
                for url in webhook:
                    ensure_webhook(router, name, url, secret)
        if workers > 1:
            from openwfm.routing.serving import serve_workers

            options = {
                "scenarios": [str(path.resolve()) for path in scenarios],
                "db_url": database_url(db),
                "admin_key": admin_key,
                "clock": clock,
                "clock_origin": clock_origin,
                "store": store,
                "settings": dataclasses.asdict(settings),
            }
            serve_workers(router, options, host, port, workers)
            return
        app = create_app(
            router,
            admin_key,
            export_path=store or None,
            export_origin=parse_date(clock_origin, field="--clock-origin"),
        )
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=20)
