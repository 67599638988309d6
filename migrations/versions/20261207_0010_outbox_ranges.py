"""outbox_ranges: a send's messages published without a write to each of them

On PostgreSQL a send inserts its messages already stamped (`enqueued_at`) and records the
ids they span in `outbox_ranges`; the relay publishes them piece by piece and keeps each
piece in `relay_batches` (campaign_id, stamp, first_id, last_id) until the broker
confirms it. Marking every message published cost each one a row version, with every
index and the counters' trigger: about 40 µs of PostgreSQL time per message.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_ranges",
        sa.Column("id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("stamp", sa.DateTime(), nullable=False),
        sa.Column("next_id", ID, nullable=False),
        sa.Column("last_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_ranges")),
    )
    with op.batch_alter_table("relay_batches") as batch:
        batch.add_column(sa.Column("campaign_id", ID, nullable=True))
        batch.add_column(sa.Column("stamp", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("first_id", ID, nullable=True))
        batch.add_column(sa.Column("last_id", ID, nullable=True))


def downgrade() -> None:
    # Ranges still to publish become ordinary unpublished messages first.
    op.execute(
        "UPDATE outbound_messages SET enqueued_at = NULL WHERE status = 'pending' AND EXISTS ("
        "SELECT 1 FROM outbox_ranges AS r WHERE r.campaign_id = outbound_messages.campaign_id "
        "AND outbound_messages.id BETWEEN r.next_id AND r.last_id "
        "AND outbound_messages.enqueued_at = r.stamp)"
    )
    with op.batch_alter_table("relay_batches") as batch:
        for column in ("last_id", "first_id", "stamp", "campaign_id"):
            batch.drop_column(column)
    op.drop_table("outbox_ranges")
