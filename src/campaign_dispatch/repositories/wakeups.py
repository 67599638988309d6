"""When the background loops next have work: one cheap read each, so that with nothing
due they sleep until then (or until a wake) instead of polling.

Each read is a single SELECT of scalar subqueries, every one answered from a partial
index's first entry or by an EXISTS that stops at its first row (models/message.py and
models/campaign.py name the indexes). Times are read against the clock the work is
judged by: the database's on PostgreSQL (as the relay's due check and recovery's leases),
this process's on SQLite; the scheduler's due check is this process's clock on both.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import (
    Campaign,
    CampaignAudience,
    EarlyReceipt,
    OutboxRange,
    RelayBatch,
)
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.repositories.dbclock import pg_now
from campaign_dispatch.repositories.messages import PARKED_AT
from campaign_dispatch.statuses import UNFINISHED, CampaignStatus, MessageStatus

SCHEDULE_CHANNEL = "campaign_dispatch_schedule"
"""NOTIFYed in the transaction that schedules or reschedules a campaign (notify_schedule),
so that schedulers in other processes read the next due time at once."""

RECOVERY_CHANNEL = "campaign_dispatch_recovery"
"""NOTIFYed in the transaction that keeps an early receipt (notify_recovery). The send's
answer may have been recorded after the webhook looked and before it committed, and an
idle recovery read its plan in between: without the wake the receipt would wait for the
idle timer (RECOVERY_IDLE_SECONDS) instead of the next sweep."""


@dataclass(frozen=True)
class Plan:
    """`busy`: work is in flight, so the loop keeps its short interval. `next_in`: seconds
    until the earliest known due time (≤ 0: due now), None if nothing is waiting."""

    busy: bool
    next_in: float | None


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _seconds(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else (at - now).total_seconds()


async def _read(session: AsyncSession, now: datetime, *columns: Any) -> tuple[Any, ...]:
    """`columns` in one SELECT, and the time to judge them by: the database's `now()`
    on PostgreSQL (read in the same statement), `now` on SQLite."""
    if _postgres(session):
        *values, clock = (await session.execute(select(*columns, pg_now()))).one()
        return (*values, clock)
    return (*(await session.execute(select(*columns))).one(), now)


def _claimed() -> Any:
    """A worker holds a claim (ix_outbound_messages_leases)."""
    return select(M.id).where(M.status == MessageStatus.SENDING).exists()


def _published() -> Any:
    """A job is in the queue, not a paused campaign's parked row
    (ix_outbound_messages_published, read in `enqueued_at` order from its start)."""
    return (
        select(M.id)
        .where(
            M.status == MessageStatus.PENDING,
            M.enqueued_at.is_not(None),
            M.enqueued_at < PARKED_AT,
        )
        .exists()
    )


def _ranges() -> Any:
    """A send's range still to publish (repositories/outbox.py)."""
    return select(OutboxRange.id).exists()


def _next_unpublished() -> Any:
    """The earliest due time of a message still to publish (ix_outbound_messages_outbox):
    a retry's backoff, a message held for its send window, or one due now."""
    return (
        select(func.min(M.available_at))
        .where(M.status == MessageStatus.PENDING, M.enqueued_at.is_(None))
        .scalar_subquery()
    )


async def relay_plan(session: AsyncSession, now: datetime) -> Plan:
    """For the outbox relay: busy while a claim or a published job may still turn into a
    retry (the worker writes those without waking anyone); otherwise the earliest
    unpublished message's due time."""
    busy, next_at, ranges, clock = await _read(
        session, now, or_(_claimed(), _published()), _next_unpublished(), _ranges()
    )
    if ranges:  # a range to read (given back, say): due now
        return Plan(True, 0.0)
    return Plan(bool(busy), _seconds(next_at, clock))


async def recovery_plan(session: AsyncSession, now: datetime) -> Plan:
    """For the recovery sweep: busy while it may have something to repair soon — a claim
    (its lease may run out), a published job (the broker may lose it), a message due to
    be published (it will be claimed), a sending campaign with nothing left unfinished
    (to complete), an early receipt whose message has recorded the id (to apply).
    Otherwise the earliest of: an unpublished message's due time (it is then published
    and claimed), an unconfirmed relay batch's expiry, a live campaign's `expires_at`."""
    stuck = (
        select(Campaign.id)
        .where(
            Campaign.status == CampaignStatus.SENDING,
            ~exists().where(M.campaign_id == Campaign.id, M.status.in_(UNFINISHED)),
        )
        .exists()
    )
    early = (
        select(EarlyReceipt.id)
        .where(
            exists().where(
                M.provider == EarlyReceipt.provider,
                M.provider_message_id == EarlyReceipt.provider_message_id,
            )
        )
        .exists()
    )
    batch = select(func.min(RelayBatch.expires_at)).scalar_subquery()
    expiring = (
        select(func.min(Campaign.expires_at))
        .where(
            Campaign.expires_at.is_not(None),
            Campaign.status.in_((CampaignStatus.SENDING, CampaignStatus.PAUSED)),
        )
        .scalar_subquery()
    )
    busy, unpublished, batch_at, expires_at, reference = await _read(
        session,
        now,
        or_(_claimed(), _published(), stuck, early),
        _next_unpublished(),
        batch,
        expiring,
    )
    publish_in = _seconds(unpublished, reference)
    if publish_in is not None and publish_in <= 0:
        busy = True
    # A campaign's expiry is judged by this process's clock (compliance.expire).
    expiry_in = _seconds(expires_at, now)
    batch_in = _seconds(batch_at, reference)
    known = [t for t in (publish_in, batch_in, expiry_in) if t is not None]
    return Plan(bool(busy), min(known) if known else None)


async def next_scheduled(session: AsyncSession, now: datetime) -> float | None:
    """Seconds until the earliest scheduled campaign with an audience is due (≤ 0: one is
    due now, e.g. held by another scheduler), None if none is scheduled (ix_campaigns_due)."""
    has_audience = or_(
        exists().where(CampaignAudience.campaign_id == Campaign.id), Campaign.segment.is_not(None)
    )
    at = await session.scalar(
        select(Campaign.scheduled_at)
        .where(
            and_(
                Campaign.status == CampaignStatus.SCHEDULED,
                Campaign.scheduled_at.is_not(None),
                has_audience,
            )
        )
        .order_by(Campaign.scheduled_at)
        .limit(1)
    )
    return _seconds(at, now)


async def notify_recovery(session: AsyncSession) -> None:
    """Wake the recovery sweeps of every process, this one's included, once this
    transaction commits (PostgreSQL). SQLite needs no wake: with one writer at a time
    the worker cannot record the id between the webhook's look and its commit, so a
    receipt is kept early only while its message is still claimed, which keeps
    recovery sweeping."""
    await _notify(session, RECOVERY_CHANNEL)


async def notify_schedule(session: AsyncSession) -> None:
    """Wake schedulers in other processes once this transaction commits (PostgreSQL; on
    SQLite the only scheduler is this process's, woken in memory)."""
    await _notify(session, SCHEDULE_CHANNEL)


async def _notify(session: AsyncSession, channel: str) -> None:
    # PostgreSQL delivers a NOTIFY only if the transaction commits; SQLite has no LISTEN.
    if _postgres(session):
        await session.execute(select(func.pg_notify(channel, "")))
