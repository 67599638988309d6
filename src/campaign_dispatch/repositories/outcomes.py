"""The outcome stage: what a claimed attempt came to, and campaigns that are done.

Each outcome is written only from `sending` at the claimed attempt: a worker whose lease
expired, and whose message was claimed again, cannot overwrite the newer attempt's outcome.
A retry's due time is `retry_in` seconds from now by the database's clock on PostgreSQL
(by this process's on SQLite, where every process shares one machine's clock), so the
relays that publish it agree on when it is due whatever the workers' clocks say.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Campaign, MessageAttempt
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.repositories.messages import PARKED_AT
from campaign_dispatch.statuses import (
    UNFINISHED,
    AttemptOutcome,
    CampaignStatus,
    FailureCode,
    MessageStatus,
)


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
    error_code: FailureCode | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    counted: bool = True
    """False: no attempt is recorded and the attempt number stays (an account error,
    which says nothing about the message)."""
    free: bool = False
    """A new attempt that does not count toward MAX_RETRIES (a throttled answer)."""
    campaign_id: int | None = None
    """The message's campaign, as its claim returned it: PostgreSQL then need not look
    it up by key (the write still checks it). None: looked up."""


_HAS_UNFINISHED = exists().where(M.campaign_id == Campaign.id, M.status.in_(UNFINISHED))
"""The campaign (correlated) has a message that may still be attempted."""


async def _park(session: AsyncSession, campaign_ids: Sequence[int]) -> None:
    """Park paused campaigns' pending messages as a manual pause does (messages.park_pending)."""
    if campaign_ids:
        await session.execute(
            update(M)
            .where(M.campaign_id.in_(campaign_ids), M.status == MessageStatus.PENDING)
            .values(enqueued_at=PARKED_AT)
        )


def attempt_outcome(status: MessageStatus) -> AttemptOutcome:
    if status == MessageStatus.SENT:
        return AttemptOutcome.SENT
    return AttemptOutcome.RETRY if status == MessageStatus.PENDING else AttemptOutcome.FAILED


class OutcomeRepository:
    """The portable SQL (SQLite: one executemany per kind of outcome, under the write lock
    that BEGIN IMMEDIATE took, so the rows read first are the rows written)."""

    async def record(
        self, session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        """Write each outcome from `sending` at its claimed attempt, and its attempt into
        the history. A retry in a campaign cancelled meanwhile fails instead: nothing will
        claim it again."""
        if not outcomes:
            return
        found = await session.execute(
            select(M.id, M.retry_count, M.campaign_id, Campaign.status)
            .join(Campaign, Campaign.id == M.campaign_id)
            .where(M.id.in_([o.message_id for o in outcomes]), M.status == MessageStatus.SENDING)
        )
        claimed = {mid: (attempt, cid, status) for mid, attempt, cid, status in found.all()}
        current: list[tuple[Outcome, int]] = []
        for o in outcomes:
            attempt, campaign_id, campaign_status = claimed.get(o.message_id, (None, 0, None))
            if attempt != o.attempt:
                continue  # claimed again since (a lease ran out): not this worker's to write
            if o.campaign_id is not None and o.campaign_id != campaign_id:
                continue  # not the message its claim returned
            if o.status == MessageStatus.PENDING and campaign_status == CampaignStatus.CANCELLED:
                o = replace(o, status=MessageStatus.FAILED, retry_in=None)
            current.append((o, campaign_id))
        table = cast(Table, M.__table__)
        where = and_(table.c.id == bindparam("b_id"), table.c.status == MessageStatus.SENDING)
        common: dict[str, Any] = {
            "lease_expires_at": None,
            "updated_at": now,
            "rendered_content": bindparam("b_text"),
            "provider": func.coalesce(bindparam("b_provider"), table.c.provider),
            "provider_message_id": func.coalesce(bindparam("b_pmid"), table.c.provider_message_id),
        }
        kinds: dict[MessageStatus, dict[str, Any]] = {
            MessageStatus.SENT: {"status": MessageStatus.SENT},
            MessageStatus.PENDING: {
                "status": MessageStatus.PENDING,
                "retry_count": table.c.retry_count + bindparam("b_counted"),
                "series_start": table.c.series_start + bindparam("b_free"),
                "last_error": bindparam("b_error"),
                "error_code": bindparam("b_code"),
                "available_at": bindparam("b_at"),
                "enqueued_at": None,
            },
            MessageStatus.FAILED: {
                "status": MessageStatus.FAILED,
                "last_error": bindparam("b_error"),
                "error_code": bindparam("b_code"),
            },
        }
        for status, values in kinds.items():
            rows = [
                {
                    "b_id": o.message_id,
                    "b_text": o.rendered,
                    "b_error": o.error,
                    "b_code": o.error_code,
                    "b_at": None if o.retry_in is None else now + timedelta(seconds=o.retry_in),
                    "b_provider": o.provider,
                    "b_pmid": o.provider_message_id,
                    "b_counted": int(o.counted),
                    "b_free": int(o.free),
                }
                for o, _ in current
                if o.status == status
            ]
            if rows:
                await session.execute(update(table).where(where).values(**values, **common), rows)
        if any(o.counted for o, _ in current):
            await session.execute(
                insert(MessageAttempt),
                [
                    {
                        "message_id": o.message_id,
                        "campaign_id": campaign_id,
                        "attempt": o.attempt + 1,
                        "at": now,
                        "outcome": attempt_outcome(o.status),
                        "error_code": o.error_code,
                        "error": o.error,
                        "provider_message_id": o.provider_message_id,
                    }
                    for o, campaign_id in current
                    if o.counted
                ],
            )

    async def pause_failing(
        self,
        session: AsyncSession,
        campaign_ids: Sequence[int],
        window: int,
        rate: float,
        now: datetime,
    ) -> list[int]:
        """sending → paused for each campaign whose last `window` attempts (by every
        worker: the history is shared) failed more often than `rate`. Attempts whose
        lease ran out do not count: a worker that died says nothing about the campaign;
        nor do those before the last resume. Fewer than `window` attempts are not judged
        yet: a handful says too little (retries fill the window of a small campaign)."""
        if not campaign_ids:
            return []
        recent = (
            select(MessageAttempt.outcome)
            .where(
                MessageAttempt.campaign_id == Campaign.id,
                MessageAttempt.id > func.coalesce(Campaign.pause_window_after, 0),
                or_(
                    MessageAttempt.error_code.is_(None),
                    MessageAttempt.error_code != FailureCode.LEASE_EXPIRED,
                ),
            )
            .order_by(MessageAttempt.id.desc())
            .limit(window)
            .correlate(Campaign)
            .subquery()
        )
        failures = (
            select(func.count())
            .select_from(recent)
            .where(recent.c.outcome != AttemptOutcome.SENT)
            .scalar_subquery()
        )
        judged = select(func.count()).select_from(recent).scalar_subquery()
        reason = (
            f"automatic: more than {rate:.0%} of the last {window} attempts failed "
            "(AUTO_PAUSE_FAILURE_RATE, AUTO_PAUSE_WINDOW)"
        )
        # Nothing left to send: it finishes (complete_campaigns), it is not paused.
        result = await session.execute(
            update(Campaign)
            .where(
                Campaign.id.in_(campaign_ids),
                Campaign.status == CampaignStatus.SENDING,
                _HAS_UNFINISHED,
                judged >= window,
                failures > rate * window,
            )
            .values(status=CampaignStatus.PAUSED, pause_reason=reason, updated_at=now)
            .returning(Campaign.id)
        )
        paused = list(result.scalars().all())
        await _park(session, paused)
        return paused

    async def pause_for_account(
        self, session: AsyncSession, errors: Mapping[int, str], now: datetime
    ) -> list[int]:
        """sending → paused for each campaign whose provider account refused a send
        (credentials, balance, a suspended sender): every other message would be refused
        too. The reason says what the provider said; resume once it is fixed."""
        paused: list[int] = []
        for campaign_id, error in sorted(errors.items()):
            result = await session.execute(
                update(Campaign)
                .where(
                    Campaign.id == campaign_id,
                    Campaign.status == CampaignStatus.SENDING,
                    _HAS_UNFINISHED,
                )
                .values(
                    status=CampaignStatus.PAUSED,
                    pause_reason=f"automatic: the provider account refused a send: {error}"[:500],
                    updated_at=now,
                )
                .returning(Campaign.id)
            )
            paused += result.scalars().all()
        await _park(session, paused)
        return paused

    async def complete_campaigns(
        self, session: AsyncSession, campaign_ids: Sequence[int] | None, now: datetime
    ) -> list[int]:
        """sending → sent (≥ 1 message sent) | failed (all failed), once nothing is in flight;
        `campaign_ids` None checks every sending campaign (the recovery sweep)."""
        any_sent = exists().where(M.campaign_id == Campaign.id, M.status == MessageStatus.SENT)
        statement = (
            update(Campaign)
            .where(Campaign.status == CampaignStatus.SENDING, ~_HAS_UNFINISHED)
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
# time and no enqueued_at; failed stores the error. The campaigns of the batch's retries
# are read FOR SHARE: a cancel (which updates the campaign, then cancels its pending
# messages) either commits first, and the retry sees it and fails, or waits for this
# statement, and then cancels the retry's pending row. The attempts go into the history
# in the same statement.
_PG_RECORD = text(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[]), CAST(:statuses AS VARCHAR[]),
            CAST(:rendered AS TEXT[]), CAST(:errors AS TEXT[]), CAST(:codes AS VARCHAR[]),
            CAST(:retry_ins AS DOUBLE PRECISION[]), CAST(:providers AS VARCHAR[]),
            CAST(:pmids AS VARCHAR[]), CAST(:counted AS INTEGER[]), CAST(:free AS INTEGER[]),
            CAST(:campaigns AS BIGINT[])
        ) AS v(id, attempt, status, rendered, error, code, retry_in, provider, pmid, counted, free,
            given)
    ), targets AS MATERIALIZED (
        -- the campaign the claim returned, else a lookup per key (repositories/claims.py
        -- says why per key)
        SELECT v.*, COALESCE(v.given,
            (SELECT m.campaign_id FROM outbound_messages AS m WHERE m.id = v.id)) AS campaign_id
        FROM v
    ), retrying AS MATERIALIZED (
        SELECT campaigns.id, campaigns.status FROM campaigns
        WHERE campaigns.id IN (
            SELECT DISTINCT campaign_id FROM targets WHERE status = :retry_status
        )
        FOR SHARE OF campaigns
    ), w AS (
        SELECT t.id, t.campaign_id, t.attempt, t.rendered, t.error, t.code, t.retry_in,
            t.provider, t.pmid, t.counted, t.free,
            CASE WHEN t.status = :retry_status AND r.status = :cancelled_campaign
                THEN :failed_status ELSE t.status END AS status
        FROM targets AS t LEFT JOIN retrying AS r ON r.id = t.campaign_id
    ), recorded AS (
        UPDATE outbound_messages AS m
        SET status = w.status,
            rendered_content = w.rendered,
            last_error = CASE WHEN w.status = :sent_status THEN m.last_error ELSE w.error END,
            error_code = CASE WHEN w.status = :sent_status THEN m.error_code ELSE w.code END,
            retry_count = m.retry_count
                + CASE WHEN w.status = :retry_status THEN w.counted ELSE 0 END,
            series_start = m.series_start
                + CASE WHEN w.status = :retry_status THEN w.free ELSE 0 END,
            provider = COALESCE(w.provider, m.provider),
            provider_message_id = COALESCE(w.pmid, m.provider_message_id),
            available_at = CASE WHEN w.status = :retry_status
                THEN timezone('UTC', now()) + make_interval(secs => w.retry_in)
                ELSE m.available_at END,
            enqueued_at = CASE WHEN w.status = :retry_status THEN NULL ELSE m.enqueued_at END,
            lease_expires_at = NULL,
            updated_at = :now
        FROM w
        WHERE m.id = w.id AND m.campaign_id = w.campaign_id AND m.status = :claimed_status
            AND m.retry_count = w.attempt
        RETURNING m.id, m.campaign_id, w.attempt, w.status, w.code, w.error, w.pmid, w.counted
    )
    INSERT INTO message_attempts
        (message_id, campaign_id, attempt, at, outcome, error_code, error, provider_message_id)
    SELECT id, campaign_id, attempt + 1, :now,
        CASE status WHEN :sent_status THEN :outcome_sent WHEN :retry_status THEN :outcome_retry
            ELSE :outcome_failed END,
        code, error, pmid
    FROM recorded WHERE counted = 1
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
                "codes": [o.error_code for o in outcomes],
                "retry_ins": [o.retry_in for o in outcomes],
                "providers": [o.provider for o in outcomes],
                "pmids": [o.provider_message_id for o in outcomes],
                "counted": [int(o.counted) for o in outcomes],
                "free": [int(o.free) for o in outcomes],
                "campaigns": [o.campaign_id for o in outcomes],
                "now": now,
                "sent_status": MessageStatus.SENT.value,
                "retry_status": MessageStatus.PENDING.value,
                "failed_status": MessageStatus.FAILED.value,
                "claimed_status": MessageStatus.SENDING.value,
                "cancelled_campaign": CampaignStatus.CANCELLED.value,
                "outcome_sent": AttemptOutcome.SENT.value,
                "outcome_retry": AttemptOutcome.RETRY.value,
                "outcome_failed": AttemptOutcome.FAILED.value,
            },
        )
