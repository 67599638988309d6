"""The outbox stage: messages committed `pending` and not yet published to the queue.

A message row is its own outbox entry (`enqueued_at IS NULL`). A relay takes a batch of
due rows by marking them published in one statement (SKIP LOCKED on PostgreSQL, so
several relays share the work), commits, and only then talks to the broker: no row lock
is held while a publish waits for confirms (a broker under a memory alarm can make that
wait long). A publish that fails gives its rows back at once. The same statement records
the batch in `relay_batches` (its `taken_at`, the rows' new `enqueued_at`, and an
`expires_at` past the relay's publish timeout); the relay deletes the record once the
broker confirmed the batch. A relay that dies between the mark and the confirms leaves
its record behind, and the recovery sweep gives such a batch back once it expires
(`release_abandoned`), so the batch is published again seconds later, not after
REQUEUE_AFTER_SECONDS. On PostgreSQL, due times are read against the database's clock, so
processes with different clocks agree on what is due.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.models import RelayBatch
from campaign_dispatch.repositories.dbclock import PG_NOW_SQL, pg_now
from campaign_dispatch.statuses import MessageStatus

NOTIFY_CHANNEL = "campaign_dispatch_outbox"


@dataclass(frozen=True, order=True)
class DueMessage:
    message_id: int
    attempt: int


@dataclass(frozen=True)
class TakenBatch:
    """Messages a relay marked published, and the record that stands for them until the
    broker confirms them (None when nothing was due)."""

    batch_id: int | None
    messages: list[DueMessage] = field(default_factory=list)


class OutboxRepository:
    """The portable SQL (SQLite); PostgresOutboxRepository overrides what it does better."""

    async def take_due(
        self, session: AsyncSession, now: datetime, limit: int, hold: timedelta
    ) -> TakenBatch:
        """Due, unpublished messages, marked published (`enqueued_at = now`) and recorded as
        one batch that expires after `hold`: the caller publishes them after committing,
        then confirms the batch or gives it back. SQLite has one writer at a time, so two
        relays never take the same row (the UPDATE re-checks that it is unpublished)."""
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
        taken = sorted(DueMessage(message_id, attempt) for message_id, attempt in rows.all())
        if not taken:
            return TakenBatch(None)
        batch_id = await session.scalar(
            insert(RelayBatch).values(taken_at=now, expires_at=now + hold).returning(RelayBatch.id)
        )
        return TakenBatch(batch_id, taken)

    async def confirm(self, session: AsyncSession, batch_id: int) -> None:
        """The broker confirmed the batch: its record goes."""
        await session.execute(delete(RelayBatch).where(RelayBatch.id == batch_id))

    async def release_abandoned(self, session: AsyncSession, now: datetime) -> int:
        """Batches whose relay never confirmed them nor gave them back by `expires_at`
        (it died in between): their messages that are still marked with the batch's
        stamp and not yet claimed are unpublished again. If the broker did take the
        jobs after all, the relay publishes them twice; the second claims nothing."""
        stale = (
            (
                await session.execute(
                    delete(RelayBatch)
                    .where(RelayBatch.expires_at < self.clock(now))
                    .returning(RelayBatch.taken_at)
                )
            )
            .scalars()
            .all()
        )
        if not stale:
            return 0
        result = await session.execute(
            update(M)
            .where(M.status == MessageStatus.PENDING, M.enqueued_at.in_(sorted(set(stale))))
            .values(enqueued_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def clock(self, now: datetime) -> Any:
        """The time batches expire by: this process's `now` on SQLite (one machine)."""
        return now

    async def give_back(self, session: AsyncSession, batch: TakenBatch) -> int:
        """A batch taken but not published (the broker refused or timed out): its messages
        unpublished again, unless they moved on meanwhile (claimed from a publish that
        did arrive, or a newer attempt), and its record gone."""
        # The messages first, then the record: a crash in between leaves the record for
        # release_abandoned, which finds nothing left to do.
        given = 0
        if batch.messages:
            keys = [(t.message_id, t.attempt) for t in batch.messages]
            result = await session.execute(
                update(M)
                .where(
                    M.id.in_([t.message_id for t in batch.messages]),  # by key (claims.py)
                    tuple_(M.id, M.retry_count).in_(keys),
                    M.status == MessageStatus.PENDING,
                    M.enqueued_at.is_not(None),
                )
                .values(enqueued_at=None)
            )
            given = int(getattr(result, "rowcount", 0) or 0)
        if batch.batch_id is not None:
            await self.confirm(session, batch.batch_id)
        return given

    async def mark_enqueued(
        self, session: AsyncSession, published: Sequence[DueMessage], now: datetime
    ) -> None:
        """Published at exactly these attempts: a message that has moved on to a newer
        attempt meanwhile stays unpublished, so its own job is not hidden by a stale mark."""
        if published:
            keys = [(p.message_id, p.attempt) for p in published]
            await session.execute(
                update(M)
                .where(
                    M.id.in_([p.message_id for p in published]),  # by key (claims.py)
                    tuple_(M.id, M.retry_count).in_(keys),
                    M.enqueued_at.is_(None),
                )
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


_PG_NOW = PG_NOW_SQL

# One statement: the rows marked with the statement's time and their batch recorded with
# the same time (now() is fixed for a statement), so a crash leaves both or neither.
_PG_TAKE_DUE = text(
    f"""
    WITH taken AS (
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
    ), batch AS (
        INSERT INTO relay_batches (taken_at, expires_at)
        SELECT {_PG_NOW}, {_PG_NOW} + make_interval(secs => :hold_seconds)
        WHERE EXISTS (SELECT 1 FROM taken)
        RETURNING id
    )
    SELECT taken.id, taken.retry_count, (SELECT id FROM batch) FROM taken
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
    async def take_due(
        self, session: AsyncSession, now: datetime, limit: int, hold: timedelta
    ) -> TakenBatch:
        # Due by the database's clock (`now` is this process's), and SKIP LOCKED: rows
        # another relay is marking in this instant are left to it. The lock lasts for
        # this one statement only.
        rows = (
            await session.execute(
                _PG_TAKE_DUE,
                {
                    "pending_status": MessageStatus.PENDING.value,
                    "limit": limit,
                    "hold_seconds": hold.total_seconds(),
                },
            )
        ).all()
        if not rows:
            return TakenBatch(None)
        return TakenBatch(rows[0][2], sorted(DueMessage(mid, attempt) for mid, attempt, _ in rows))

    def clock(self, now: datetime) -> Any:
        return pg_now()

    async def give_back(self, session: AsyncSession, batch: TakenBatch) -> int:
        given = 0
        if batch.messages:
            result = await session.execute(
                _PG_GIVE_BACK,
                {
                    "ids": [t.message_id for t in batch.messages],
                    "attempts": [t.attempt for t in batch.messages],
                    "pending_status": MessageStatus.PENDING.value,
                },
            )
            given = int(getattr(result, "rowcount", 0) or 0)
        if batch.batch_id is not None:
            await self.confirm(session, batch.batch_id)
        return given

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
