"""The routing loop: the event inbox of API transactions and the contacts' number sequence
(neither takes a per-center lock).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add router_event_inbox and the sequence router_contact_number, started after the
    highest contact number already stored (both kept when already present)."""
    bind = op.get_bind()
    if "router_event_inbox" not in sa.inspect(bind).get_table_names():
        op.create_table(
            "router_event_inbox",
            sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
            sa.Column("center", sa.String(length=100), nullable=False),
            sa.Column("at_s", sa.Float(), nullable=False),
            sa.Column("type", sa.String(length=50), nullable=False),
            sa.Column("contact_id", sa.String(length=64), nullable=True),
            sa.Column("agent_id", sa.String(length=200), nullable=True),
            sa.Column("offer_id", sa.String(length=64), nullable=True),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_event_inbox_center", "router_event_inbox", ["center", "id"])
    op.execute("CREATE SEQUENCE IF NOT EXISTS router_contact_number")
    op.execute(
        "SELECT setval('router_contact_number', "
        "GREATEST((SELECT COALESCE(max(number), 0) FROM router_contacts) + 1, "
        "(SELECT last_value FROM router_contact_number)), false)"
    )


def downgrade() -> None:
    """Drop router_event_inbox and the sequence."""
    op.drop_table("router_event_inbox")
    op.execute("DROP SEQUENCE IF EXISTS router_contact_number")
