"""The router's schema migrations (Alembic) on PostgreSQL: from empty to the newest revision,
in step with the store's tables, and an upgrade never loses a row."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, func, select

from openwfm.routing import migrate
from openwfm.routing import store as S
from router_support import Api, client_for, make_router


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar()
                for table in S.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _traffic(tmp_path, url: str) -> None:
    """Agents, contacts, offers, events and a key, through the HTTP API."""
    router = make_router(tmp_path, url=url)
    with client_for(router) as client:
        api = Api(client)
        api.presence("bob")
        api.presence("cat")
        for queue in ("voice", "email", "chat", "voice"):
            assert api.create(queue=queue).status_code == 201
        (offer,) = api.offers("bob")
        assert api.post(f"/v1/offers/{offer['id']}/accept").status_code == 200
        assert api.post("/v1/agents/bob/token").status_code == 200
    router.store.dispose()


def test_upgrade_from_empty_reaches_head_in_step_with_the_store(postgres_url):
    engine = create_engine(postgres_url)
    try:
        assert migrate.upgrade(engine) == migrate.head_revision()
        assert migrate.schema_differences(engine) == []  # a table change needs a migration
        assert migrate.upgrade(engine) == migrate.head_revision()  # idempotent
    finally:
        engine.dispose()


def test_an_upgrade_never_loses_rows(tmp_path, postgres_url):
    engine = create_engine(postgres_url)
    migrate.upgrade(engine, migrate.FIRST_REVISION)
    _traffic(tmp_path, postgres_url)  # the router's start-up upgrades to head
    before = _counts(postgres_url)
    assert before["router_contacts"] == 4 and before["router_events"] > 4
    assert migrate.upgrade(engine) == migrate.head_revision()
    assert _counts(postgres_url) == before
    engine.dispose()


def test_a_database_made_before_migrations_is_stamped_and_kept(tmp_path, postgres_url):
    engine = create_engine(postgres_url)
    S.metadata.create_all(engine)  # how issue 16 made PostgreSQL stores
    router = make_router(tmp_path, url=postgres_url)
    with client_for(router) as client:
        api = Api(client)
        assert api.create(queue="voice").status_code == 201
    router.store.dispose()
    before = _counts(postgres_url)
    assert migrate.upgrade(engine) == migrate.head_revision()
    assert _counts(postgres_url) == before and before["router_contacts"] == 1
    engine.dispose()


def test_processes_starting_together_migrate_once(postgres_url):
    engines = [create_engine(postgres_url) for _ in range(3)]
    results, errors = [], []

    def start(engine):
        try:
            results.append(migrate.upgrade(engine))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [migrate.head_revision()] * 3
    for engine in engines:
        engine.dispose()
