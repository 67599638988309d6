"""Migration 0006 on a database that already holds campaigns and messages (SQLite, whose
CHECK constraints it widens by editing the stored definitions)."""

import sqlite3

from campaign_dispatch.db.migrate import upgrade

ROWS = (
    (1, "sent", None),
    (2, "failed", "template error: unknown placeholder {nme}"),
    (3, "failed", "mock provider: 503 service unavailable"),
    (4, "failed", "worker stopped before recording the outcome (lease expired)"),
    (5, "pending", None),
)


def test_existing_rows_are_counted_and_their_failures_classified(tmp_path):
    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0005")
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO customers (id, phone, created_at, updated_at) "
            "VALUES (?, ?, datetime(), datetime())",
            [(n, f"+2547000000{n:02d}") for n, _, _ in ROWS],
        )
        db.execute(
            "INSERT INTO campaigns (id, name, channel, status, base_template, created_at, "
            "updated_at) VALUES (1, 'old', 'sms', 'sending', 'Hi', datetime(), datetime())"
        )
        db.executemany(
            "INSERT INTO outbound_messages (campaign_id, customer_id, status, retry_count, "
            "last_error, available_at, created_at, updated_at) "
            "VALUES (1, ?, ?, 0, ?, datetime(), datetime(), datetime())",
            ROWS,
        )
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        codes = dict(db.execute("SELECT customer_id, error_code FROM outbound_messages"))
        counts = set(db.execute("SELECT campaign_id, status, n FROM campaign_message_counts"))
        db.execute("UPDATE campaigns SET status = 'paused'")  # the widened CHECKs take them
        db.execute("UPDATE outbound_messages SET status = 'cancelled' WHERE customer_id = 5")
        after = set(db.execute("SELECT campaign_id, status, n FROM campaign_message_counts"))
        integrity = db.execute("PRAGMA integrity_check").fetchone()
    assert codes == {
        1: None,
        2: "TEMPLATE_ERROR",
        3: "PROVIDER_ERROR",
        4: "LEASE_EXPIRED",
        5: None,
    }
    assert counts == {(1, "sent", 1), (1, "failed", 3), (1, "pending", 1)}
    assert after == {(1, "sent", 1), (1, "failed", 3), (1, "pending", 0), (1, "cancelled", 1)}
    assert integrity == ("ok",)
