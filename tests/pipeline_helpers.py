import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import and_, select

from campaign_dispatch.models import OutboundMessage, OutboxRange
from tests.harness import Process


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


async def messages(runtime: Process, campaign_id: int) -> list[OutboundMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign_id)
            .order_by(OutboundMessage.id)
        )
        return list(rows.all())


async def unpublished(runtime: Process, campaign_id: int) -> set[int]:
    """The campaign's messages still to publish: unmarked (`enqueued_at` NULL), or born
    stamped and still covered by an outbox range (PostgreSQL's sends)."""
    m = OutboundMessage
    covered = select(OutboxRange.id).where(
        and_(
            OutboxRange.campaign_id == m.campaign_id,
            m.id.between(OutboxRange.next_id, OutboxRange.last_id),
            m.enqueued_at == OutboxRange.stamp,
        )
    )
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(m.id).where(
                m.campaign_id == campaign_id,
                m.status == "pending",
                m.enqueued_at.is_(None) | covered.exists(),
            )
        )
        return set(rows.all())


async def take(runtime: Process, limit: int, hold_seconds: float) -> Any:
    """What a relay's look takes: marked messages due, else a piece of a range."""
    from datetime import timedelta

    from campaign_dispatch.clock import utcnow

    outbox = runtime.resources.repositories.outbox
    hold = timedelta(seconds=hold_seconds)
    async with runtime.resources.database.statement_sessions.begin() as session:
        batch = await outbox.take_due(session, utcnow(), limit, hold)
    if batch.batch_id is None:
        async with runtime.resources.database.statement_sessions.begin() as session:
            batch = await outbox.take_range(session, limit, hold)
    return batch


async def send_to_new_customers(
    client: Any, make_customer: Any, make_campaign: Any, count: int
) -> int:
    """Create `count` customers and a campaign, send it to them; the campaign's id."""
    customers = [await make_customer() for _ in range(count)]
    campaign = await make_campaign()
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [c["id"] for c in customers]}
    )
    assert response.status_code == 202, response.text
    return int(campaign["id"])
