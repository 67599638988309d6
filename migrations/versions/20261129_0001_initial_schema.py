"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 05:56:44.850330
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("base_template", sa.Text(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("channel IN ('sms', 'whatsapp')", name=op.f("ck_campaigns_channel")),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'sent', 'failed')",
            name=op.f("ck_campaigns_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_channel_id", "campaigns", ["channel", "id"], unique=False)
    op.create_index(
        "ix_campaigns_channel_status_id", "campaigns", ["channel", "status", "id"], unique=False
    )
    op.create_index(
        "ix_campaigns_due",
        "campaigns",
        ["scheduled_at"],
        unique=False,
        postgresql_where=sa.text("status = 'scheduled'"),
        sqlite_where=sa.text("status = 'scheduled'"),
    )
    op.create_index("ix_campaigns_status_id", "campaigns", ["status", "id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("preferred_product", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "campaign_audience",
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_audience_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_audience_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_audience")),
    )
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rendered_content", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_outbound_messages_status"),
        ),
        sa.CheckConstraint("retry_count >= 0", name=op.f("ck_outbound_messages_retry_count")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_outbound_messages_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_outbound_messages_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint(
            "campaign_id", "customer_id", name=op.f("uq_outbound_messages_campaign_id_customer_id")
        ),
    )
    op.create_index(
        "ix_outbound_messages_campaign_id_id",
        "outbound_messages",
        ["campaign_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_outbound_messages_campaign_status_id",
        "outbound_messages",
        ["campaign_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_outbound_messages_in_flight",
        "outbound_messages",
        ["status", "enqueued_at", "lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
        sqlite_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index(
        "ix_outbound_messages_outbox",
        "outbound_messages",
        ["available_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' AND enqueued_at IS NULL"),
        sqlite_where=sa.text("status = 'pending' AND enqueued_at IS NULL"),
    )
    op.create_index(
        "ix_outbound_messages_status_updated_at",
        "outbound_messages",
        ["status", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_status_updated_at", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_outbox", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_in_flight", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_campaign_status_id", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_campaign_id_id", table_name="outbound_messages")

    op.drop_table("outbound_messages")
    op.drop_table("campaign_audience")
    op.drop_table("idempotency_keys")
    op.drop_table("customers")
    op.drop_index("ix_campaigns_status_id", table_name="campaigns")
    op.drop_index("ix_campaigns_due", table_name="campaigns")
    op.drop_index("ix_campaigns_channel_status_id", table_name="campaigns")
    op.drop_index("ix_campaigns_channel_id", table_name="campaigns")

    op.drop_table("campaigns")
