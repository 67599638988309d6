"""Campaign control once a campaign is sent: pause, resume, cancel, retry the failed.

Each takes the campaign's row lock first (the one sends, edits and the scheduler take),
then changes its messages and, last, its status, in the one transaction. Every claim
holds the campaign's row in share mode while it runs (repositories/claims.py), so the
lock waits for the claims under way, and no claim after it takes a message of a campaign
that is not `sending`. The status changes last and once: the trigger-kept counters of
campaigns per (channel, status) are then locked for milliseconds, not for the rewrite of
a million messages, and no transaction holds one status's counter while waiting for
another's.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import (
    CampaignNotCancellable,
    CampaignNotPausable,
    CampaignNotResumable,
    CampaignNotRetryable,
    Conflict,
)
from campaign_dispatch.models import Campaign
from campaign_dispatch.repositories import campaigns as campaigns_repo
from campaign_dispatch.repositories import messages as messages_repo
from campaign_dispatch.repositories.outbox import OutboxRepository
from campaign_dispatch.schemas.campaign import CampaignDetail, RetryResponse
from campaign_dispatch.services.campaigns import detail, lock_in
from campaign_dispatch.statuses import CANCELLABLE, RETRYABLE, CampaignStatus, MessageStatus

OPERATOR_PAUSE = "paused by an operator"


async def _lock(
    session: AsyncSession,
    campaign_id: int,
    allowed: tuple[CampaignStatus, ...],
    refusal: type[Conflict],
    action: str,
) -> Campaign:
    def refuse(campaign: Campaign) -> Conflict:
        names = " or ".join(allowed)
        return refusal(f"campaign {campaign_id} is {campaign.status}: only {names} can be {action}")

    return await lock_in(session, campaign_id, allowed, refuse)


async def pause(session: AsyncSession, campaign_id: int, reason: str | None) -> CampaignDetail:
    """sending → paused. Attempts in flight finish and are recorded; its pending messages
    are parked, and its jobs still queued are acknowledged unsent."""
    campaign = await _lock(
        session, campaign_id, (CampaignStatus.SENDING,), CampaignNotPausable, "paused then"
    )
    await messages_repo.park_pending(session, campaign_id)
    campaign.status = CampaignStatus.PAUSED
    campaign.pause_reason = reason or OPERATOR_PAUSE
    await session.flush()
    return await detail(session, campaign_id)


async def resume(
    session: AsyncSession, outbox: OutboxRepository, campaign_id: int
) -> CampaignDetail:
    """paused → sending: each pending message is published once more (a job that arrived
    while paused was acknowledged unsent; a duplicate of one that did not claims
    nothing). The automatic pause judges only the attempts from here on. Paused as its
    last attempts finished, with nothing left to send, it ends at once instead: `sent`
    if a message was sent, else `failed`, as a campaign that finishes sending does."""
    campaign = await _lock(
        session, campaign_id, (CampaignStatus.PAUSED,), CampaignNotResumable, "resumed"
    )
    if await messages_repo.republish_pending(session, campaign_id, utcnow()) or (
        await messages_repo.has_unfinished(session, campaign_id)
    ):
        _reopen(campaign, await messages_repo.latest_attempt_id(session, campaign_id))
        await outbox.notify(session)
    else:
        sent = (await campaigns_repo.message_stats(session, campaign_id)).get(MessageStatus.SENT)
        campaign.status = CampaignStatus.SENT if sent else CampaignStatus.FAILED
        campaign.pause_reason = None
    await session.flush()
    return await detail(session, campaign_id)


async def cancel(session: AsyncSession, campaign_id: int) -> CampaignDetail:
    """draft | scheduled | sending | paused → cancelled. Every message not yet attempted
    (and every retry not yet due) is cancelled; attempts in flight keep their outcome."""
    campaign = await _lock(session, campaign_id, CANCELLABLE, CampaignNotCancellable, "stopped")
    await messages_repo.cancel_pending(session, campaign_id, utcnow())
    campaign.status = CampaignStatus.CANCELLED
    campaign.pause_reason = None
    await session.flush()
    return await detail(session, campaign_id)


async def retry_failed(
    session: AsyncSession, outbox: OutboxRepository, campaign_id: int
) -> RetryResponse:
    """sent | failed → sending, with every failure that may pass back to `pending` as a
    new attempt series. With none to retry the campaign stays as it is."""
    campaign = await _lock(session, campaign_id, RETRYABLE, CampaignNotRetryable, "retried")
    if campaign.expires_at is not None and campaign.expires_at <= utcnow():
        raise CampaignNotRetryable(
            f"campaign {campaign_id} expired at {campaign.expires_at.isoformat()}Z: "
            "nothing may be sent after its expires_at"
        )
    reopened = await messages_repo.reopen_failed(session, campaign_id, utcnow())
    if reopened:
        _reopen(campaign, await messages_repo.latest_attempt_id(session, campaign_id))
        await session.flush()
        await outbox.notify(session)
    return RetryResponse(
        campaign_id=campaign_id,
        messages_queued=reopened,
        status=CampaignStatus(campaign.status),
    )


def _reopen(campaign: Campaign, latest_attempt: int | None) -> None:
    campaign.status = CampaignStatus.SENDING
    campaign.pause_reason = None
    campaign.pause_window_after = latest_attempt
