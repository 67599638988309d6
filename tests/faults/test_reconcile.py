"""The reconciliation the fault tests end with can fail: each of its checks is shown a
database and a send log that break it (and a consistent pair that breaks none)."""

from pathlib import Path

import asyncpg

from tests.faults.reconcile import reconcile

# (status, retry_count, lease_expiries, provider outcomes in the send log)
GOOD = [
    ("sent", 0, 0, "D"),
    ("sent", 2, 0, "FFD"),
    ("failed", 3, 0, "FFFF"),
    ("sent", 1, 1, "DD"),  # delivered, its record lost (the lease expired), delivered again
    ("failed", 4, 1, "FFFFD"),  # the provider took it, the record was lost; then failures
]
BAD = [
    ("pending", 0, 0, ""),
    ("sent", 4, 0, "FFFFD"),
    ("failed", 1, 0, "FF"),
    ("sent", 0, 0, ""),
    ("sent", 1, 1, "DDD"),
    ("sent", 0, 0, "FD"),
    ("failed", 3, 0, "FFF"),
]


async def _campaign(
    connection: asyncpg.Connection, status: str, messages: list[tuple[str, int, int, str]]
) -> tuple[int, dict[int, str]]:
    campaign = await connection.fetchval(
        """INSERT INTO campaigns (name, channel, status, base_template, created_at, updated_at)
           VALUES ('r', 'sms', $1, 'Hi', now(), now()) RETURNING id""",
        status,
    )
    log = {}
    for customer, (state, retries, expiries, calls) in enumerate(messages, 1):
        message = await connection.fetchval(
            """INSERT INTO outbound_messages (campaign_id, customer_id, status, retry_count,
                   lease_expiries, available_at, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, now(), now(), now()) RETURNING id""",
            campaign,
            customer,
            state,
            retries,
            expiries,
        )
        log[message] = calls
    return campaign, log


def _write_log(directory: Path, logs: dict[int, str]) -> None:
    directory.mkdir(exist_ok=True)
    lines = [f"{mid} {outcome}\n" for mid, calls in logs.items() for outcome in calls]
    half = len(lines) // 2  # two processes' files
    (directory / "sends-1.log").write_text("".join(lines[:half]))
    (directory / "sends-2.log").write_text("".join(lines[half:]) + "999999 D\n")


async def test_each_reconciliation_check_can_fail(fault_database: str, tmp_path: Path) -> None:
    connection = await asyncpg.connect(fault_database)
    try:
        good, good_log = await _campaign(connection, "sent", GOOD)
        bad, bad_log = await _campaign(connection, "sending", BAD)
    finally:
        await connection.close()
    consistent, broken = tmp_path / "consistent", tmp_path / "broken"
    _write_log(consistent, good_log)
    (consistent / "sends-2.log").write_text(  # without the stray message id
        (consistent / "sends-2.log").read_text().replace("999999 D\n", "")
    )
    _write_log(broken, {**good_log, **bad_log})

    fine = await reconcile(fault_database, {good: len(GOOD)}, 3, send_log=consistent)
    assert fine.ok, fine.summary()
    assert (fine.sent, fine.failed, fine.second_deliveries, fine.failed_after_delivery) == (
        3,
        2,
        1,
        1,
    )

    connection = await asyncpg.connect(fault_database)
    try:  # the trigger-kept counters drift from the table
        await connection.execute(
            "UPDATE campaign_counts SET n = n + 1 WHERE channel = 'sms' AND status = 'sent'"
        )
    finally:
        await connection.close()
    result = await reconcile(
        fault_database, {good: len(GOOD), bad: len(BAD) + 1, 10**9: 1}, 3, send_log=broken
    )
    assert result.failed_checks == {
        "campaign missing",
        "campaign not finished as its messages say",
        "wrong number of messages",
        "counts do not add up",
        "campaign_counts disagree with campaigns",
        "message not final",
        "more attempts than MAX_RETRIES + 1 (+1 after a lease expiry)",
        "failed before its retries were used",
        "provider called for a message not in the database",
        "more provider calls than claimed attempts",
        "more provider calls than MAX_RETRIES + 1 + lease expiries",
        "recorded sent, never taken by the provider",
        "delivered again without a lost record (lease expiry)",
        "provider calls differ from the recorded attempts (sent)",
        "provider calls differ from the recorded attempts (failed)",
    }, result.summary()
    assert not result.ok
