from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import CampaignAudience, OutboundMessage
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate
from campaign_dispatch.statuses import MessageStatus


async def create_pending(
    session: AsyncSession, campaign_id: int, customer_ids: Sequence[int] | None, now: datetime
) -> int:
    """Insert one pending message per customer (the given ids, else the audience), set-based."""
    if customer_ids is not None:
        source = select(id_table(session, customer_ids).c.id)
    else:
        source = select(CampaignAudience.customer_id).where(
            CampaignAudience.campaign_id == campaign_id
        )
    customers = source.subquery("recipients")
    rows = select(
        literal(campaign_id),
        customers.c[0],
        literal(MessageStatus.PENDING.value),
        literal(0),
        literal(now),
        literal(now),
        literal(now),
    )
    result = await session.execute(
        insert(OutboundMessage).from_select(
            [
                "campaign_id",
                "customer_id",
                "status",
                "retry_count",
                "available_at",
                "created_at",
                "updated_at",
            ],
            rows,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_page(
    session: AsyncSession, campaign_id: int, request: PageRequest, status: MessageStatus | None
) -> PageResult:
    in_campaign = OutboundMessage.campaign_id == campaign_id
    query = select(OutboundMessage).where(in_campaign)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    return await paginate(
        session,
        query,
        OutboundMessage.id,
        request,
        {"campaign_id": campaign_id, "status": status},
        scope=in_campaign,
    )
