"""relay_batches: batches a relay marked published and has not yet seen confirmed

A relay marks a batch of messages published in one short statement and only then
publishes it, so that no row lock is held while the broker answers. A relay that dies in
between leaves its row here; once the row's `expires_at` passes, the recovery sweep makes
the batch's messages (those whose `enqueued_at` is the batch's `taken_at`) unpublished
again, instead of waiting REQUEUE_AFTER_SECONDS for the recovery of lost jobs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relay_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_batches")),
    )
    op.create_index(op.f("ix_relay_batches_expires_at"), "relay_batches", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_batches_expires_at"), table_name="relay_batches")
    op.drop_table("relay_batches")
