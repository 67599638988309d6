"""campaign control: paused and cancelled, attempt history, per-campaign message counts

- campaigns: statuses `paused` and `cancelled`, `pause_reason`, and `pause_window_after`
  (the automatic pause judges only attempts after this one: those since the last resume),
  and `segment`, an audience stored as a filter (resolved when the campaign is sent).
- outbound_messages: status `cancelled`; `error_code` (why it failed: retry-failed leaves
  terminal failures alone); `series_start` (the retry_count its current attempt series
  began at, so retry-failed grants a new series without reusing an attempt number).
- message_attempts: every attempt and what it came to. Its campaign_id is the message's,
  copied for the automatic pause's window; no foreign key of its own (the message's
  cascades), so that recording a batch does not lock the campaign's row once per attempt.
- campaign_message_counts: messages per (campaign, status), kept by triggers in the same
  transaction as each change, so a campaign's detail reads its stats without counting
  its messages. The existing messages are counted once here.

Widening a CHECK constraint on SQLite: a table rebuild (Alembic's batch mode) would drop
the table, and with foreign keys on (the application's connections turn them on) the
implicit DELETE of a DROP TABLE cascades to the children. SQLite's documented procedure
for a change that leaves every stored row valid edits the table's definition in the
schema instead (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of
Table Schema Changes"): no row is touched.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

CHECKS = {
    # table: (constraint, old values, new values)
    "campaigns": (
        "ck_campaigns_status",
        "'draft', 'scheduled', 'sending', 'sent', 'failed'",
        "'draft', 'scheduled', 'sending', 'sent', 'failed', 'paused', 'cancelled'",
    ),
    "outbound_messages": (
        "ck_outbound_messages_status",
        "'pending', 'sending', 'sent', 'failed'",
        "'pending', 'sending', 'sent', 'failed', 'cancelled'",
    ),
}

# PostgreSQL: statement-level triggers with transition tables, one aggregated change per
# statement (a batch of outcomes writes each counter row once). Rows are upserted in
# (campaign_id, status) order, so two transactions that change the same counters lock
# them in the same order and cannot deadlock on them.
_PG_UPSERT = """
    INSERT INTO campaign_message_counts (campaign_id, status, n)
    SELECT campaign_id, status, sum(k) FROM ({rows}) AS changes
    GROUP BY campaign_id, status HAVING sum(k) <> 0
    ORDER BY campaign_id, status
    ON CONFLICT (campaign_id, status) DO UPDATE SET n = campaign_message_counts.n + EXCLUDED.n;
"""
# A delete only lowers counters that exist: a campaign's own delete may have removed its
# counters before the cascade to its messages runs this.
_PG_LOWER = """
    UPDATE campaign_message_counts AS c SET n = c.n - gone.k
    FROM (SELECT campaign_id, status, count(*) AS k FROM old_rows GROUP BY campaign_id, status)
        AS gone
    WHERE c.campaign_id = gone.campaign_id AND c.status = gone.status;
"""
_NEW = "SELECT campaign_id, status, 1 AS k FROM new_rows"
_OLD = "SELECT campaign_id, status, -1 AS k FROM old_rows"
POSTGRES = [
    f"""
    CREATE FUNCTION campaign_message_counts_track() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_PG_UPSERT.format(rows=_NEW)}
        ELSIF TG_OP = 'DELETE' THEN
            {_PG_LOWER}
        ELSE
            {_PG_UPSERT.format(rows=f"{_NEW} UNION ALL {_OLD}")}
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER outbound_messages_count_insert AFTER INSERT ON outbound_messages "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_message_counts_track()",
    "CREATE TRIGGER outbound_messages_count_update AFTER UPDATE ON outbound_messages "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_message_counts_track()",
    "CREATE TRIGGER outbound_messages_count_delete AFTER DELETE ON outbound_messages "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_message_counts_track()",
    # A deleted campaign's counters go with it; TRUNCATE bypasses the DML triggers.
    """
    CREATE FUNCTION campaign_message_counts_forget() RETURNS trigger AS $$
    BEGIN
        DELETE FROM campaign_message_counts AS c USING old_rows AS o WHERE c.campaign_id = o.id;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER campaigns_message_counts_delete AFTER DELETE ON campaigns "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_message_counts_forget()",
    """
    CREATE FUNCTION campaign_message_counts_reset() RETURNS trigger AS $$
    BEGIN
        DELETE FROM campaign_message_counts;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER outbound_messages_count_truncate AFTER TRUNCATE ON outbound_messages "
    "FOR EACH STATEMENT EXECUTE FUNCTION campaign_message_counts_reset()",
]
# 0003's campaign_counts_track, with its upsert in (channel, status) order: a status
# change locks two counter rows, and two changes between the same two statuses in
# opposite directions (failed → sending by retry-failed, sending → failed as a campaign
# finishes) could otherwise take them in opposite orders and deadlock.
_COUNTS_APPLY = """
    INSERT INTO campaign_counts (channel, status, n)
    SELECT channel, status, sum(k) FROM ({rows}) AS changes
    GROUP BY channel, status HAVING sum(k) <> 0
    ORDER BY channel, status
    ON CONFLICT (channel, status) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
"""
_COUNTS_NEW = "SELECT channel, status, 1 AS k FROM new_rows"
_COUNTS_OLD = "SELECT channel, status, -1 AS k FROM old_rows"
ORDERED_CAMPAIGN_COUNTS = f"""
    CREATE OR REPLACE FUNCTION campaign_counts_track() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_COUNTS_APPLY.format(rows=_COUNTS_NEW)}
        ELSIF TG_OP = 'DELETE' THEN
            {_COUNTS_APPLY.format(rows=_COUNTS_OLD)}
        ELSE
            {_COUNTS_APPLY.format(rows=f"{_COUNTS_NEW} UNION ALL {_COUNTS_OLD}")}
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
"""

PG_TRIGGERS = (
    ("outbound_messages", "outbound_messages_count_insert"),
    ("outbound_messages", "outbound_messages_count_update"),
    ("outbound_messages", "outbound_messages_count_delete"),
    ("outbound_messages", "outbound_messages_count_truncate"),
    ("campaigns", "campaigns_message_counts_delete"),
)

_SQLITE_ADD = """
    INSERT INTO campaign_message_counts (campaign_id, status, n)
    VALUES (NEW.campaign_id, NEW.status, 1)
    ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
"""
_SQLITE_REMOVE = """
    UPDATE campaign_message_counts SET n = n - 1
    WHERE campaign_id = OLD.campaign_id AND status = OLD.status;
"""
SQLITE = [
    "CREATE TRIGGER outbound_messages_count_insert AFTER INSERT ON outbound_messages "
    f"BEGIN {_SQLITE_ADD} END",
    "CREATE TRIGGER outbound_messages_count_delete AFTER DELETE ON outbound_messages "
    f"BEGIN {_SQLITE_REMOVE} END",
    "CREATE TRIGGER outbound_messages_count_update "
    "AFTER UPDATE OF status, campaign_id ON outbound_messages "
    "WHEN OLD.status <> NEW.status OR OLD.campaign_id <> NEW.campaign_id "
    f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
    "CREATE TRIGGER campaigns_message_counts_delete AFTER DELETE ON campaigns "
    "BEGIN DELETE FROM campaign_message_counts WHERE campaign_id = OLD.id; END",
]
SQLITE_TRIGGERS = (
    "outbound_messages_count_insert",
    "outbound_messages_count_delete",
    "outbound_messages_count_update",
    "campaigns_message_counts_delete",
)


BACKFILL = (
    ("TEMPLATE_ERROR", "template error:%"),
    ("CUSTOMER_NOT_FOUND", "customer not found%"),
    ("CAMPAIGN_NOT_FOUND", "campaign not found%"),
    ("LEASE_EXPIRED", "worker stopped before recording the outcome%"),
    ("PROVIDER_ERROR", "%"),  # every other failure came from sending
)


def _sqlite_edit_check(table: str, old: str, new: str) -> None:
    """Replace `CHECK (status IN (old))` by `CHECK (status IN (new))` in the table's
    stored definition, and bump the schema version so every connection re-reads it."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    before, after = f"status IN ({old})", f"status IN ({new})"
    if sql.count(before) != 1:
        raise RuntimeError(f"{table}: expected one {before!r} in its definition")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": sql.replace(before, after), "t": table},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _edit_checks(narrow: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, (name, old, new) in CHECKS.items():
        before, after = (new, old) if narrow else (old, new)
        if narrow:
            extra = set(before.split(", ")) - set(after.split(", "))
            used = op.get_bind().execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE status IN ({', '.join(extra)})")  # noqa: S608 (constants)
            )
            if used.scalar_one():
                raise RuntimeError(f"{table} has rows in {sorted(extra)}: cannot downgrade")
        if sqlite:
            _sqlite_edit_check(table, before, after)
        else:
            # One transaction, as every migration here: the table is locked (ACCESS
            # EXCLUSIVE) from the DROP to the commit, and the ADD scans its rows once.
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK (status IN ({after}))")


def upgrade() -> None:
    _edit_checks(narrow=False)
    op.add_column("campaigns", sa.Column("pause_reason", sa.Text(), nullable=True))
    op.add_column("campaigns", sa.Column("pause_window_after", ID, nullable=True))
    op.add_column("campaigns", sa.Column("segment", sa.JSON(), nullable=True))
    op.add_column("outbound_messages", sa.Column("error_code", sa.String(32), nullable=True))
    op.add_column(
        "outbound_messages",
        sa.Column("series_start", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "message_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('sent', 'retry', 'failed')", name=op.f("ck_message_attempts_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbound_messages.id"],
            name=op.f("fk_message_attempts_message_id_outbound_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attempts")),
    )
    op.create_index(
        "ix_message_attempts_message_id_attempt", "message_attempts", ["message_id", "attempt"]
    )
    op.create_index("ix_message_attempts_campaign_id_id", "message_attempts", ["campaign_id", "id"])
    op.create_table(
        "campaign_message_counts",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("campaign_id", "status", name=op.f("pk_campaign_message_counts")),
    )
    # Failures recorded before error codes existed, classified by the text the worker
    # wrote, so that retry-failed leaves the terminal ones alone.
    for code, pattern in BACKFILL:
        op.execute(
            sa.text(
                "UPDATE outbound_messages SET error_code = :code "
                "WHERE status = 'failed' AND error_code IS NULL AND last_error LIKE :pattern"
            ).bindparams(code=code, pattern=pattern)
        )
    op.execute(
        "INSERT INTO campaign_message_counts (campaign_id, status, n) "
        "SELECT campaign_id, status, count(*) FROM outbound_messages GROUP BY campaign_id, status"
    )
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ORDERED_CAMPAIGN_COUNTS)


def downgrade() -> None:
    # campaign_counts_track keeps its ordered upsert: it counts the same, and the order
    # only removes a deadlock.
    if op.get_bind().dialect.name == "postgresql":
        for table, name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for function in ("track", "forget", "reset"):
            op.execute(f"DROP FUNCTION campaign_message_counts_{function}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("campaign_message_counts")
    op.drop_index("ix_message_attempts_campaign_id_id", table_name="message_attempts")
    op.drop_index("ix_message_attempts_message_id_attempt", table_name="message_attempts")
    op.drop_table("message_attempts")
    # ALTER TABLE … DROP COLUMN on both (SQLite has it since 3.35): a batch-mode rebuild
    # would drop the table, and its implicit DELETE cascade to the children.
    op.drop_column("outbound_messages", "series_start")
    op.drop_column("outbound_messages", "error_code")
    op.drop_column("campaigns", "segment")
    op.drop_column("campaigns", "pause_window_after")
    op.drop_column("campaigns", "pause_reason")
    _edit_checks(narrow=True)
