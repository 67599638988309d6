"""The compliance stage's writes: claimed messages put back to wait for their
recipient's send window, claimed messages refused (opted out, expired), and what is left
of expired campaigns failed. Each is set-based: one statement per distinct opening time
or error, whatever the number of messages, and each acts only on the state it expects
(a claim still `sending`, a message still `pending`)."""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.statuses import UNFINISHED, CampaignStatus, FailureCode, MessageStatus

EXPIRED = "not sent: the campaign expired before it went out"


async def _update_claims(
    session: AsyncSession, groups: Mapping[Any, list[int]], values: Callable[[Any], dict[str, Any]]
) -> int:
    """One UPDATE per group of claims (`values(key)` for its columns), each only from
    `sending`: a claim that ran out and was taken back meanwhile is left alone."""
    changed = 0
    for key, ids in sorted(groups.items()):
        result = await session.execute(
            update(M).where(M.id.in_(ids), M.status == MessageStatus.SENDING).values(**values(key))
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def hold(session: AsyncSession, holds: Sequence[tuple[int, datetime]], now: datetime) -> int:
    """Claims (message id, when its window opens) back to `pending`, unpublished, due
    then: the relay publishes each when its window opens. Not an attempt: the attempt
    number stays, so the job published then claims it."""
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for message_id, until in holds:
        by_time[until].append(message_id)
    return await _update_claims(
        session,
        by_time,
        lambda until: {
            "status": MessageStatus.PENDING,
            "available_at": until,
            "window_opens_at": until,
            "enqueued_at": None,
            "lease_expires_at": None,
            "updated_at": now,
        },
    )


async def refuse(
    session: AsyncSession, refusals: Sequence[tuple[int, FailureCode, str]], now: datetime
) -> int:
    """Claims (message id, code, error) failed without an attempt: nothing was sent."""
    by_error: dict[tuple[FailureCode, str], list[int]] = defaultdict(list)
    for message_id, code, error in refusals:
        by_error[code, error].append(message_id)
    return await _update_claims(
        session,
        by_error,
        lambda key: {
            "status": MessageStatus.FAILED,
            "error_code": key[0],
            "last_error": key[1],
            "lease_expires_at": None,
            "window_opens_at": None,
            "updated_at": now,
        },
    )


_LIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED)


async def expire(session: AsyncSession, now: datetime) -> tuple[int, list[int]]:
    """Every pending message of a sending or paused campaign past its `expires_at` fails
    with EXPIRED, whether it waits for its job, a retry's backoff or its window; a paused
    one with nothing left in flight then completes as a sending one does. Returns the
    messages expired and the campaigns past their expiry (for the completion check)."""
    campaigns = await session.scalars(
        select(Campaign.id).where(
            Campaign.expires_at.is_not(None),
            Campaign.expires_at <= now,
            Campaign.status.in_(_LIVE),
        )
    )
    expired = sorted(campaigns.all())
    if not expired:
        return 0, []
    result = await session.execute(
        update(M)
        .where(M.campaign_id.in_(expired), M.status == MessageStatus.PENDING)
        .values(
            status=MessageStatus.FAILED,
            error_code=FailureCode.EXPIRED,
            last_error=EXPIRED,
            window_opens_at=None,
            updated_at=now,
        )
    )
    unfinished = exists().where(M.campaign_id == Campaign.id, M.status.in_(UNFINISHED))
    any_sent = exists().where(M.campaign_id == Campaign.id, M.status == MessageStatus.SENT)
    await session.execute(
        update(Campaign)
        .where(Campaign.id.in_(expired), Campaign.status == CampaignStatus.PAUSED, ~unfinished)
        .values(
            status=case((any_sent, CampaignStatus.SENT), else_=CampaignStatus.FAILED),
            pause_reason=None,
            updated_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0), expired
