import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from campaign_dispatch.models import OutboundMessage
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
