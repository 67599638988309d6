"""attempts_without_key_check: a message's attempts go with it by trigger, not by foreign key

Every outcome write inserts one message_attempts row per message, from the rows that
same statement has just updated, so the key check could never fail; on PostgreSQL it
still ran once per row (a lookup and a KEY SHARE lock on the message just updated),
about 10 µs of the database's time per message. The ON DELETE CASCADE it carried is now
a trigger on outbound_messages: one DELETE per statement on PostgreSQL (from the
statement's transition table, as the counters' triggers do), one per row on SQLite; a
TRUNCATE of the messages empties the attempts too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_message_attempts_message_id_outbound_messages"

POSTGRES = [
    """
    CREATE FUNCTION message_attempts_forget() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            -- DELETE: a TRUNCATE naming both tables is still using message_attempts
            DELETE FROM message_attempts;
        ELSE
            DELETE FROM message_attempts AS a USING old_rows AS o WHERE a.message_id = o.id;
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER outbound_messages_attempts_delete AFTER DELETE ON outbound_messages "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION message_attempts_forget()",
    "CREATE TRIGGER outbound_messages_attempts_truncate AFTER TRUNCATE ON outbound_messages "
    "FOR EACH STATEMENT EXECUTE FUNCTION message_attempts_forget()",
]
SQLITE = [
    "CREATE TRIGGER outbound_messages_attempts_delete AFTER DELETE ON outbound_messages "
    "BEGIN DELETE FROM message_attempts WHERE message_id = OLD.id; END",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, "message_attempts", type_="foreignkey")
        for statement in POSTGRES:
            op.execute(statement)
    else:
        # SQLite drops a constraint by rebuilding the table; message_attempts has no
        # children, so the rebuild's DROP TABLE cascades to nothing.
        with op.batch_alter_table("message_attempts") as batch:
            batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        for statement in SQLITE:
            op.execute(statement)


def downgrade() -> None:
    # Attempts whose message is gone would fail the key: none can exist while the
    # triggers run, but a hand-edited database is checked, not trusted.
    op.execute(
        "DELETE FROM message_attempts WHERE NOT EXISTS ("
        "SELECT 1 FROM outbound_messages AS m WHERE m.id = message_attempts.message_id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbound_messages_attempts_truncate ON outbound_messages")
        op.execute("DROP TRIGGER outbound_messages_attempts_delete ON outbound_messages")
        op.execute("DROP FUNCTION message_attempts_forget()")
        op.create_foreign_key(
            FOREIGN_KEY,
            "message_attempts",
            "outbound_messages",
            ["message_id"],
            ["id"],
            ondelete="CASCADE",
        )
    else:
        op.execute("DROP TRIGGER outbound_messages_attempts_delete")
        with op.batch_alter_table("message_attempts") as batch:
            batch.create_foreign_key(
                FOREIGN_KEY, "outbound_messages", ["message_id"], ["id"], ondelete="CASCADE"
            )
