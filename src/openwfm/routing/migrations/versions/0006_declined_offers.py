"""An index of the declined offers (rejected, expired) by contact: the routing pass looks up
the agents who declined each waiting contact, and a contact offered many times (rescinded
each time its agent went away) no longer makes that lookup read its whole offer history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ix_offers_declined (partial: rejected and expired offers only; kept when a database
    made before migrations already has it)."""
    present = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("router_offers")}
    if "ix_offers_declined" in present:
        return
    op.create_index(
        "ix_offers_declined",
        "router_offers",
        ["contact_id"],
        postgresql_where=sa.text("state IN ('rejected', 'expired')"),
    )


def downgrade() -> None:
    """Drop ix_offers_declined."""
    op.drop_index("ix_offers_declined", table_name="router_offers")
