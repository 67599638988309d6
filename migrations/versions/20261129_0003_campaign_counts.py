"""campaign_counts: campaigns per (channel, status), kept by triggers

Page 1 of GET /campaigns needs a total; counting a million rows takes longer than the
whole page should. The triggers keep the counts in the same transaction as the change,
so a count and a max(id) read in one statement describe the same snapshot.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 06:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statement-level triggers with transition tables: one aggregated upsert per statement,
# so a bulk INSERT … SELECT does not update the same counter row once per campaign, and
# an UPDATE that leaves channel and status alone writes nothing.
_APPLY = """
    INSERT INTO campaign_counts (channel, status, n)
    SELECT channel, status, sum(k) FROM ({rows}) AS changes
    GROUP BY channel, status HAVING sum(k) <> 0
    ON CONFLICT (channel, status) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
"""
_NEW = "SELECT channel, status, 1 AS k FROM new_rows"
_OLD = "SELECT channel, status, -1 AS k FROM old_rows"
POSTGRES = [
    f"""
    CREATE FUNCTION campaign_counts_track() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_APPLY.format(rows=_NEW)}
        ELSIF TG_OP = 'DELETE' THEN
            {_APPLY.format(rows=_OLD)}
        ELSE
            {_APPLY.format(rows=f"{_NEW} UNION ALL {_OLD}")}
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER campaigns_count_insert AFTER INSERT ON campaigns "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_track()",
    "CREATE TRIGGER campaigns_count_update AFTER UPDATE ON campaigns "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_track()",
    "CREATE TRIGGER campaigns_count_delete AFTER DELETE ON campaigns "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_track()",
    # TRUNCATE bypasses row and statement DML triggers: empty the counts with it.
    """
    CREATE FUNCTION campaign_counts_reset() RETURNS trigger AS $$
    BEGIN
        DELETE FROM campaign_counts;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER campaigns_count_truncate AFTER TRUNCATE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION campaign_counts_reset()
    """,
]

_SQLITE_ADD = """
    INSERT INTO campaign_counts (channel, status, n) VALUES (NEW.channel, NEW.status, 1)
    ON CONFLICT (channel, status) DO UPDATE SET n = n + 1;
"""
_SQLITE_REMOVE = """
    UPDATE campaign_counts SET n = n - 1 WHERE channel = OLD.channel AND status = OLD.status;
"""
SQLITE = [
    f"CREATE TRIGGER campaigns_count_insert AFTER INSERT ON campaigns BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER campaigns_count_delete AFTER DELETE ON campaigns BEGIN {_SQLITE_REMOVE} END",
    "CREATE TRIGGER campaigns_count_update AFTER UPDATE OF channel, status ON campaigns "
    f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
]


def upgrade() -> None:
    op.create_table(
        "campaign_counts",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("channel", "status", name=op.f("pk_campaign_counts")),
    )
    op.execute(
        "INSERT INTO campaign_counts (channel, status, n) "
        "SELECT channel, status, count(*) FROM campaigns GROUP BY channel, status"
    )
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("truncate", "insert", "update", "delete"):
            op.execute(f"DROP TRIGGER campaigns_count_{name} ON campaigns")
        op.execute("DROP FUNCTION campaign_counts_reset()")
        op.execute("DROP FUNCTION campaign_counts_track()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER campaigns_count_{name}")
    op.drop_table("campaign_counts")
