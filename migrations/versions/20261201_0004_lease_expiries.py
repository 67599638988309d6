"""outbound_messages.lease_expiries: how often a claim on the message ran out

A lease that expires is not a failed attempt: the provider may have accepted the message
and only the record was lost, or nothing was tried at all. The first expiry of a message
grants it one more attempt beyond MAX_RETRIES; the column remembers that it was granted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column(
        "outbound_messages",
        sa.Column("lease_expiries", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages") as table:
        table.drop_column("lease_expiries")
