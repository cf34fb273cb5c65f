"""``openwfm serve --workers N``: N router processes behind one listening socket, and the
routing loop in the supervising process.

Uvicorn's supervisor starts the worker processes; each builds its own router (stateless API
process) over the shared store from the serve options, passed as JSON in the environment
(``OPENWFM_SERVE_OPTIONS``), and restarts a worker that dies. The store must be PostgreSQL:
SQLite's single writer is one process. Graceful shutdown (SIGTERM/SIGINT): each process stops
taking connections, finishes the requests in flight (their transactions commit or roll back),
stops its routing loop and gives its routing leases back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from openwfm.routing.core import Router


OPTIONS_VARIABLE = "OPENWFM_SERVE_OPTIONS"
GRACEFUL_SHUTDOWN_S = 20


def build_app(options: dict) -> FastAPI:
    """The FastAPI app of one router process from the serve options (paths as strings)."""
    from openwfm.io import parse_date
    from openwfm.routing.center import RouterSettings, load_centers
    from openwfm.routing.core import Router
    from openwfm.routing.service import create_app
    from openwfm.routing.store import Store

    centers = load_centers([Path(p) for p in options["scenarios"]])
    router = Router(
        Store(options["db_url"]),
        centers,
        RouterSettings(**options["settings"]),
        options["clock"] == "virtual",
    )
    return create_app(
        router,
        options["admin_key"],
        export_path=options["store"] or None,
        export_origin=parse_date(options["clock_origin"], field="--clock-origin"),
    )


def app_from_environment() -> FastAPI:
    """Uvicorn's app factory in each worker process."""
    return build_app(json.loads(os.environ[OPTIONS_VARIABLE]))


def serve_workers(router: Router, options: dict, host: str, port: int, workers: int) -> None:
    """Run ``workers`` router processes; this (supervising) process, whose ``router`` has set
    the store up, exports completed contacts to the DuckDB store (one writer for that file)."""
    exporter = None
    if options["store"]:
        from openwfm.io import parse_date
        from openwfm.routing.export import Exporter

        origin = parse_date(options["clock_origin"], field="--clock-origin")
        exporter = Exporter(router, options["store"], origin)
        exporter.start()
    routing = _start_routing_process(router)
    os.environ[OPTIONS_VARIABLE] = json.dumps({**options, "store": ""})
    try:
        _run_uvicorn(host, port, workers)
    finally:
        if routing is not None:
            routing.stop()  # gives the leases back: a worker's loop takes over at once
        if exporter is not None:
            exporter.stop()
        router.store.dispose()


def _start_routing_process(router: Router, wait_s: float = 60.0):
    """The supervising process runs the routing loop (wall clock): it serves no request, so
    its passes never wait for a request's thread; it asks for the leases (after its warm-up)
    before the workers start, and the workers' own loops stand by (one takes a lease over if
    this process dies; a lease held elsewhere, another host's, stays there). Returns the
    loop (None on the virtual clock)."""
    from openwfm.routing.loop import start_routing

    if router.virtual_clock:
        return None
    routing = start_routing(router)
    routing.checked.wait(wait_s)
    return routing


def _run_uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "openwfm.routing.serving:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
