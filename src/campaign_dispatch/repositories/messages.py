from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import OutboundMessage
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate


async def list_page(
    session: AsyncSession, campaign_id: int, request: PageRequest, status: str | None
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
