"""The outbox stage: messages committed `pending` and not yet published to the queue.

A message row is its own outbox entry (`enqueued_at IS NULL`). A relay takes a batch of
due rows by marking them published in one statement (SKIP LOCKED on PostgreSQL, so
several relays share the work), commits, and only then talks to the broker: no row lock
is held while a publish waits for confirms (a broker under a memory alarm can make that
wait long). A publish that fails gives its rows back at once; a relay that dies between
the mark and the publish leaves them to the recovery of lost jobs, which publishes
anything marked long ago and never claimed. On PostgreSQL, due times are read against
the database's clock, so processes with different clocks agree on what is due.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.statuses import MessageStatus

NOTIFY_CHANNEL = "campaign_dispatch_outbox"


@dataclass(frozen=True, order=True)
class DueMessage:
    message_id: int
    attempt: int


class OutboxRepository:
    """The portable SQL (SQLite); PostgresOutboxRepository overrides what it does better."""

    async def take_due(self, session: AsyncSession, now: datetime, limit: int) -> list[DueMessage]:
        """Due, unpublished messages, marked published (`enqueued_at = now`) in one
        statement: the caller publishes them after committing, and gives back what it
        could not publish. SQLite has one writer at a time, so two relays never take the
        same row (the UPDATE re-checks that the row is still unpublished)."""
        due = (
            select(M.id)
            .where(
                M.status == MessageStatus.PENDING, M.enqueued_at.is_(None), M.available_at <= now
            )
            .order_by(M.available_at, M.id)
            .limit(limit)
        )
        rows = await session.execute(
            update(M)
            .where(
                M.id.in_(due.scalar_subquery()),
                M.status == MessageStatus.PENDING,
                M.enqueued_at.is_(None),
            )
            .values(enqueued_at=now)
            .returning(M.id, M.retry_count)
        )
        return sorted(DueMessage(message_id, attempt) for message_id, attempt in rows.all())

    async def give_back(self, session: AsyncSession, taken: Sequence[DueMessage]) -> int:
        """Messages taken but not published (the broker refused or timed out): unpublished
        again, unless they moved on meanwhile (claimed from a publish that did arrive, or
        a newer attempt)."""
        if not taken:
            return 0
        keys = [(t.message_id, t.attempt) for t in taken]
        result = await session.execute(
            update(M)
            .where(
                tuple_(M.id, M.retry_count).in_(keys),
                M.status == MessageStatus.PENDING,
                M.enqueued_at.is_not(None),
            )
            .values(enqueued_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

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


# The database's clock, as the naive UTC the tables store.
_PG_NOW = "timezone('UTC', now())"

_PG_TAKE_DUE = text(
    f"""
    UPDATE outbound_messages AS m SET enqueued_at = {_PG_NOW}
    FROM (
        SELECT id FROM outbound_messages
        WHERE status = :pending_status AND enqueued_at IS NULL AND available_at <= {_PG_NOW}
        ORDER BY available_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE m.id = due.id
    RETURNING m.id, m.retry_count
    """  # noqa: S608 (the only interpolation is the constant clock expression)
)

_PG_GIVE_BACK = text(
    """
    UPDATE outbound_messages AS m SET enqueued_at = NULL
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[])) AS k(id, attempt)
    WHERE m.id = k.id AND m.retry_count = k.attempt AND m.status = :pending_status
      AND m.enqueued_at IS NOT NULL
    """
)

_PG_MARK = text(
    """
    UPDATE outbound_messages AS m SET enqueued_at = :now
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[])) AS k(id, attempt)
    WHERE m.id = k.id AND m.retry_count = k.attempt AND m.enqueued_at IS NULL
    """
)


class PostgresOutboxRepository(OutboxRepository):
    async def take_due(self, session: AsyncSession, now: datetime, limit: int) -> list[DueMessage]:
        # Due by the database's clock (`now` is this process's), and SKIP LOCKED: rows
        # another relay is marking in this instant are left to it. The lock lasts for
        # this one statement only.
        rows = await session.execute(
            _PG_TAKE_DUE, {"pending_status": MessageStatus.PENDING.value, "limit": limit}
        )
        return sorted(DueMessage(message_id, attempt) for message_id, attempt in rows.all())

    async def give_back(self, session: AsyncSession, taken: Sequence[DueMessage]) -> int:
        if not taken:
            return 0
        result = await session.execute(
            _PG_GIVE_BACK,
            {
                "ids": [t.message_id for t in taken],
                "attempts": [t.attempt for t in taken],
                "pending_status": MessageStatus.PENDING.value,
            },
        )
        return int(getattr(result, "rowcount", 0) or 0)

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
