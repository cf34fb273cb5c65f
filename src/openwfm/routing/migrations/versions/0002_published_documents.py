"""The intraday stage's published documents (outlook, re-plan) in the store, shared by every
router process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add router_documents (kept when a database made before migrations already has it)."""
    if "router_documents" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "router_documents",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("center", "name"),
    )


def downgrade() -> None:
    """Drop router_documents."""
    op.drop_table("router_documents")
