import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from campaign_dispatch.models import OutboundMessage
from campaign_dispatch.runtime import Runtime


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


async def messages(runtime: Runtime, campaign_id: int) -> list[OutboundMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign_id)
            .order_by(OutboundMessage.id)
        )
        return list(rows.all())
