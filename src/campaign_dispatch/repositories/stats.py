"""Aggregates for GET /stats and the database gauges of GET /metrics."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign, OutboundMessage
from campaign_dispatch.statuses import FINAL, CampaignStatus, MessageStatus

M = OutboundMessage


@dataclass(frozen=True)
class DayTotals:
    campaigns_sent: int
    messages_sent: int
    messages_failed: int
    messages_pending: int


async def day_totals(session: AsyncSession, day: date) -> DayTotals:
    """What finished on `day` (UTC), by the time it reached its final status, and what waits.

    A campaign counts on the day it became `sent`: its updated_at, which nothing moves once
    it is final. Each count is a range scan of a (status, …) index.
    """
    start = datetime.combine(day, time())
    end = start + timedelta(days=1)
    finished = await session.execute(
        select(M.status, func.count())
        .where(M.status.in_(FINAL), M.updated_at >= start, M.updated_at < end)
        .group_by(M.status)
    )
    messages = {status: count for status, count in finished.all()}
    campaigns_sent = await session.scalar(
        select(func.count()).where(
            Campaign.status == CampaignStatus.SENT,
            Campaign.updated_at >= start,
            Campaign.updated_at < end,
        )
    )
    pending = await session.scalar(select(func.count()).where(M.status == MessageStatus.PENDING))
    return DayTotals(
        campaigns_sent=campaigns_sent or 0,
        messages_sent=messages.get(MessageStatus.SENT, 0),
        messages_failed=messages.get(MessageStatus.FAILED, 0),
        messages_pending=pending or 0,
    )


async def campaigns_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Campaign.status, func.count()).group_by(Campaign.status))
    return {status: count for status, count in rows.all()}
