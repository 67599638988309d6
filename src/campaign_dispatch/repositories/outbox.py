"""The outbox stage: messages committed `pending` and not yet published to the queue.

A message row is its own outbox entry (`enqueued_at IS NULL`); relays lock due rows with
SKIP LOCKED, so several share the work, and mark them published after the broker confirms.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
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

    async def mark_enqueued(self, session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
        if ids:
            await session.execute(
                update(M).where(self._ids(ids), M.enqueued_at.is_(None)).values(enqueued_at=now)
            )

    def _ids(self, ids: Sequence[int]) -> ColumnElement[bool]:
        return M.id.in_(ids)

    async def notify(self, session: AsyncSession) -> None:
        """Wake relays in other processes once this transaction commits (no-op: SQLite has
        no other processes; the embedded relay is woken in memory)."""

    async def backlog(self, session: AsyncSession) -> int:
        count = await session.scalar(
            select(func.count()).where(M.status == MessageStatus.PENDING, M.enqueued_at.is_(None))
        )
        return count or 0


class PostgresOutboxRepository(OutboxRepository):
    def _ids(self, ids: Sequence[int]) -> ColumnElement[bool]:
        # One array parameter instead of one bind per id (the relay marks thousands).
        return M.id == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger)))

    async def notify(self, session: AsyncSession) -> None:
        # PostgreSQL delivers a NOTIFY only if the transaction commits.
        await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
