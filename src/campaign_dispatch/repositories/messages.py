from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from campaign_dispatch.models import (
    CampaignAudience,
    CampaignMessageCount,
    Customer,
    MessageAttempt,
    OutboundMessage,
)
from campaign_dispatch.models.base import MAX_ID
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate
from campaign_dispatch.statuses import TERMINAL_FAILURES, UNFINISHED, FailureCode, MessageStatus

M = OutboundMessage


SEGMENT_FIELDS = ("location", "preferred_product")


def in_segment(filters: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """Customers whose given fields all match, ignoring case (the database's lower() on
    both sides, so the two agree on what a case is)."""
    unknown = set(filters) - set(SEGMENT_FIELDS)
    if unknown:
        raise ValueError(f"not a segment field: {sorted(unknown)}")
    return [func.lower(getattr(Customer, k)) == func.lower(v) for k, v in filters.items()]


@dataclass(frozen=True)
class Queued:
    messages: int  # pending messages inserted
    opted_out: int  # customers of the audience left out: they opted out


async def create_pending(
    session: AsyncSession,
    campaign_id: int,
    customer_ids: Sequence[int] | None,
    now: datetime,
    segment: Mapping[str, str] | None = None,
    enqueued_at: datetime | None = None,
) -> Queued:
    """Insert one pending message per customer (the given ids, else the customers of the
    segment, else the stored audience) who has not opted out, set-based: one INSERT …
    SELECT whatever the size, and (segment, stored audience) one count of those left out.
    Ids of no customer still go in, so that the foreign key names them: once the insert
    succeeded, every given id it left out is an opted-out customer's. `enqueued_at`: the
    outbox's birth stamp (OutboxRepository.birth_stamp)."""
    gone = aliased(Customer, name="opted_out")

    def not_opted_out(column: Any) -> ColumnElement[bool]:
        return ~exists().where(gone.id == column, gone.opted_out_at.is_not(None))

    left_out: Select[Any] | None = None
    if customer_ids is not None:
        customer_ids = sorted(set(customer_ids))
        ids = id_table(session, customer_ids)
        audience = select(ids.c.id).where(not_opted_out(ids.c.id))
    elif segment is not None:
        matching = in_segment(segment)
        audience = select(Customer.id).where(*matching, Customer.opted_out_at.is_(None))
        left_out = select(func.count()).where(*matching, Customer.opted_out_at.is_not(None))
    else:
        stored = CampaignAudience.campaign_id == campaign_id
        audience = select(CampaignAudience.customer_id).where(
            stored, not_opted_out(CampaignAudience.customer_id)
        )
        left_out = select(func.count()).where(
            Customer.id.in_(select(CampaignAudience.customer_id).where(stored)),
            Customer.opted_out_at.is_not(None),
        )
    customers = audience.subquery("recipients")
    rows = select(
        literal(campaign_id),
        customers.c[0],
        literal(MessageStatus.PENDING.value),
        literal(0),
        literal(now),
        literal(now),
        literal(now),
        literal(enqueued_at, type_=OutboundMessage.enqueued_at.type),
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
                "enqueued_at",
            ],
            rows,
        )
    )
    inserted = int(getattr(result, "rowcount", 0) or 0)
    if left_out is None:  # the given ids: each one not inserted opted out
        return Queued(inserted, len(customer_ids or ()) - inserted)
    return Queued(inserted, int(await session.scalar(left_out) or 0))


async def next_window_opening(session: AsyncSession, campaign_id: int) -> datetime | None:
    """When the first of the campaign's messages held for a send window goes out (the
    first entry of a partial index)."""
    return await session.scalar(
        select(func.min(M.window_opens_at)).where(
            M.campaign_id == campaign_id,
            M.status == MessageStatus.PENDING,
            M.window_opens_at.is_not(None),
        )
    )


async def list_page(
    session: AsyncSession, campaign_id: int, request: PageRequest, status: MessageStatus | None
) -> PageResult:
    in_campaign = OutboundMessage.campaign_id == campaign_id
    query = select(OutboundMessage).where(in_campaign)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    # Page 1's total from the counters the triggers keep, read in one statement with the
    # snapshot's max id (one MVCC snapshot): counting a million rows took ~70 ms.
    counted = CampaignMessageCount.status.in_([status] if status else list(MessageStatus))
    counts = select(
        func.sum(CampaignMessageCount.n),
        select(func.max(OutboundMessage.id)).where(in_campaign).scalar_subquery(),
    ).where(CampaignMessageCount.campaign_id == campaign_id, counted)
    return await paginate(
        session,
        query,
        OutboundMessage.id,
        request,
        {"campaign_id": campaign_id, "status": status},
        scope=in_campaign,
        current_total=counts,
    )


def _of(campaign_id: int, status: MessageStatus) -> ColumnElement[bool]:
    return and_(M.campaign_id == campaign_id, M.status == status)


PARKED_AT = datetime(9999, 12, 31)
"""The `enqueued_at` of a paused campaign's pending messages: not NULL, so the relay
passes them by; later than any real publish, so the lost-job recovery (published before
a cutoff) never reads them, and no relay batch's `taken_at` equals it."""


async def park_pending(session: AsyncSession, campaign_id: int) -> int:
    """Park a pausing campaign's pending messages, published or not: the relay and the
    lost-job recovery pass them by (their jobs still queued are acknowledged unsent), and
    resume unparks them (`republish_pending`)."""
    result = await session.execute(
        update(M).where(_of(campaign_id, MessageStatus.PENDING)).values(enqueued_at=PARKED_AT)
    )
    return _count(result)


async def republish_pending(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """Every pending message of a resumed campaign, for the relay to publish once more:
    its jobs that arrived while it was paused were acknowledged unsent. Those held back
    by the provider account's refusal go now (also those recorded after the pause, not
    parked); a retry keeps its backoff."""
    held = M.error_code == FailureCode.PROVIDER_ACCOUNT
    result = await session.execute(
        update(M)
        .where(_of(campaign_id, MessageStatus.PENDING), or_(M.enqueued_at.is_not(None), held))
        .values(
            enqueued_at=None,
            available_at=case((held, now), else_=M.available_at),
        )
    )
    return _count(result)


async def has_unfinished(session: AsyncSession, campaign_id: int) -> bool:
    """Whether a message of the campaign may still be attempted (pending or sending)."""
    found = await session.scalar(
        select(exists().where(M.campaign_id == campaign_id, M.status.in_(UNFINISHED)))
    )
    return bool(found)


async def cancel_pending(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """pending → cancelled: never attempted, or waiting for a retry; never sent now (the
    claim takes nothing of a cancelled campaign)."""
    result = await session.execute(
        update(M)
        .where(_of(campaign_id, MessageStatus.PENDING))
        .values(status=MessageStatus.CANCELLED, updated_at=now)
    )
    return _count(result)


async def reopen_failed(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """failed → pending for every failure that may pass (not in TERMINAL_FAILURES), as a
    new attempt series: the attempt number moves on (a job of the old series matches
    nothing), the series starts there with every retry again, and no lease expiry is
    carried over. last_error stays until the next outcome; the history keeps them all."""
    retryable = or_(M.error_code.is_(None), M.error_code.not_in(TERMINAL_FAILURES))
    result = await session.execute(
        update(M)
        .where(_of(campaign_id, MessageStatus.FAILED), retryable)
        .values(
            status=MessageStatus.PENDING,
            retry_count=M.retry_count + 1,
            series_start=M.retry_count + 1,
            lease_expiries=0,
            error_code=None,
            enqueued_at=None,
            available_at=now,
            updated_at=now,
        )
    )
    return _count(result)


async def get_in_campaign(
    session: AsyncSession, campaign_id: int, message_id: int
) -> OutboundMessage | None:
    if not 0 < message_id <= MAX_ID:
        return None
    message = await session.get(OutboundMessage, message_id)
    return message if message is not None and message.campaign_id == campaign_id else None


async def attempts(session: AsyncSession, message_id: int) -> list[MessageAttempt]:
    rows = await session.scalars(
        select(MessageAttempt)
        .where(MessageAttempt.message_id == message_id)
        .order_by(MessageAttempt.attempt, MessageAttempt.id)
    )
    return list(rows.all())


async def latest_attempt_id(session: AsyncSession, campaign_id: int) -> int | None:
    return await session.scalar(
        select(func.max(MessageAttempt.id)).where(MessageAttempt.campaign_id == campaign_id)
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
