"""All SQL of the send pipeline: creating messages, the outbox, claims, outcomes, recovery.

Every state change is a conditional UPDATE on the expected current state, so two
workers, two relays or a redelivered job can never both win.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign, CampaignAudience, Customer, OutboundMessage
from campaign_dispatch.queue.base import Job
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.templating import CUSTOMER_FIELDS

M = OutboundMessage


async def create_messages(
    session: AsyncSession, campaign_id: int, customer_ids: Sequence[int] | None, now: datetime
) -> int:
    """Insert one pending message per customer (the given ids, else the audience)."""
    if customer_ids is not None:
        ids = id_table(session, customer_ids)
        source = select(ids.c.id)
    else:
        source = select(CampaignAudience.customer_id).where(
            CampaignAudience.campaign_id == campaign_id
        )
    customers = source.subquery("recipients")
    rows = select(
        literal(campaign_id),
        customers.c[0],
        literal("pending"),
        literal(0),
        literal(now),
        literal(now),
        literal(now),
    )
    result = await session.execute(
        insert(M).from_select(
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


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- the outbox relay -------------------------------------------------------------

OUTBOX_CHANNEL = "campaign_dispatch_outbox"


async def notify_outbox(session: AsyncSession) -> None:
    """Wake the relays in other processes; PostgreSQL delivers it only if this commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))


async def take_due(session: AsyncSession, now: datetime, limit: int) -> list[Job]:
    """Due, unpublished messages, locked against other relays until this transaction ends."""
    rows = await session.execute(
        select(M.id, M.retry_count)
        .where(M.status == "pending", M.enqueued_at.is_(None), M.available_at <= now)
        .order_by(M.available_at, M.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Job(message_id, attempt) for message_id, attempt in rows.all()]


async def mark_enqueued(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    if _is_postgresql(session):
        # One array parameter instead of one bind per id (the relay marks thousands).
        ids_param = bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger))
        id_matches = M.id == any_(ids_param)
    else:
        id_matches = M.id.in_(ids)
    await session.execute(
        update(M).where(id_matches, M.enqueued_at.is_(None)).values(enqueued_at=now)
    )


# --- the worker ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    message_id: int
    campaign_id: int
    customer_id: int
    retry_count: int


async def claim(
    session: AsyncSession, jobs: Sequence[Job], now: datetime, lease: timedelta
) -> list[Claimed]:
    """pending → sending for the jobs that still match their message's current attempt."""
    if not jobs:
        return []
    keys = [(job.message_id, job.attempt) for job in jobs]
    result = await session.execute(
        update(M)
        .where(tuple_(M.id, M.retry_count).in_(keys), M.status == "pending")
        .values(status="sending", lease_expires_at=now + lease, updated_at=now)
        .returning(M.id, M.campaign_id, M.customer_id, M.retry_count)
    )
    return [Claimed(*row) for row in result.all()]


_CUSTOMER_COLUMNS = ", ".join(f"c.{name}" for name in CUSTOMER_FIELDS)

# One round trip on PostgreSQL: the same conditional claim as `claim` (a job claims its
# message only at the job's attempt and only from `pending`), keys passed as two arrays
# (one cached statement whatever the batch size), the customers' values joined in.
_PG_CLAIM = text(
    f"""
    WITH keys AS (
        SELECT * FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[])) AS k(id, attempt)
    ), claimed AS (
        UPDATE outbound_messages AS m
        SET status = 'sending', lease_expires_at = :lease_until, updated_at = :now
        FROM keys
        WHERE m.id = keys.id AND m.retry_count = keys.attempt AND m.status = 'pending'
        RETURNING m.id, m.campaign_id, m.customer_id, m.retry_count
    )
    SELECT claimed.id, claimed.campaign_id, claimed.customer_id, claimed.retry_count,
           c.id IS NOT NULL, {_CUSTOMER_COLUMNS}
    FROM claimed LEFT JOIN customers AS c ON c.id = claimed.customer_id
    """  # noqa: S608 (the only interpolation is the constant column list)
)


async def claim_with_customers(
    session: AsyncSession, jobs: Sequence[Job], now: datetime, lease: timedelta
) -> tuple[list[Claimed], dict[int, dict[str, object | None]]]:
    """`claim`, plus the claimed messages' customer values (one statement on PostgreSQL)."""
    if not jobs:
        return [], {}
    if not _is_postgresql(session):
        claimed = await claim(session, jobs, now, lease)
        if not claimed:
            return [], {}
        return claimed, await customer_values(session, [c.customer_id for c in claimed])
    rows = await session.execute(
        _PG_CLAIM,
        {
            "ids": [job.message_id for job in jobs],
            "attempts": [job.attempt for job in jobs],
            "lease_until": now + lease,
            "now": now,
        },
    )
    claims: list[Claimed] = []
    customers: dict[int, dict[str, object | None]] = {}
    for row in rows.all():
        claims.append(Claimed(row[0], row[1], row[2], row[3]))
        if row[4]:
            customers[row[2]] = dict(zip(CUSTOMER_FIELDS, row[5:], strict=True))
    return claims, customers


async def customer_values(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, dict[str, object | None]]:
    columns = [getattr(Customer, name) for name in CUSTOMER_FIELDS]
    rows = await session.execute(select(Customer.id, *columns).where(Customer.id.in_(customer_ids)))
    return {row[0]: dict(zip(CUSTOMER_FIELDS, row[1:], strict=True)) for row in rows.all()}


async def campaign_templates(
    session: AsyncSession, campaign_ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    rows = await session.execute(
        select(Campaign.id, Campaign.base_template, Campaign.channel).where(
            Campaign.id.in_(campaign_ids)
        )
    )
    return {cid: (template, channel) for cid, template, channel in rows.all()}


@dataclass(frozen=True)
class Outcome:
    """The result of the attempt a worker claimed (`attempt` = retry_count at its claim)."""

    message_id: int
    attempt: int
    rendered: str | None
    error: str | None = None
    retry_at: datetime | None = None  # set for a failure that will be retried


async def record_outcomes(
    session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """sending → sent | pending (retry later) | failed, each only from `sending` at the
    claimed attempt: a worker whose lease expired and whose message was claimed again
    cannot overwrite the newer attempt's outcome."""
    if not outcomes:
        return
    if _is_postgresql(session):
        await _record_outcomes_pg(session, outcomes, now)
        return
    table = cast(Table, M.__table__)
    claimed = and_(
        table.c.id == bindparam("b_id"),
        table.c.status == "sending",
        table.c.retry_count == bindparam("b_attempt"),
    )
    common: dict[str, Any] = {
        "lease_expires_at": None,
        "updated_at": now,
        "rendered_content": bindparam("b_text"),
    }
    sent = [o for o in outcomes if o.error is None]
    retried = [o for o in outcomes if o.error is not None and o.retry_at is not None]
    failed = [o for o in outcomes if o.error is not None and o.retry_at is None]
    if sent:
        await session.execute(
            update(table).where(claimed).values(status="sent", **common),
            [{"b_id": o.message_id, "b_attempt": o.attempt, "b_text": o.rendered} for o in sent],
        )
    if retried:
        await session.execute(
            update(table)
            .where(claimed)
            .values(
                status="pending",
                retry_count=table.c.retry_count + 1,
                last_error=bindparam("b_error"),
                available_at=bindparam("b_at"),
                enqueued_at=None,
                **common,
            ),
            [
                {
                    "b_id": o.message_id,
                    "b_attempt": o.attempt,
                    "b_text": o.rendered,
                    "b_error": o.error,
                    "b_at": o.retry_at,
                }
                for o in retried
            ],
        )
    if failed:
        await session.execute(
            update(table)
            .where(claimed)
            .values(status="failed", last_error=bindparam("b_error"), **common),
            [
                {
                    "b_id": o.message_id,
                    "b_attempt": o.attempt,
                    "b_text": o.rendered,
                    "b_error": o.error,
                }
                for o in failed
            ],
        )


# All outcomes of a batch in one statement on PostgreSQL, with the same transitions as the
# per-kind statements below: sent keeps last_error; a retry goes back to pending with
# retry_count + 1, the error, its due time and no enqueued_at; failed stores the error.
_PG_RECORD = text(
    """
    UPDATE outbound_messages AS m
    SET status = v.status,
        rendered_content = v.rendered,
        last_error = CASE WHEN v.status = 'sent' THEN m.last_error ELSE v.error END,
        retry_count = m.retry_count + CASE WHEN v.status = 'pending' THEN 1 ELSE 0 END,
        available_at = CASE WHEN v.status = 'pending' THEN v.retry_at ELSE m.available_at END,
        enqueued_at = CASE WHEN v.status = 'pending' THEN NULL ELSE m.enqueued_at END,
        lease_expires_at = NULL,
        updated_at = :now
    FROM unnest(
        CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:statuses AS VARCHAR[]),
        CAST(:rendered AS TEXT[]), CAST(:errors AS TEXT[]), CAST(:retry_ats AS TIMESTAMP[])
    ) AS v(id, attempt, status, rendered, error, retry_at)
    WHERE m.id = v.id AND m.status = 'sending' AND m.retry_count = v.attempt
    """
)


def _outcome_status(outcome: Outcome) -> str:
    if outcome.error is None:
        return "sent"
    return "pending" if outcome.retry_at is not None else "failed"


async def _record_outcomes_pg(
    session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
) -> None:
    await session.execute(
        _PG_RECORD,
        {
            "ids": [o.message_id for o in outcomes],
            "attempts": [o.attempt for o in outcomes],
            "statuses": [_outcome_status(o) for o in outcomes],
            "rendered": [o.rendered for o in outcomes],
            "errors": [o.error for o in outcomes],
            "retry_ats": [o.retry_at for o in outcomes],
            "now": now,
        },
    )


# --- campaign completion and recovery ---------------------------------------------------


async def complete_campaigns(
    session: AsyncSession, campaign_ids: Sequence[int] | None, now: datetime
) -> list[int]:
    """sending → sent (≥ 1 message sent) | failed (all failed), once nothing is in flight."""
    unfinished = exists().where(M.campaign_id == Campaign.id, M.status.in_(("pending", "sending")))
    any_sent = exists().where(M.campaign_id == Campaign.id, M.status == "sent")
    statement = (
        update(Campaign)
        .where(Campaign.status == "sending", ~unfinished)
        .values(status=case((any_sent, "sent"), else_="failed"), updated_at=now)
        .returning(Campaign.id)
    )
    if campaign_ids is not None:
        if not campaign_ids:
            return []
        statement = statement.where(Campaign.id.in_(campaign_ids))
    return list((await session.scalars(statement)).all())


async def expire_leases(
    session: AsyncSession, now: datetime, max_retries: int, expired_before: datetime | None = None
) -> list[tuple[int, int, str]]:
    """Claims whose worker vanished count as a failed attempt: retried, or failed at the limit.

    `expired_before` defaults to `now`; the embedded mode passes a later time at start,
    since no claim can outlive the process that made it.
    """
    exhausted = M.retry_count >= max_retries
    result = await session.execute(
        update(M)
        .where(M.status == "sending", M.lease_expires_at < (expired_before or now))
        .values(
            status=case((exhausted, "failed"), else_="pending"),
            retry_count=case((exhausted, M.retry_count), else_=M.retry_count + 1),
            last_error="worker stopped before recording the outcome (lease expired)",
            enqueued_at=None,
            available_at=now,
            lease_expires_at=None,
            updated_at=now,
        )
        .returning(M.id, M.campaign_id, M.status)
    )
    return [(mid, cid, status) for mid, cid, status in result.all()]


async def requeue_lost(session: AsyncSession, published_before: datetime) -> int:
    """Pending jobs published long ago and never consumed: publish them again."""
    result = await session.execute(
        update(M)
        .where(M.status == "pending", M.enqueued_at < published_before)
        .values(enqueued_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_enqueued(session: AsyncSession) -> int:
    """Embedded mode start: the in-process queue is empty, so every pending job is unpublished."""
    result = await session.execute(
        update(M).where(M.status == "pending", M.enqueued_at.is_not(None)).values(enqueued_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def outbox_backlog(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).where(M.status == "pending", M.enqueued_at.is_(None))
    )
    return count or 0
