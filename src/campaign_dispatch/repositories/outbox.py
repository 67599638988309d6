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

On PostgreSQL a send's own messages take a cheaper way out: they are born stamped
(`enqueued_at` = the send's time, so not in the outbox index) and covered by one
`outbox_ranges` row, the ids they span. A relay publishes such a range piece by piece
(`take_range`): it reads the campaign's pending messages in the range that still carry
the stamp, moves the range's `next_id` past them and records the piece in
`relay_batches`, all in one statement, and writes nothing to the messages. A piece
given back, or abandoned by a relay that died, becomes a range again. Marking each
message instead cost it a row version, with every index and the counters' trigger
(about 40 µs of PostgreSQL time per message). A message that moves on meanwhile (claimed,
parked by a pause, cancelled, made unpublished by the recovery of lost jobs, which counts
its REQUEUE_AFTER_SECONDS from the send) no longer carries the stamp and is passed by.
SQLite keeps the mark: one writer at a time, and no benchmark of its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, and_, delete, func, insert, literal, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.models import OutboxRange, RelayBatch
from campaign_dispatch.models.base import IdType
from campaign_dispatch.repositories.dbclock import PG_NOW_SQL, pg_now
from campaign_dispatch.statuses import MessageStatus

NOTIFY_CHANNEL = "campaign_dispatch_outbox"


@dataclass(frozen=True, order=True)
class DueMessage:
    message_id: int
    attempt: int


@dataclass(frozen=True)
class RangePiece:
    """Ids `first_id`..`last_id` of a range: the campaign's messages stamped `stamp`."""

    campaign_id: int
    stamp: datetime
    first_id: int
    last_id: int


@dataclass(frozen=True)
class TakenBatch:
    """Messages a relay took to publish, and the record that stands for them until the
    broker confirms them (None when nothing was due); `piece` when they came from a
    range rather than from marks."""

    batch_id: int | None
    messages: list[DueMessage] = field(default_factory=list)
    piece: RangePiece | None = None


async def _restore(session: AsyncSession, pieces: Sequence[RangePiece]) -> None:
    """Pieces not confirmed become ranges again, to be published from the start."""
    if pieces:
        await session.execute(
            insert(OutboxRange),
            [
                {
                    "campaign_id": p.campaign_id,
                    "stamp": p.stamp,
                    "next_id": p.first_id,
                    "last_id": p.last_id,
                }
                for p in pieces
            ],
        )


class OutboxRepository:
    """The portable SQL (SQLite); PostgresOutboxRepository overrides what it does better."""

    def birth_stamp(self, now: datetime) -> datetime | None:
        """The `enqueued_at` a send's messages are inserted with: None (unpublished, for
        the relay to mark) here; PostgreSQL covers them with a range instead."""
        return None

    async def cover(self, session: AsyncSession, campaign_id: int, stamp: datetime | None) -> None:
        """Record the range of a send's messages born with `stamp` (a campaign is sent
        once, from draft or scheduled: every message it has is this send's)."""
        if stamp is None:
            return
        span = (
            select(
                literal(campaign_id, IdType),
                literal(stamp, DateTime()),
                func.min(M.id),
                func.max(M.id),
            )
            .where(M.campaign_id == campaign_id)
            .having(func.count() > 0)  # no messages, no range
        )
        columns = ["campaign_id", "stamp", "next_id", "last_id"]
        await session.execute(insert(OutboxRange).from_select(columns, span))

    async def take_range(self, session: AsyncSession, limit: int, hold: timedelta) -> TakenBatch:
        """The next piece of a range (PostgreSQL: SQLite's sends are born unpublished)."""
        return TakenBatch(None)

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
        stamp and not yet claimed are unpublished again, and a range's piece becomes a
        range again. If the broker did take the jobs after all, the relay publishes them
        twice; the second claims nothing. Returns the messages and pieces given back."""
        expired = (
            await session.execute(
                delete(RelayBatch)
                .where(RelayBatch.expires_at < self.clock(now))
                .returning(
                    RelayBatch.taken_at,
                    RelayBatch.campaign_id,
                    RelayBatch.stamp,
                    RelayBatch.first_id,
                    RelayBatch.last_id,
                )
            )
        ).all()
        pieces = [
            RangePiece(campaign, stamp, first, last)
            for _, campaign, stamp, first, last in expired
            if campaign is not None and stamp is not None and first is not None and last is not None
        ]
        await _restore(session, pieces)
        stale = sorted({taken for taken, campaign, *_ in expired if campaign is None})
        if not stale:
            return len(pieces)
        result = await session.execute(
            update(M)
            .where(M.status == MessageStatus.PENDING, M.enqueued_at.in_(stale))
            .values(enqueued_at=None)
        )
        return len(pieces) + int(getattr(result, "rowcount", 0) or 0)

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
        if batch.piece is not None:
            await _restore(session, [batch.piece])
            given = len(batch.messages)
        elif batch.messages:
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
        """Messages still to publish: unpublished ones, and those a range still covers."""
        pending = M.status == MessageStatus.PENDING
        unpublished = await session.scalar(
            select(func.count()).where(pending, M.enqueued_at.is_(None))
        )
        covered = await session.scalar(
            select(func.count())
            .select_from(M)
            .join(
                OutboxRange,
                and_(
                    OutboxRange.campaign_id == M.campaign_id,
                    M.id.between(OutboxRange.next_id, OutboxRange.last_id),
                    M.enqueued_at == OutboxRange.stamp,
                ),
            )
            .where(pending)
        )
        return (unpublished or 0) + (covered or 0)


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


# One piece of the first range no other relay is reading (SKIP LOCKED on the range's row,
# for this statement only): the campaign's pending messages in it that still carry the
# stamp, in id order, at most :limit (read through the campaign's status index); the
# range moved past them, or deleted once they reach its end; the piece recorded as a
# batch with the same clock. Nothing is written to the messages.
_PG_TAKE_RANGE = text(
    f"""
    WITH r AS MATERIALIZED (
        SELECT id, campaign_id, stamp, next_id, last_id FROM outbox_ranges
        ORDER BY id LIMIT 1
        FOR UPDATE SKIP LOCKED
    ), due AS MATERIALIZED (
        SELECT m.id, m.retry_count FROM r JOIN outbound_messages AS m
            ON m.campaign_id = r.campaign_id AND m.status = :pending_status
            AND m.id >= r.next_id AND m.id <= r.last_id
        WHERE m.enqueued_at = r.stamp
        ORDER BY m.id
        LIMIT :limit
    ), piece AS MATERIALIZED (
        SELECT r.id AS range_id, r.campaign_id, r.stamp, r.next_id AS first_id, r.last_id,
            CASE WHEN (SELECT count(*) FROM due) < :limit THEN r.last_id
                ELSE (SELECT max(id) FROM due) END AS upto
        FROM r
    ), advanced AS (
        UPDATE outbox_ranges AS o SET next_id = piece.upto + 1
        FROM piece WHERE o.id = piece.range_id AND piece.upto < piece.last_id
    ), finished AS (
        DELETE FROM outbox_ranges AS o
        USING piece WHERE o.id = piece.range_id AND piece.upto >= piece.last_id
    ), batch AS (
        INSERT INTO relay_batches (taken_at, expires_at, campaign_id, stamp, first_id, last_id)
        SELECT {_PG_NOW}, {_PG_NOW} + make_interval(secs => :hold_seconds),
            campaign_id, stamp, first_id, upto
        FROM piece WHERE EXISTS (SELECT 1 FROM due)
        RETURNING id, campaign_id, stamp, first_id, last_id
    )
    SELECT due.id, due.retry_count, batch.id, batch.campaign_id, batch.stamp, batch.first_id,
        batch.last_id
    FROM piece LEFT JOIN due ON true LEFT JOIN batch ON true
    """  # noqa: S608 (the only interpolation is the constant clock expression)
)


class PostgresOutboxRepository(OutboxRepository):
    def birth_stamp(self, now: datetime) -> datetime | None:
        return now

    async def take_range(self, session: AsyncSession, limit: int, hold: timedelta) -> TakenBatch:
        # A range whose messages all moved on yields one empty row and is deleted: look
        # at the next one, a few times at most. No row: no range free to read.
        for _ in range(8):
            rows = (
                await session.execute(
                    _PG_TAKE_RANGE,
                    {
                        "pending_status": MessageStatus.PENDING.value,
                        "limit": limit,
                        "hold_seconds": hold.total_seconds(),
                    },
                )
            ).all()
            if not rows:
                break
            batch_id, campaign_id, stamp, first_id, last_id = rows[0][2:]
            if batch_id is not None:
                return TakenBatch(
                    batch_id,
                    [DueMessage(mid, attempt) for mid, attempt, *_ in rows],
                    RangePiece(campaign_id, stamp, first_id, last_id),
                )
        return TakenBatch(None)

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
        if batch.piece is not None:
            return await super().give_back(session, batch)
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
