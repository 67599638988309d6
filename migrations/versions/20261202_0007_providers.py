"""providers: delivery receipts, inbound messages, the shared send rate

- outbound_messages: `provider` (the adapter that sent it), `provider_message_id`,
  `delivery_status` (undelivered, delivered, read) and `delivered_at`. Receipts find
  their message by (provider, provider_message_id): a partial index.
- early_receipts: receipts for an id not recorded yet (the provider can answer the
  webhook before our own commit), kept until their message is recorded.
- inbound_messages: what customers sent us (STOP and the rest), once per provider id.
- provider_rates: one row per channel, the shared rate limit's schedule (epoch seconds,
  so that the arithmetic is the same on both databases).
- campaigns: `whatsapp_template` (a pre-approved template and its body parameters).
- campaign_message_counts also counts messages per delivery status (keys `undelivered`,
  `delivered`, `read`, which no message status uses), so the detail reads its funnel
  without counting rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DELIVERY = "'undelivered', 'delivered', 'read'"

# 0006's counter function, counting delivery statuses beside message statuses.
_PG_UPSERT = """
    INSERT INTO campaign_message_counts (campaign_id, status, n)
    SELECT campaign_id, status, sum(k) FROM ({rows}) AS changes
    GROUP BY campaign_id, status HAVING sum(k) <> 0
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status) DO UPDATE SET n = campaign_message_counts.n + EXCLUDED.n;
"""
_PG_LOWER = """
    UPDATE campaign_message_counts AS c SET n = c.n - gone.k
    FROM (SELECT campaign_id, status, count(*) AS k FROM ({rows}) AS o
          GROUP BY campaign_id, status) AS gone
    WHERE c.campaign_id = gone.campaign_id AND c.status = gone.status;
"""


def _keys(table: str, k: int) -> str:
    return (
        f"SELECT campaign_id, status, {k} AS k FROM {table} UNION ALL "  # noqa: S608 (constants)
        f"SELECT campaign_id, delivery_status, {k} FROM {table} WHERE delivery_status IS NOT NULL"
    )


def _pg_track(delivery: bool) -> str:
    new = _keys("new_rows", 1) if delivery else "SELECT campaign_id, status, 1 AS k FROM new_rows"
    old = _keys("old_rows", -1) if delivery else "SELECT campaign_id, status, -1 AS k FROM old_rows"
    gone = old.replace("-1", "1")
    return f"""
    CREATE OR REPLACE FUNCTION campaign_message_counts_track() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_PG_UPSERT.format(rows=new)}
        ELSIF TG_OP = 'DELETE' THEN
            {_PG_LOWER.format(rows=gone)}
        ELSE
            {_PG_UPSERT.format(rows=f"{new} UNION ALL {old}")}
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """


_SQLITE_DELIVERY = [
    "CREATE TRIGGER outbound_messages_delivery_count AFTER UPDATE OF delivery_status "
    "ON outbound_messages WHEN OLD.delivery_status IS NOT NEW.delivery_status BEGIN "
    "UPDATE campaign_message_counts SET n = n - 1 "
    "WHERE campaign_id = OLD.campaign_id AND status = OLD.delivery_status; "
    "INSERT INTO campaign_message_counts (campaign_id, status, n) "
    "SELECT NEW.campaign_id, NEW.delivery_status, 1 WHERE NEW.delivery_status IS NOT NULL "
    "ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER outbound_messages_delivery_count_delete AFTER DELETE ON outbound_messages "
    "WHEN OLD.delivery_status IS NOT NULL BEGIN "
    "UPDATE campaign_message_counts SET n = n - 1 "
    "WHERE campaign_id = OLD.campaign_id AND status = OLD.delivery_status; END",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("outbound_messages", sa.Column("provider", sa.String(32), nullable=True))
    op.add_column(
        "outbound_messages", sa.Column("provider_message_id", sa.String(128), nullable=True)
    )
    # One statement on both databases (SQLite's ADD COLUMN takes a CHECK; no rebuild).
    op.execute(
        "ALTER TABLE outbound_messages ADD COLUMN delivery_status VARCHAR(16) "
        "CONSTRAINT ck_outbound_messages_delivery_status "
        f"CHECK (delivery_status IN ({DELIVERY}))"
    )
    op.add_column("outbound_messages", sa.Column("delivered_at", sa.DateTime(), nullable=True))
    recorded = sa.text("provider_message_id IS NOT NULL")
    # Not unique: a provider that answered one id twice must not stop a batch's outcomes.
    op.create_index(
        "ix_outbound_messages_provider_message_id",
        "outbound_messages",
        ["provider", "provider_message_id"],
        postgresql_where=recorded,
        sqlite_where=recorded,
    )
    op.add_column("campaigns", sa.Column("whatsapp_template", sa.JSON(), nullable=True))
    op.create_table(
        "early_receipts",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(f"status IN ({DELIVERY})", name=op.f("ck_early_receipts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_receipts")),
    )
    op.create_index(
        "ix_early_receipts_provider_message_id",
        "early_receipts",
        ["provider", "provider_message_id"],
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("from_number", sa.String(64), nullable=False),
        sa.Column("to_number", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    op.create_index(
        "ux_inbound_messages_provider_message_id",
        "inbound_messages",
        ["provider", "provider_message_id"],
        unique=True,
        postgresql_where=recorded,
        sqlite_where=recorded,
    )
    op.create_index("ix_inbound_messages_from_number_id", "inbound_messages", ["from_number", "id"])
    op.create_table(
        "provider_rates",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False, server_default="0"),
        sa.Column("slowdown", sa.Float(), nullable=False, server_default="1"),
        sa.Column("slowed_at", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_provider_rates")),
    )
    op.execute(
        "INSERT INTO provider_rates (channel, next_slot, slowdown, slowed_at) "
        "VALUES ('sms', 0, 1, 0), ('whatsapp', 0, 1, 0)"
    )
    if postgres:
        op.execute(_pg_track(delivery=True))
    else:
        for statement in _SQLITE_DELIVERY:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_pg_track(delivery=False))
    else:
        op.execute("DROP TRIGGER outbound_messages_delivery_count_delete")
        op.execute("DROP TRIGGER outbound_messages_delivery_count")
    op.execute(f"DELETE FROM campaign_message_counts WHERE status IN ({DELIVERY})")  # noqa: S608
    op.drop_table("provider_rates")
    op.drop_index("ix_inbound_messages_from_number_id", table_name="inbound_messages")
    op.drop_index("ux_inbound_messages_provider_message_id", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_index("ix_early_receipts_provider_message_id", table_name="early_receipts")
    op.drop_table("early_receipts")
    op.drop_column("campaigns", "whatsapp_template")
    op.drop_index("ix_outbound_messages_provider_message_id", table_name="outbound_messages")
    op.drop_column("outbound_messages", "delivered_at")
    op.drop_column("outbound_messages", "delivery_status")
    op.drop_column("outbound_messages", "provider_message_id")
    op.drop_column("outbound_messages", "provider")
