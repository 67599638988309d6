"""The embedded mode's per-batch statements find their rows by primary key.

SQLite plans a row-value `(id, retry_count) IN (…)` on its own as a scan of the whole
table: a claim of 200 jobs read every message ever sent. Each statement here is run
for real, captured as executed, and its plan asked for with the same parameters.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from campaign_dispatch.clock import utcnow
from campaign_dispatch.config import Settings
from campaign_dispatch.db.migrate import upgrade
from campaign_dispatch.models import Campaign, Customer, OutboundMessage
from campaign_dispatch.repositories.claims import ClaimRepository
from campaign_dispatch.repositories.outbox import DueMessage, OutboxRepository, TakenBatch
from tests.harness import Process


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    upgrade(url)
    return url


@pytest.fixture
async def runtime(sqlite_url):
    """SQLite only (the plans are SQLite's), with 30 pending messages of a sending campaign."""
    url = sqlite_url
    process = Process.create(Settings(database_url=url, amqp_url=None, _env_file=None))
    now = utcnow()
    async with process.sessions.begin() as session:
        await session.execute(
            insert(Customer),
            [
                {"id": n, "phone": f"+2547000000{n:02d}", "created_at": now, "updated_at": now}
                for n in range(1, 31)
            ],
        )
        campaign = Campaign(name="c", channel="sms", status="sending", base_template="Hi")
        session.add(campaign)
        await session.flush()
        await session.execute(
            insert(OutboundMessage),
            [
                {
                    "campaign_id": campaign.id,
                    "customer_id": n,
                    "status": "pending",
                    "retry_count": 0,
                    "available_at": now,
                }
                for n in range(1, 31)
            ],
        )
    try:
        yield process
    finally:
        await process.close()


@contextmanager
def captured(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOUND_MESSAGES"):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def plans(runtime: Any, statements: list[tuple[str, Any]]) -> list[str]:
    details = []
    async with runtime.engine.connect() as connection:
        for statement, parameters in statements:
            raw = await connection.get_raw_connection()
            cursor = await raw.driver_connection.execute(
                f"EXPLAIN QUERY PLAN {statement}", parameters
            )
            details += [row[3] for row in await cursor.fetchall()]
    return details


async def test_claims_and_publish_marks_search_the_primary_key(runtime):
    keys = [DueMessage(message_id, 0) for message_id in (3, 5, 7)]
    with captured(runtime.engine) as statements:
        async with runtime.sessions.begin() as session:
            outbox = OutboxRepository()
            await outbox.mark_enqueued(session, keys, utcnow())
            await outbox.give_back(session, TakenBatch(None, keys))
            claims = await ClaimRepository().claim(session, keys, utcnow(), timedelta(seconds=60))
    assert len(claims) == 3
    assert len(statements) == 3
    details = await plans(runtime, statements)
    assert not [d for d in details if d.startswith("SCAN outbound_messages")], details
    assert sum("outbound_messages USING INTEGER PRIMARY KEY" in d for d in details) == 3


async def test_the_plan_check_sees_a_scan(runtime):
    """The check above can fail: the row-value IN alone is planned as a scan."""
    statement = (
        "UPDATE outbound_messages SET enqueued_at = NULL "
        "WHERE (id, retry_count) IN (VALUES (?, ?), (?, ?), (?, ?)) AND status = 'pending'"
    )
    details = await plans(runtime, [(statement, (1, 0, 2, 0, 3, 0))])
    assert any(d.startswith("SCAN outbound_messages") for d in details), details
    async with runtime.engine.connect() as connection:  # and the statement itself is valid
        await connection.execute(text(statement.replace("?, ?", "1, 0")))
        await connection.rollback()
