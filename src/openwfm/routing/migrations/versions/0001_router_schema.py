"""The router's schema as issue 16 built it (tables, checks, the partial unique index).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "router_agents",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.Column("load_limit", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("idle_since_s", sa.Float(), nullable=False),
        sa.Column("missed_offers", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('available', 'away', 'offline')", name="ck_agent_status"),
        sa.CheckConstraint(
            "load >= 0 AND load <= load_limit", name="ck_agent_load_within_capacity"
        ),
        sa.PrimaryKeyConstraint("center", "agent_id"),
    )
    op.create_table(
        "router_centers",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("clock_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("center"),
    )
    op.create_table(
        "router_contacts",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("on_behalf_of", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("arrival_s", sa.Float(), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("offer_count", sa.Integer(), nullable=False),
        sa.Column("answered_s", sa.Float(), nullable=True),
        sa.Column("wrapup_s", sa.Float(), nullable=True),
        sa.Column("ended_s", sa.Float(), nullable=True),
        sa.Column("ttl_deadline_s", sa.Float(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_deadline_s", sa.Float(), nullable=True),
        sa.Column("wrapup_deadline_s", sa.Float(), nullable=True),
        sa.Column("skill_hold_s", sa.Float(), nullable=True),
        sa.Column("due_s", sa.Float(), nullable=True),
        sa.Column("estimated_wait_s", sa.Float(), nullable=True),
        sa.Column("callback_offered", sa.Boolean(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("exported", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'offered', 'assigned', 'wrapping', "
            "'completed', 'canceled', 'expired', 'abandoned')",
            name="ck_contact_state",
        ),
        sa.CheckConstraint(
            "state NOT IN ('assigned', 'wrapping') OR agent_id IS NOT NULL",
            name="ck_contact_assigned_has_agent",
        ),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.create_index(
        "ix_contacts_center_number", "router_contacts", ["center", "number"], unique=True
    )
    op.create_index(
        "ix_contacts_center_state", "router_contacts", ["center", "state"], unique=False
    )
    op.create_table(
        "router_customers",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("last_agent_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("center", "customer_id"),
    )
    op.create_table(
        "router_events",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("center", "seq"),
    )
    op.create_table(
        "router_idempotency",
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("center", "key"),
    )
    op.create_table(
        "router_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind <> 'agent' OR agent_id IS NOT NULL", name="ck_agent_key_has_agent"
        ),
        sa.CheckConstraint("kind IN ('integration', 'agent')", name="ck_key_kind"),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "router_offers",
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_s", sa.Float(), nullable=False),
        sa.Column("expires_at_s", sa.Float(), nullable=False),
        sa.Column("decided_s", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'accepted') OR NOT active", name="ck_offer_active"
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'accepted', 'rejected', 'expired', 'rescinded')",
            name="ck_offer_state",
        ),
        sa.PrimaryKeyConstraint("offer_id"),
    )
    op.create_index(
        "ix_offers_agent", "router_offers", ["center", "agent_id", "state"], unique=False
    )
    op.create_index("ix_offers_pending", "router_offers", ["state", "expires_at_s"], unique=False)
    op.create_index(
        "ux_offers_one_active_per_contact",
        "router_offers",
        ["contact_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "router_webhooks",
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("center", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("delivered_seq", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_s", sa.Float(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("router_webhooks")
    op.drop_index(
        "ux_offers_one_active_per_contact",
        table_name="router_offers",
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.drop_index("ix_offers_pending", table_name="router_offers")
    op.drop_index("ix_offers_agent", table_name="router_offers")
    op.drop_table("router_offers")
    op.drop_table("router_keys")
    op.drop_table("router_idempotency")
    op.drop_table("router_events")
    op.drop_table("router_customers")
    op.drop_index("ix_contacts_center_state", table_name="router_contacts")
    op.drop_index("ix_contacts_center_number", table_name="router_contacts")
    op.drop_table("router_contacts")
    op.drop_table("router_centers")
    op.drop_table("router_agents")
