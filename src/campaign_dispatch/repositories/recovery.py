"""The recovery stage: claims whose worker vanished, and jobs the queue lost.

Each step is one conditional UPDATE on the expected state, so recovery can run in every
process at once (and beside the workers) without two of them acting on the same row.
On PostgreSQL, "expired" and "long ago" are judged by the database's clock, the one the
leases and publish marks were written with: a sweeping process whose clock runs ahead
cannot take back a live claim.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign, MessageAttempt, OutboxRange, RelayBatch
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.repositories.dbclock import pg_now
from campaign_dispatch.repositories.messages import PARKED_AT
from campaign_dispatch.repositories.outcomes import attempt_outcome
from campaign_dispatch.statuses import CampaignStatus, FailureCode, MessageStatus

LEASE_EXPIRED = "worker stopped before recording the outcome (lease expired)"


@dataclass(frozen=True)
class ExpiredClaim:
    message_id: int
    campaign_id: int
    status: MessageStatus  # pending (tried again) or failed (past the attempts allowed)
    attempt: int  # its retry_count now (a retry's counts the attempt that ran out)


class RecoveryRepository:
    """The portable SQL; on SQLite every process shares one machine's clock, `now`."""

    def clock(self, now: datetime) -> Any:
        """The time to judge and stamp with: this process's `now` (a bound value)."""
        return now

    async def expire_leases(
        self,
        session: AsyncSession,
        now: datetime,
        max_retries: int,
        expired_before: datetime | None = None,
    ) -> list[ExpiredClaim]:
        """Claims whose lease ran out are tried again at once, as a new attempt.

        An expiry is not a failure (the provider may have taken the message and only the
        record was lost, or nothing was tried): a message's first expiry grants it one
        attempt beyond `max_retries`, so even an expiry on the last attempt is tried
        again. Past that extra attempt it fails for good. `expired_before` defaults to
        `now`; the embedded mode passes a later time at start, since no claim can
        outlive the process that made it.
        """
        deadline = self.clock(now) if expired_before is None else expired_before
        expired = and_(M.status == MessageStatus.SENDING, M.lease_expires_at < deadline)
        # Their campaigns, read FOR SHARE until this transaction ends (the clock is the
        # transaction's, so the UPDATE below finds the same claims): a cancel either
        # committed before, and its claims fail here instead of going back to a queue
        # nothing claims from, or waits, and then cancels the pending rows left here.
        campaigns = await session.execute(
            select(Campaign.id, Campaign.status)
            .where(Campaign.id.in_(select(M.campaign_id).where(expired).distinct()))
            .with_for_update(read=True)
        )
        cancelled = [cid for cid, status in campaigns.all() if status == CampaignStatus.CANCELLED]
        exhausted = or_(
            M.retry_count - M.series_start >= max_retries + 1, M.campaign_id.in_(cancelled)
        )
        result = await session.execute(
            update(M)
            .where(expired)
            .values(
                status=case((exhausted, MessageStatus.FAILED), else_=MessageStatus.PENDING),
                retry_count=case((exhausted, M.retry_count), else_=M.retry_count + 1),
                lease_expiries=M.lease_expiries + 1,
                last_error=LEASE_EXPIRED,
                error_code=FailureCode.LEASE_EXPIRED,
                enqueued_at=None,
                available_at=self.clock(now),
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(M.id, M.campaign_id, M.status, M.retry_count)
        )
        claims = [
            ExpiredClaim(mid, cid, MessageStatus(status), n) for mid, cid, status, n in result.all()
        ]
        if claims:
            await session.execute(
                insert(MessageAttempt),
                [
                    {
                        "message_id": c.message_id,
                        "campaign_id": c.campaign_id,
                        # 1-based: a retry's retry_count already counts the expired one
                        "attempt": c.attempt + (c.status != MessageStatus.PENDING),
                        "at": now,
                        "outcome": attempt_outcome(c.status),
                        "error_code": FailureCode.LEASE_EXPIRED,
                        "error": LEASE_EXPIRED,
                    }
                    for c in claims
                ],
            )
        return claims

    async def requeue_lost(
        self, session: AsyncSession, now: datetime, older_than: timedelta
    ) -> int:
        """Pending jobs published more than `older_than` ago and never consumed: publish
        them again. Not a paused campaign's: its jobs were acknowledged unsent on purpose,
        and resume publishes its messages again (parked ones, PARKED_AT, lie beyond any
        cutoff; the status check covers a retry published after the pause)."""
        sending = select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
        result = await session.execute(
            update(M)
            .where(
                M.status == MessageStatus.PENDING,
                M.enqueued_at < self.clock(now) - older_than,
                M.campaign_id.in_(sending.scalar_subquery()),
            )
            .values(enqueued_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget_enqueued(self, session: AsyncSession) -> int:
        """The in-process queue starts empty: every pending job is unpublished again (and
        no relay batch is waiting for confirms any more, nor any range to be read)."""
        await session.execute(delete(RelayBatch))
        await session.execute(delete(OutboxRange))
        result = await session.execute(
            update(M)
            .where(
                M.status == MessageStatus.PENDING,
                M.enqueued_at.is_not(None),
                M.enqueued_at != PARKED_AT,  # a paused campaign's: resume republishes them
            )
            .values(enqueued_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


class PostgresRecoveryRepository(RecoveryRepository):
    def clock(self, now: datetime) -> Any:
        return pg_now()
