"""Shared fixtures. Real data lies in ../shared/data (never committed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OPENWFM_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def require_shared_data(relative: str) -> Path:
    """Path of a file under shared/data; fail under CI (``CI`` set) when missing, else skip."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real data missing: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def anonymous_bank_dir() -> Path:
    return require_shared_data("anonymous-bank")


@pytest.fixture
def example_scenario_path() -> Path:
    return PROJECT_ROOT / "examples" / "center.yaml"


def _fail_or_skip(message: str):
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throw-away PostgreSQL cluster for this test session (worker), stopped afterwards;
    tests that need it fail under CI (``CI`` set) when it cannot start, else skip."""
    from openwfm.routing.pgcluster import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster(durable=False).start()
    except PostgresUnavailable as error:
        _fail_or_skip(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()


_DATABASES: list[str] = []  # one fresh database per test, numbered in this worker


@pytest.fixture
def postgres_url(postgres_cluster, request) -> str:
    """The URL of a fresh, empty database in the session's cluster."""
    import re

    _DATABASES.append(request.node.name)
    name = f"t{len(_DATABASES)}_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return postgres_cluster.create_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def router_db_url(request, tmp_path) -> str:
    """The router's store for a test run on both backends: SQLite (embedded) and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'router.db'}"
    return request.getfixturevalue("postgres_url")
