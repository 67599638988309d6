from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import CampaignNotFound
from campaign_dispatch.models import Campaign
from campaign_dispatch.repositories import campaigns as repo
from campaign_dispatch.repositories import messages as messages_repo
from campaign_dispatch.repositories.claims import CampaignTemplate
from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.schemas.campaign import (
    CampaignCreate,
    CampaignDetail,
    CampaignStats,
    CampaignSummary,
    MessageRead,
)
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.services.customers import require_existing
from campaign_dispatch.services.paging import paged
from campaign_dispatch.services.templates import check_template
from campaign_dispatch.statuses import CampaignStatus, Channel, MessageStatus


async def _get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await repo.get(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


async def template(session: AsyncSession, campaign_id: int) -> CampaignTemplate:
    """The campaign's template and channel (404 for an unknown campaign)."""
    campaign = await _get(session, campaign_id)
    return CampaignTemplate(campaign.base_template, Channel(campaign.channel))


async def create(session: AsyncSession, data: CampaignCreate) -> CampaignDetail:
    """A campaign starts as `draft`, or `scheduled` when `scheduled_at` lies in the future."""
    check_template(data.base_template, "base_template")
    scheduled_at = data.scheduled_at
    audience = sorted(set(data.customer_ids or []))
    if audience:
        await require_existing(session, audience, "customer_ids")
    in_future = scheduled_at is not None and scheduled_at > utcnow()
    campaign = await repo.add(
        session,
        {
            "name": data.name,
            "channel": data.channel,
            "base_template": data.base_template,
            "scheduled_at": scheduled_at,
            "status": CampaignStatus.SCHEDULED if in_future else CampaignStatus.DRAFT,
        },
    )
    if audience:
        await repo.set_audience(session, campaign.id, audience)
    return await detail(session, campaign.id)


async def detail(session: AsyncSession, campaign_id: int) -> CampaignDetail:
    campaign = await _get(session, campaign_id)
    counts = await repo.message_stats(session, campaign_id)
    stats = CampaignStats(total=sum(counts.values()), **counts)
    return CampaignDetail.model_validate(
        {
            **{
                k: getattr(campaign, k) for k in CampaignDetail.model_fields if hasattr(campaign, k)
            },
            "audience_size": await repo.audience_size(session, campaign_id),
            "stats": stats,
        }
    )


async def list_page(
    session: AsyncSession,
    request: PageRequest,
    channel: Channel | None,
    status: CampaignStatus | None,
) -> Page[CampaignSummary]:
    fetch = repo.list_page(session, request, channel, status)
    return await paged(fetch, CampaignSummary.model_validate)


async def messages_page(
    session: AsyncSession, campaign_id: int, request: PageRequest, status: MessageStatus | None
) -> Page[MessageRead]:
    await _get(session, campaign_id)  # 404 for an unknown campaign, not an empty page
    fetch = messages_repo.list_page(session, campaign_id, request, status)
    return await paged(fetch, MessageRead.model_validate)
