"""The outbox stage: messages committed `pending` and not yet published to the queue.

A message row is its own outbox entry (`enqueued_at IS NULL`); relays lock due rows with
SKIP LOCKED, so several share the work, and mark them published after the broker confirms.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.statuses import MessageStatus

NOTIFY_CHANNEL = "campaign_dispatch_outbox"


@dataclass(frozen=True)
class DueMessage:
    message_id: int
    attempt: int


class OutboxRepository:
    """The portable SQL (SQLite); PostgresOutboxRepository overrides what it does better."""

    async def take_due(self, session: AsyncSession, now: datetime, limit: int) -> list[DueMessage]:
        """Due, unpublished messages, locked against other relays until the transaction ends."""
        rows = await session.execute(
            select(M.id, M.retry_count)
            .where(
                M.status == MessageStatus.PENDING, M.enqueued_at.is_(None), M.available_at <= now
            )
            .order_by(M.available_at, M.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [DueMessage(message_id, attempt) for message_id, attempt in rows.all()]

    async def mark_enqueued(
        self, session: AsyncSession, published: Sequence[DueMessage], now: datetime
    ) -> None:
        """Published at exactly these attempts: a message that has moved on to a newer
        attempt meanwhile stays unpublished, so its own job is not hidden by a stale mark."""
        if published:
            keys = [(p.message_id, p.attempt) for p in published]
            await session.execute(
                update(M)
                .where(tuple_(M.id, M.retry_count).in_(keys), M.enqueued_at.is_(None))
                .values(enqueued_at=now)
            )

    async def notify(self, session: AsyncSession) -> None:
        """Wake relays in other processes once this transaction commits (no-op: SQLite has
        no other processes; the embedded relay is woken in memory)."""

    async def backlog(self, session: AsyncSession) -> int:
        count = await session.scalar(
            select(func.count()).where(M.status == MessageStatus.PENDING, M.enqueued_at.is_(None))
        )
        return count or 0


_PG_MARK = text(
    """
    UPDATE outbound_messages AS m SET enqueued_at = :now
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[])) AS k(id, attempt)
    WHERE m.id = k.id AND m.retry_count = k.attempt AND m.enqueued_at IS NULL
    """
)


class PostgresOutboxRepository(OutboxRepository):
    async def mark_enqueued(
        self, session: AsyncSession, published: Sequence[DueMessage], now: datetime
    ) -> None:
        # Two array parameters instead of two binds per message (the relay marks
        # thousands), joined row by row through the primary key.
        if published:
            await session.execute(
                _PG_MARK,
                {
                    "ids": [p.message_id for p in published],
                    "attempts": [p.attempt for p in published],
                    "now": now,
                },
            )

    async def notify(self, session: AsyncSession) -> None:
        # PostgreSQL delivers a NOTIFY only if the transaction commits.
        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
