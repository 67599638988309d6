"""The claim stage: a job takes its message `pending` → `sending`, with a lease.

A claim matches the job's attempt (the message's retry_count when the job was published)
and only a `pending` message, so a redelivered job, a stale duplicate of an earlier
attempt, or a job for a final message claims nothing and can be acknowledged and ignored.

A claim also takes only messages of a `sending` campaign, and holds that campaign's row
(FOR SHARE on PostgreSQL; SQLite has one writer at a time) until it commits: a pause or
cancel, which updates the row, waits for the claims already running and every claim after
it sees the new status. A job of a paused campaign claims nothing and is acknowledged; its
message stays `pending` and is published again on resume.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.compliance.windows import SendWindow
from campaign_dispatch.models import Campaign, Customer
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.statuses import CampaignStatus, Channel, MessageStatus
from campaign_dispatch.templating import CUSTOMER_FIELDS

CustomerValues = dict[str, object | None]


class AttemptKey(Protocol):
    """What a claim is asked for: a message at one attempt (a queue job has both)."""

    @property
    def message_id(self) -> int: ...

    @property
    def attempt(self) -> int: ...


@dataclass(frozen=True)
class Claim:
    message_id: int
    campaign_id: int
    customer_id: int
    attempt: int
    customer: CustomerValues | None  # None: the customer row is gone
    lease_expiries: int = 0  # claims on it that ran out before this one
    series_start: int = 0  # the attempt its current series began at
    opted_out_at: datetime | None = None  # the customer's, read with the claim
    timezone: str | None = None  # the customer's own (unset: their number's, or the default)


@dataclass(frozen=True)
class CampaignTemplate:
    template: str
    channel: Channel
    whatsapp_template: Mapping[str, Any] | None = None  # {name, language, body_params}
    send_window: SendWindow | None = None  # unset: DEFAULT_SEND_WINDOW
    expires_at: datetime | None = None


class ClaimRepository:
    """The portable SQL (SQLite: a claim, then the customers' values)."""

    async def claim(
        self, session: AsyncSession, keys: Sequence[AttemptKey], now: datetime, lease: timedelta
    ) -> list[Claim]:
        if not keys:
            return []
        pairs = [(key.message_id, key.attempt) for key in keys]
        # Correlated, so that the messages are found by their keys and each one's campaign
        # checked, rather than every message of the sending campaigns scanned.
        live = exists().where(
            Campaign.id == M.campaign_id, Campaign.status == CampaignStatus.SENDING
        )
        result = await session.execute(
            update(M)
            .where(
                # SQLite searches the primary key for `id IN (…)`, but scans the whole
                # table for a row-value `(id, retry_count) IN (…)` alone.
                M.id.in_([key.message_id for key in keys]),
                tuple_(M.id, M.retry_count).in_(pairs),
                M.status == MessageStatus.PENDING,
                live,
            )
            .values(
                status=MessageStatus.SENDING,
                lease_expires_at=now + lease,
                window_opens_at=None,
                updated_at=now,
            )
            .returning(
                M.id, M.campaign_id, M.customer_id, M.retry_count, M.lease_expiries, M.series_start
            )
        )
        rows = result.all()
        if not rows:
            return []
        columns = [getattr(Customer, name) for name in CUSTOMER_FIELDS]
        found = await session.execute(
            select(Customer.id, Customer.opted_out_at, Customer.timezone, *columns).where(
                Customer.id.in_({row[2] for row in rows})
            )
        )
        customers = {r[0]: r[1:] for r in found.all()}
        claims = []
        for mid, cid, cust, n, expiries, start in rows:
            values = customers.get(cust)
            fields = None if values is None else dict(zip(CUSTOMER_FIELDS, values[2:], strict=True))
            opted_out_at, timezone = (None, None) if values is None else values[:2]
            claims.append(Claim(mid, cid, cust, n, fields, expiries, start, opted_out_at, timezone))
        return claims

    async def templates(
        self, session: AsyncSession, campaign_ids: Sequence[int]
    ) -> dict[int, CampaignTemplate]:
        rows = await session.execute(
            select(
                Campaign.id,
                Campaign.base_template,
                Campaign.channel,
                Campaign.whatsapp_template,
                Campaign.send_window,
                Campaign.expires_at,
            ).where(Campaign.id.in_(campaign_ids))
        )
        return {
            cid: CampaignTemplate(
                t,
                Channel(channel),
                wa,
                None if window is None else SendWindow.from_json(window),
                ends,
            )
            for cid, t, channel, wa, window, ends in rows.all()
        }


_CUSTOMER_COLUMNS = ", ".join(f"c.{name}" for name in CUSTOMER_FIELDS)

# The same conditional claim in one round trip: keys passed as two arrays (one cached
# statement whatever the batch size), the customers' values joined in. Each key's
# campaign is looked up by primary key first (`targets`: a subquery per key, which the
# planner cannot turn into a scan of the table), and the campaigns locked from there:
# given a join to plan, it may scan every message of the campaign (or of the table)
# instead, which made a claim 10x slower while the statistics lagged a big send.
_PG_CLAIM = text(
    f"""
    WITH keys AS (
        SELECT * FROM unnest(CAST(:ids AS BIGINT[]), CAST(:attempts AS INTEGER[])) AS k(id, attempt)
    ), targets AS MATERIALIZED (
        SELECT keys.id, keys.attempt,
            (SELECT m.campaign_id FROM outbound_messages AS m WHERE m.id = keys.id) AS campaign_id
        FROM keys
    ), live AS MATERIALIZED (
        SELECT campaigns.id FROM campaigns
        WHERE campaigns.id IN (SELECT DISTINCT campaign_id FROM targets)
            AND campaigns.status = :live_status
        FOR SHARE OF campaigns
    ), claimed AS (
        UPDATE outbound_messages AS m
        SET status = :to_status,
            lease_expires_at = timezone('UTC', now()) + make_interval(secs => :lease_seconds),
            window_opens_at = NULL,
            updated_at = :now
        FROM targets JOIN live ON live.id = targets.campaign_id
        WHERE m.id = targets.id AND m.retry_count = targets.attempt AND m.status = :from_status
        RETURNING m.id, m.campaign_id, m.customer_id, m.retry_count, m.lease_expiries,
            m.series_start
    )
    SELECT claimed.id, claimed.campaign_id, claimed.customer_id, claimed.retry_count,
           claimed.lease_expiries, claimed.series_start, c.id IS NOT NULL, c.opted_out_at,
           c.timezone, {_CUSTOMER_COLUMNS}
    FROM claimed LEFT JOIN customers AS c ON c.id = claimed.customer_id
    """  # noqa: S608 (the only interpolation is the constant column list)
)


class PostgresClaimRepository(ClaimRepository):
    """Leases run on the database's clock: the recovery sweep that judges them compares
    against the same clock, whatever clock the worker's machine keeps."""

    async def claim(
        self, session: AsyncSession, keys: Sequence[AttemptKey], now: datetime, lease: timedelta
    ) -> list[Claim]:
        if not keys:
            return []
        rows = await session.execute(
            _PG_CLAIM,
            {
                "ids": [key.message_id for key in keys],
                "attempts": [key.attempt for key in keys],
                "lease_seconds": lease.total_seconds(),
                "now": now,
                "from_status": MessageStatus.PENDING.value,
                "to_status": MessageStatus.SENDING.value,
                "live_status": CampaignStatus.SENDING.value,
            },
        )
        return [
            Claim(
                row[0],
                row[1],
                row[2],
                row[3],
                dict(zip(CUSTOMER_FIELDS, row[9:], strict=True)) if row[6] else None,
                row[4],
                row[5],
                row[7],
                row[8],
            )
            for row in rows.all()
        ]
