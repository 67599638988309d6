"""Narrower partial indexes on outbound_messages: a fresh pending row enters fewer indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outbound_messages"


def _where(predicate: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def upgrade() -> None:
    op.drop_index("ix_outbound_messages_in_flight", table_name=TABLE)
    op.drop_index("ix_outbound_messages_status_updated_at", table_name=TABLE)
    op.create_index(
        "ix_outbound_messages_leases", TABLE, ["lease_expires_at"], **_where("status = 'sending'")
    )
    op.create_index(
        "ix_outbound_messages_published",
        TABLE,
        ["enqueued_at"],
        **_where("status = 'pending' AND enqueued_at IS NOT NULL"),
    )
    op.create_index(
        "ix_outbound_messages_finished",
        TABLE,
        ["status", "updated_at"],
        **_where("status IN ('sent', 'failed')"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_finished", table_name=TABLE)
    op.drop_index("ix_outbound_messages_published", table_name=TABLE)
    op.drop_index("ix_outbound_messages_leases", table_name=TABLE)
    op.create_index("ix_outbound_messages_status_updated_at", TABLE, ["status", "updated_at"])
    op.create_index(
        "ix_outbound_messages_in_flight",
        TABLE,
        ["status", "enqueued_at", "lease_expires_at"],
        **_where("status IN ('pending', 'sending')"),
    )
