"""The outcome stage: what a claimed attempt came to, and campaigns that are done.

Each outcome is written only from `sending` at the claimed attempt: a worker whose lease
expired, and whose message was claimed again, cannot overwrite the newer attempt's outcome.
A retry's due time is `retry_in` seconds from now by the database's clock on PostgreSQL
(by this process's on SQLite, where every process shares one machine's clock), so the
relays that publish it agree on when it is due whatever the workers' clocks say.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, exists, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.statuses import UNFINISHED, CampaignStatus, MessageStatus


@dataclass(frozen=True)
class Outcome:
    """The claimed attempt's result: `sent`, `pending` again (retry in `retry_in` seconds)
    or `failed`."""

    message_id: int
    attempt: int  # the retry_count the claim was made at
    status: MessageStatus
    rendered: str | None
    error: str | None = None
    retry_in: float | None = None


class OutcomeRepository:
    """The portable SQL (SQLite: one executemany per kind of outcome)."""

    async def record(
        self, session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        table = cast(Table, M.__table__)
        claimed = and_(
            table.c.id == bindparam("b_id"),
            table.c.status == MessageStatus.SENDING,
            table.c.retry_count == bindparam("b_attempt"),
        )
        common: dict[str, Any] = {
            "lease_expires_at": None,
            "updated_at": now,
            "rendered_content": bindparam("b_text"),
        }
        kinds: dict[MessageStatus, dict[str, Any]] = {
            MessageStatus.SENT: {"status": MessageStatus.SENT},
            MessageStatus.PENDING: {
                "status": MessageStatus.PENDING,
                "retry_count": table.c.retry_count + 1,
                "last_error": bindparam("b_error"),
                "available_at": bindparam("b_at"),
                "enqueued_at": None,
            },
            MessageStatus.FAILED: {
                "status": MessageStatus.FAILED,
                "last_error": bindparam("b_error"),
            },
        }
        for status, values in kinds.items():
            rows = [
                {
                    "b_id": o.message_id,
                    "b_attempt": o.attempt,
                    "b_text": o.rendered,
                    "b_error": o.error,
                    "b_at": None if o.retry_in is None else now + timedelta(seconds=o.retry_in),
                }
                for o in outcomes
                if o.status == status
            ]
            if rows:
                await session.execute(update(table).where(claimed).values(**values, **common), rows)

    async def complete_campaigns(
        self, session: AsyncSession, campaign_ids: Sequence[int] | None, now: datetime
    ) -> list[int]:
        """sending → sent (≥ 1 message sent) | failed (all failed), once nothing is in flight;
        `campaign_ids` None checks every sending campaign (the recovery sweep)."""
        unfinished = exists().where(M.campaign_id == Campaign.id, M.status.in_(UNFINISHED))
        any_sent = exists().where(M.campaign_id == Campaign.id, M.status == MessageStatus.SENT)
        statement = (
            update(Campaign)
            .where(Campaign.status == CampaignStatus.SENDING, ~unfinished)
            .values(
                status=case((any_sent, CampaignStatus.SENT), else_=CampaignStatus.FAILED),
                updated_at=now,
            )
            .returning(Campaign.id)
        )
        if campaign_ids is not None:
            if not campaign_ids:
                return []
            statement = statement.where(Campaign.id.in_(campaign_ids))
        return list((await session.scalars(statement)).all())


# Every outcome of a batch in one statement, with the same transitions as above: sent
# keeps last_error; a retry goes back to pending with retry_count + 1, the error, its due
# time and no enqueued_at; failed stores the error.
_PG_RECORD = text(
    """
    UPDATE outbound_messages AS m
    SET status = v.status,
        rendered_content = v.rendered,
        last_error = CASE WHEN v.status = :sent_status THEN m.last_error ELSE v.error END,
        retry_count = m.retry_count + CASE WHEN v.status = :retry_status THEN 1 ELSE 0 END,
        available_at = CASE WHEN v.status = :retry_status
            THEN timezone('UTC', now()) + make_interval(secs => v.retry_in)
            ELSE m.available_at END,
        enqueued_at = CASE WHEN v.status = :retry_status THEN NULL ELSE m.enqueued_at END,
        lease_expires_at = NULL,
        updated_at = :now
    FROM unnest(
        CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:statuses AS VARCHAR[]),
        CAST(:rendered AS TEXT[]), CAST(:errors AS TEXT[]), CAST(:retry_ins AS DOUBLE PRECISION[])
    ) AS v(id, attempt, status, rendered, error, retry_in)
    WHERE m.id = v.id AND m.status = :claimed_status AND m.retry_count = v.attempt
    """
)


class PostgresOutcomeRepository(OutcomeRepository):
    async def record(
        self, session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        if not outcomes:
            return
        await session.execute(
            _PG_RECORD,
            {
                "ids": [o.message_id for o in outcomes],
                "attempts": [o.attempt for o in outcomes],
                "statuses": [o.status.value for o in outcomes],
                "rendered": [o.rendered for o in outcomes],
                "errors": [o.error for o in outcomes],
                "retry_ins": [o.retry_in for o in outcomes],
                "now": now,
                "sent_status": MessageStatus.SENT.value,
                "retry_status": MessageStatus.PENDING.value,
                "claimed_status": MessageStatus.SENDING.value,
            },
        )
