"""router_guard(ok, what): fails the statement (SQLSTATE OWG01) when ``ok`` is false, so a
routing pass's guarded offer writes can go with its COMMIT in one round trip.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add (or replace) the function router_guard."""
    op.execute(
        "CREATE OR REPLACE FUNCTION router_guard(ok boolean, what text) RETURNS boolean "
        "LANGUAGE plpgsql AS $$ BEGIN IF ok IS NOT TRUE THEN "
        "RAISE EXCEPTION 'guard failed: %', what USING ERRCODE = 'OWG01'; END IF; "
        "RETURN true; END $$"
    )


def downgrade() -> None:
    """Drop router_guard."""
    op.execute("DROP FUNCTION IF EXISTS router_guard(boolean, text)")
