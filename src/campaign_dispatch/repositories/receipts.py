"""Delivery receipts and inbound messages, written set-wise (a webhook may carry many).

A receipt moves its message's `delivery_status` forward only (DELIVERY_RANK): a duplicate
or a late `delivered` after `read` changes nothing. A receipt whose (provider, id) no
message has yet is kept in early_receipts (the provider can call us before our own
commit of the id) and applied by `apply_early`, the recovery sweep's step, once the id is
recorded; keeping one wakes the sweep (wakeups.RECOVERY_CHANNEL).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, exists, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import EarlyReceipt, InboundMessage
from campaign_dispatch.models import OutboundMessage as M
from campaign_dispatch.providers.events import Inbound, Receipt
from campaign_dispatch.repositories import wakeups
from campaign_dispatch.statuses import DELIVERY_RANK, DeliveryStatus


def _utc(moment: datetime | None, default: datetime) -> datetime:
    """A provider's time as the naive UTC the columns hold."""
    if moment is None:
        return default
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


EARLY_RECEIPTS_KEPT = timedelta(days=1)
"""An early receipt whose id no message has recorded after this long never will."""


@dataclass
class ReceiptCounts:
    applied: int = 0  # moved a message's delivery status forward
    unchanged: int = 0  # a duplicate, or older news than the message has
    early: int = 0  # no message has the id yet: kept for later

    def add(self, other: "ReceiptCounts") -> None:
        self.applied += other.applied
        self.unchanged += other.unchanged
        self.early += other.early


_RANK = case(
    *((M.delivery_status == status, rank) for status, rank in DELIVERY_RANK.items()),
    else_=0,
)


async def apply_receipts(
    session: AsyncSession, receipts: Sequence[Receipt], now: datetime, keep_early: bool = True
) -> ReceiptCounts:
    """Move each receipt's message forward; keep (`keep_early`) those no message has the id
    of yet.

    The send's answer may be committed by a worker between two of these statements (each
    reads what is committed when it starts): a receipt the UPDATE missed but whose id the
    next read finds is updated once more, so that it counts as unchanged only when its
    message already was as far, never because the id arrived in between."""
    counts = ReceiptCounts()
    counts.applied, unmatched = await _move(session, receipts, now)
    if unmatched:
        known = await _known(session, unmatched)
        early = [r for key, r in unmatched.items() if key not in known]
        seen_since = [r for key, r in unmatched.items() if key in known]
        if seen_since:
            moved, unchanged = await _move(session, seen_since, now)
            counts.applied += moved
            counts.unchanged += len(unchanged)
        counts.early += len(early)
        if early and keep_early:
            await session.execute(
                insert(EarlyReceipt),
                [
                    {
                        "provider": r.provider,
                        "provider_message_id": r.provider_message_id,
                        "status": r.status,
                        "error": r.error,
                        "at": _utc(r.at, now),
                        "received_at": now,
                    }
                    for r in early
                ],
            )
            await wakeups.notify_recovery(session)
    return counts


async def _move(
    session: AsyncSession, receipts: Sequence[Receipt], now: datetime
) -> tuple[int, dict[tuple[str, str], Receipt]]:
    """One UPDATE per (provider, status) present, in rank order, so that a batch holding
    `delivered` and `read` for one message ends `read`: how many moved a message, and
    the receipts that moved none."""
    applied = 0
    groups: dict[tuple[str, DeliveryStatus], dict[str, Receipt]] = defaultdict(dict)
    for receipt in receipts:
        groups[(receipt.provider, receipt.status)][receipt.provider_message_id] = receipt
    unmatched: dict[tuple[str, str], Receipt] = {}
    for (provider, status), by_id in sorted(groups.items(), key=lambda g: DELIVERY_RANK[g[0][1]]):
        at = min((_utc(r.at, now) for r in by_id.values()), default=now)
        reached = status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
        result = await session.execute(
            update(M)
            .where(
                M.provider == provider,
                M.provider_message_id.in_(by_id),
                literal(DELIVERY_RANK[status]) > _RANK,
            )
            .values(
                delivery_status=status,
                delivered_at=case((M.delivered_at.is_(None), at), else_=M.delivered_at)
                if reached
                else M.delivered_at,
            )
            .returning(M.provider_message_id)
        )
        moved = set(result.scalars().all())
        applied += len(moved)
        for provider_id, receipt in by_id.items():
            if provider_id not in moved:
                unmatched[(provider, provider_id)] = receipt
    return applied, unmatched


async def _known(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    by_provider: dict[str, list[str]] = defaultdict(list)
    for provider, provider_id in keys:
        by_provider[provider].append(provider_id)
    known: set[tuple[str, str]] = set()
    for provider, ids in by_provider.items():
        found = await session.scalars(
            select(M.provider_message_id).where(
                M.provider == provider, M.provider_message_id.in_(ids)
            )
        )
        known |= {(provider, pid) for pid in found.all() if pid is not None}
    return known


async def apply_early(session: AsyncSession, now: datetime, limit: int = 1000) -> tuple[int, int]:
    """Apply the early receipts whose message has recorded the id, and forget those kept
    longer than EARLY_RECEIPTS_KEPT; (applied, forgotten)."""
    matched = exists().where(
        M.provider == EarlyReceipt.provider,
        M.provider_message_id == EarlyReceipt.provider_message_id,
    )
    rows = (
        await session.scalars(
            select(EarlyReceipt).where(matched).order_by(EarlyReceipt.id).limit(limit)
        )
    ).all()
    applied = 0
    if rows:
        receipts = [
            Receipt(r.provider, r.provider_message_id, DeliveryStatus(r.status), r.error, r.at)
            for r in rows
        ]
        applied = (await apply_receipts(session, receipts, now, keep_early=False)).applied
        await session.execute(delete(EarlyReceipt).where(EarlyReceipt.id.in_([r.id for r in rows])))
    forgotten = await session.execute(
        delete(EarlyReceipt).where(EarlyReceipt.received_at < now - EARLY_RECEIPTS_KEPT)
    )
    return applied, int(getattr(forgotten, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """An inbound message stored just now (not a provider's retry of one stored before)."""

    provider: str
    from_number: str
    text: str


async def store_inbound(
    session: AsyncSession, messages: Sequence[Inbound], now: datetime
) -> list[StoredInbound]:
    """Each inbound message once per (provider, provider id): a provider's retry of the
    same webhook stores nothing twice. The messages newly stored, in the order given."""
    if not messages:
        return []
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(InboundMessage).on_conflict_do_nothing(
        index_elements=["provider", "provider_message_id"],
        index_where=InboundMessage.provider_message_id.is_not(None),
    )
    result = await session.execute(
        statement.returning(
            InboundMessage.id,
            InboundMessage.provider,
            InboundMessage.from_number,
            InboundMessage.text,
        ),
        [
            {
                "provider": m.provider,
                "provider_message_id": m.provider_message_id,
                "from_number": m.from_number,
                "to_number": m.to_number,
                "text": m.text,
                "received_at": _utc(m.received_at, now),
                "raw": dict(m.raw),
            }
            for m in messages
        ],
    )
    rows = sorted(result.all(), key=lambda row: int(row[0]))  # ids ascend in insert order
    return [StoredInbound(str(row[1]), str(row[2]), str(row[3])) for row in rows]
