from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import (
    Campaign,
    CampaignAudience,
    CampaignCount,
    CampaignMessageCount,
    OutboundMessage,
)
from campaign_dispatch.models.base import MAX_ID
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate
from campaign_dispatch.statuses import CampaignStatus, Channel


async def get(session: AsyncSession, campaign_id: int) -> Campaign | None:
    if not 0 < campaign_id <= MAX_ID:
        return None
    return await session.get(Campaign, campaign_id)


async def lock(session: AsyncSession, campaign_id: int) -> Campaign | None:
    """The campaign, locked until the transaction ends (a no-op on SQLite, which has one writer)."""
    if not 0 < campaign_id <= MAX_ID:
        return None
    statement = (
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one_or_none()


async def add(session: AsyncSession, values: dict[str, Any]) -> Campaign:
    campaign = Campaign(**values)
    session.add(campaign)
    await session.flush()
    return campaign


async def list_page(
    session: AsyncSession,
    request: PageRequest,
    channel: Channel | None,
    status: CampaignStatus | None,
) -> PageResult:
    query = select(Campaign)
    if channel is not None:
        query = query.where(Campaign.channel == channel)
    if status is not None:
        query = query.where(Campaign.status == status)
    counts = select(func.sum(CampaignCount.n), select(func.max(Campaign.id)).scalar_subquery())
    if channel is not None:
        counts = counts.where(CampaignCount.channel == channel)
    if status is not None:
        counts = counts.where(CampaignCount.status == status)
    return await paginate(
        session,
        query,
        Campaign.id,
        request,
        {"channel": channel, "status": status},
        current_total=counts,
    )


async def message_stats(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """Messages per status, from the counters the triggers keep (no rows are counted)."""
    rows = await session.execute(
        select(CampaignMessageCount.status, CampaignMessageCount.n).where(
            CampaignMessageCount.campaign_id == campaign_id
        )
    )
    return {status: n for status, n in rows.all() if n}


async def set_audience(
    session: AsyncSession, campaign_id: int, customer_ids: Sequence[int]
) -> None:
    ids = id_table(session, customer_ids)
    await session.execute(
        insert(CampaignAudience).from_select(
            ["campaign_id", "customer_id"], select(literal(campaign_id), ids.c.id)
        )
    )


async def clear_audience(session: AsyncSession, campaign_id: int) -> None:
    await session.execute(
        delete(CampaignAudience).where(CampaignAudience.campaign_id == campaign_id)
    )


async def has_messages(session: AsyncSession, campaign_id: int) -> bool:
    found = await session.scalar(select(exists().where(OutboundMessage.campaign_id == campaign_id)))
    return bool(found)


async def remove(session: AsyncSession, campaign: Campaign) -> None:
    await clear_audience(session, campaign.id)
    await session.delete(campaign)
    await session.flush()


async def audience_size(session: AsyncSession, campaign_id: int) -> int:
    count = await session.scalar(
        select(func.count()).where(CampaignAudience.campaign_id == campaign_id)
    )
    return count or 0


async def transition(
    session: AsyncSession,
    campaign_id: int,
    from_statuses: Sequence[CampaignStatus],
    to_status: CampaignStatus,
) -> bool:
    """Move a campaign between states atomically; False when it was not in `from_statuses`."""
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(from_statuses))
        .values(status=to_status, updated_at=utcnow())
        .returning(Campaign.id)
    )
    return result.scalar_one_or_none() is not None


async def lock_next_due(
    session: AsyncSession, now: datetime, skip: Collection[int] = ()
) -> int | None:
    """The most overdue scheduled campaign with an audience (ids or a segment), not in
    `skip`, locked; other
    schedulers skip the locked row (SKIP LOCKED) and take the next one."""
    has_audience = or_(
        exists().where(CampaignAudience.campaign_id == Campaign.id), Campaign.segment.is_not(None)
    )
    query = (
        select(Campaign.id)
        .where(
            Campaign.status == CampaignStatus.SCHEDULED,
            Campaign.scheduled_at <= now,
            has_audience,
        )
        .order_by(Campaign.scheduled_at, Campaign.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(Campaign.id.not_in(skip))
    return await session.scalar(query)
