"""compliance: opt-out, customers' time zones, send windows, validity

- customers: `opted_out_at` (set while opted out; a partial index for the filter) and
  `timezone` (IANA; unset, the number's country decides).
- customer_consent_events: every opt-out and opt-in, with its source (api, inbound,
  provider), detail and time.
- campaigns: `send_window` ({start, end} on each recipient's clock) and `expires_at`
  (a partial index for the sweep that expires what is left).
- outbound_messages: `window_opens_at`, set while a pending message waits for its
  recipient's window; a partial index finds a campaign's next opening, and
  campaign_message_counts counts such messages under the key `window_wait`, so the
  detail reads it without counting rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SOURCES = "'api', 'inbound', 'provider'"
WAIT = "window_wait"
WAITING = "status = 'pending' AND window_opens_at IS NOT NULL"

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


def _keys(table: str, k: int, window: bool) -> str:
    """Each row's keys: its status, its delivery status, and (with `window`) WAIT."""
    keys = (
        f"SELECT campaign_id, status, {k} AS k FROM {table} UNION ALL "  # noqa: S608 (constants)
        f"SELECT campaign_id, delivery_status, {k} FROM {table} WHERE delivery_status IS NOT NULL"
    )
    if window:
        keys += f" UNION ALL SELECT campaign_id, '{WAIT}', {k} FROM {table} WHERE {WAITING}"  # noqa: S608
    return keys


def _pg_track(window: bool) -> str:
    new, old = _keys("new_rows", 1, window), _keys("old_rows", -1, window)
    gone = _keys("old_rows", 1, window)
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


def _waiting(row: str) -> str:
    return f"({row}.status = 'pending' AND {row}.window_opens_at IS NOT NULL)"


_SQLITE_ADD = (
    "INSERT INTO campaign_message_counts (campaign_id, status, n) "
    f"SELECT NEW.campaign_id, '{WAIT}', 1 WHERE {_waiting('NEW')} "
    "ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;"
)
_SQLITE_REMOVE = (
    f"UPDATE campaign_message_counts SET n = n - 1 WHERE {_waiting('OLD')} "  # noqa: S608
    f"AND campaign_id = OLD.campaign_id AND status = '{WAIT}';"
)
SQLITE_TRIGGERS = {
    "outbound_messages_window_count_insert": (
        f"AFTER INSERT ON outbound_messages WHEN {_waiting('NEW')} BEGIN {_SQLITE_ADD} END"
    ),
    "outbound_messages_window_count_update": (
        "AFTER UPDATE OF status, window_opens_at, campaign_id ON outbound_messages "
        f"WHEN {_waiting('OLD')} IS NOT {_waiting('NEW')} OR OLD.campaign_id <> NEW.campaign_id "
        f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END"
    ),
    "outbound_messages_window_count_delete": (
        f"AFTER DELETE ON outbound_messages WHEN {_waiting('OLD')} BEGIN {_SQLITE_REMOVE} END"
    ),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("customers", sa.Column("opted_out_at", sa.DateTime(), nullable=True))
    op.add_column("customers", sa.Column("timezone", sa.String(64), nullable=True))
    opted_out = sa.text("opted_out_at IS NOT NULL")
    op.create_index(
        "ix_customers_opted_out",
        "customers",
        ["id"],
        postgresql_where=opted_out,
        sqlite_where=opted_out,
    )
    op.create_table(
        "customer_consent_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            f"source IN ({SOURCES})", name=op.f("ck_customer_consent_events_source")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_consent_events_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_consent_events")),
    )
    op.create_index(
        "ix_customer_consent_events_customer_id_id",
        "customer_consent_events",
        ["customer_id", "id"],
    )
    op.add_column("campaigns", sa.Column("send_window", sa.JSON(), nullable=True))
    op.add_column("campaigns", sa.Column("expires_at", sa.DateTime(), nullable=True))
    expiring = sa.text("expires_at IS NOT NULL")
    op.create_index(
        "ix_campaigns_expires_at",
        "campaigns",
        ["expires_at"],
        postgresql_where=expiring,
        sqlite_where=expiring,
    )
    op.add_column("outbound_messages", sa.Column("window_opens_at", sa.DateTime(), nullable=True))
    waiting = sa.text(WAITING)
    op.create_index(
        "ix_outbound_messages_window_wait",
        "outbound_messages",
        ["campaign_id", "window_opens_at"],
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    if postgres:
        op.execute(_pg_track(window=True))
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(_pg_track(window=False))
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.execute(f"DELETE FROM campaign_message_counts WHERE status = '{WAIT}'")  # noqa: S608
    op.drop_index("ix_outbound_messages_window_wait", table_name="outbound_messages")
    op.drop_column("outbound_messages", "window_opens_at")
    op.drop_index("ix_campaigns_expires_at", table_name="campaigns")
    op.drop_column("campaigns", "expires_at")
    op.drop_column("campaigns", "send_window")
    op.drop_index("ix_customer_consent_events_customer_id_id", table_name="customer_consent_events")
    op.drop_table("customer_consent_events")
    op.drop_index("ix_customers_opted_out", table_name="customers")
    op.drop_column("customers", "timezone")
    op.drop_column("customers", "opted_out_at")
