"""The router's schema migrations (Alembic), applied at start-up on PostgreSQL.

:func:`upgrade` brings a database to the newest revision under ``migrations/versions`` inside
one transaction that holds a PostgreSQL advisory lock, so several router processes starting at
once migrate it exactly once and a failed migration changes nothing. A database made before
migrations existed (tables present, no ``alembic_version``) is stamped with the first
revision, whose tables it already has. Migrations only add (columns with defaults, tables,
indexes): an upgrade never drops or rewrites rows.

The embedded SQLite store keeps ``metadata.create_all`` (one process, one file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config


MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
MIGRATION_LOCK = (0x6F77, 0)  # advisory lock (class, id) held while migrating


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate ``engine``'s database to ``revision``; returns the revision it is at after."""
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), dict(
                a=MIGRATION_LOCK[0], b=MIGRATION_LOCK[1]
            ))  # fmt: skip
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "router_contacts" in tables:
            command.stamp(config, FIRST_REVISION)  # made by create_all before migrations
        command.upgrade(config, revision)
        return current_revision(connection)


def schema_differences(engine: Engine) -> list:
    """What the migrated database lacks or has beyond ``store.metadata`` (empty: in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from openwfm.routing.store import metadata

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [
            d
            for d in compare_metadata(context, metadata)
            if not (
                isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version"
            )
        ]
