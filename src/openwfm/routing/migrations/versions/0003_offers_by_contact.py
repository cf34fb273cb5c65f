"""An index of offers by contact: the routing pass looks up the agents who declined a waiting
contact in the same query as the waiting contacts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ix_offers_contact (kept when a database made before migrations already has it)."""
    present = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("router_offers")}
    if "ix_offers_contact" not in present:
        op.create_index("ix_offers_contact", "router_offers", ["contact_id"])


def downgrade() -> None:
    """Drop ix_offers_contact."""
    op.drop_index("ix_offers_contact", table_name="router_offers")
