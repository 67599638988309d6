"""Starting a campaign's send: the one transaction shared by the API and the scheduler."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import CampaignNotSendable, ValidationFailed
from campaign_dispatch.repositories import campaigns as campaigns_repo
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.schemas.campaign import SendResponse
from campaign_dispatch.services.campaigns import get as get_campaign
from campaign_dispatch.services.customers import require_existing

SENDABLE = ("draft", "scheduled")


async def send(
    session: AsyncSession, campaign_id: int, customer_ids: list[int] | None
) -> SendResponse:
    """draft|scheduled → sending, with one pending message per customer, all or nothing.

    The conditional status update is the lock: of two concurrent sends, one moves the
    campaign and the other finds it `sending` (409); UNIQUE (campaign_id, customer_id)
    backs this up. Publishing happens after commit, through the outbox relay.
    """
    campaign = await get_campaign(session, campaign_id)
    recipients = sorted(set(customer_ids)) if customer_ids is not None else None
    if recipients is None and not await campaigns_repo.audience_size(session, campaign_id):
        raise ValidationFailed(
            "customer_ids is required: this campaign has no stored audience",
            details=[{"field": "customer_ids", "message": "Field required"}],
        )
    if not await campaigns_repo.transition(session, campaign_id, SENDABLE, "sending"):
        await session.refresh(campaign)
        raise CampaignNotSendable(
            f"Campaign {campaign_id} is {campaign.status}; "
            "only draft or scheduled campaigns can be sent"
        )
    try:
        # The foreign key checks every customer id as the rows go in; only when it
        # fails do we look for which ids are missing, to name them.
        async with session.begin_nested():
            queued = await pipeline.create_messages(session, campaign_id, recipients, utcnow())
    except IntegrityError:
        if recipients is not None:
            await require_existing(session, recipients, "customer_ids")
        raise
    await pipeline.notify_outbox(session)
    return SendResponse(campaign_id=campaign_id, messages_queued=queued, status="sending")


async def release_scheduled(session: AsyncSession, campaign_id: int) -> int | None:
    """Send a due scheduled campaign to its audience; None if someone else already did."""
    if not await campaigns_repo.transition(session, campaign_id, ("scheduled",), "sending"):
        return None
    queued = await pipeline.create_messages(session, campaign_id, None, utcnow())
    await pipeline.notify_outbox(session)
    return queued
