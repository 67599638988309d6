"""Starting a campaign's send: the one transaction shared by the API and the scheduler."""

from collections.abc import Collection, Mapping

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import CampaignNotSendable, ValidationFailed
from campaign_dispatch.repositories import campaigns as campaigns_repo
from campaign_dispatch.repositories import messages as messages_repo
from campaign_dispatch.repositories.outbox import OutboxRepository
from campaign_dispatch.schemas.campaign import SendResponse
from campaign_dispatch.services.campaigns import lock_unsent
from campaign_dispatch.services.customers import require_existing
from campaign_dispatch.statuses import SENDABLE, CampaignStatus

log = structlog.get_logger(__name__)


async def send(
    session: AsyncSession,
    outbox: OutboxRepository,
    campaign_id: int,
    customer_ids: list[int] | None,
    segment: Mapping[str, str] | None = None,
) -> SendResponse:
    """draft|scheduled → sending, with one pending message per customer, all or nothing:
    the ids given, else the segment given, else the audience stored with the campaign.

    The campaign's row lock serialises sends: of two concurrent calls, the second waits
    and then finds it `sending` (409); UNIQUE (campaign_id, customer_id) backs this up.
    The status changes last, so the campaign counters (kept by triggers) stay locked for
    milliseconds, not for the whole insert. Publishing happens after commit.
    """
    campaign = await lock_unsent(
        session,
        campaign_id,
        lambda campaign: CampaignNotSendable(
            f"Campaign {campaign_id} is {campaign.status}; "
            "only draft or scheduled campaigns can be sent"
        ),
    )
    if campaign.expires_at is not None and campaign.expires_at <= utcnow():
        raise CampaignNotSendable(
            f"Campaign {campaign_id} expired at {campaign.expires_at.isoformat()}Z: "
            "nothing may be sent after its expires_at"
        )
    recipients = sorted(set(customer_ids)) if customer_ids is not None else None
    if recipients is None and segment is None:
        segment = campaign.segment
        if segment is None and not await campaigns_repo.audience_size(session, campaign_id):
            raise ValidationFailed(
                "customer_ids or segment is required: this campaign has no stored audience",
                details=[{"field": "customer_ids", "message": "Field required"}],
            )
    try:
        # The foreign key checks every customer id as the rows go in; only when it
        # fails do we look for which ids are missing, to name them.
        now = utcnow()
        stamp = outbox.birth_stamp(now)
        async with session.begin_nested():
            queued = await messages_repo.create_pending(
                session, campaign_id, recipients, now, segment, stamp
            )
    except IntegrityError:
        if recipients is not None:
            await require_existing(session, recipients, "customer_ids")
        raise
    if not queued.messages and queued.opted_out:  # nothing to send, nothing changes
        field = "customer_ids" if recipients is not None else "segment"
        raise ValidationFailed(
            f"every customer of the audience opted out ({queued.opted_out}): nothing to send",
            details=[{"field": field, "message": "every customer opted out"}],
        )
    if not queued.messages:  # a segment that matches nobody
        raise ValidationFailed(
            "the segment matches no customer",
            details=[{"field": "segment", "message": "matches no customer"}],
        )
    if not await campaigns_repo.transition(session, campaign_id, SENDABLE, CampaignStatus.SENDING):
        raise CampaignNotSendable(f"Campaign {campaign_id} changed state during the send")
    await outbox.cover(session, campaign_id, stamp)
    await outbox.notify(session)
    return SendResponse(
        campaign_id=campaign_id,
        messages_queued=queued.messages,
        status=CampaignStatus.SENDING,
        skipped_opted_out=queued.opted_out,
    )


async def next_due(session: AsyncSession, skip: Collection[int] = ()) -> int | None:
    """The next scheduled campaign to release, locked against other schedulers."""
    return await campaigns_repo.lock_next_due(session, utcnow(), skip)


async def release_scheduled(
    session: AsyncSession, outbox: OutboxRepository, campaign_id: int
) -> int | None:
    """Send a due scheduled campaign to its audience; None if someone else already did."""
    campaign = await campaigns_repo.lock(session, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
        return None
    now = utcnow()
    stamp = outbox.birth_stamp(now)
    queued = await messages_repo.create_pending(
        session, campaign_id, None, now, campaign.segment, stamp
    )
    if queued.opted_out:
        log.info("scheduled send left out opted-out customers", skipped=queued.opted_out)
    scheduled = (CampaignStatus.SCHEDULED,)
    if not await campaigns_repo.transition(session, campaign_id, scheduled, CampaignStatus.SENDING):
        raise CampaignNotSendable(f"Campaign {campaign_id} changed state during its release")
    await outbox.cover(session, campaign_id, stamp)
    await outbox.notify(session)
    return queued.messages
