"""Alembic migrations of the router's schema (applied at start-up by
:func:`openwfm.routing.migrate.upgrade`); one file per revision under ``versions/``."""
