"""The shared provider rate limit's schedule: one row per channel (provider_rates).

Slots are spaced 1/rate apart (times a slowdown after throttled answers), so no second
at the provider holds more than the rate, however many workers share the row. Times are
epoch seconds by the database's clock on PostgreSQL (every worker agrees on it) and by
this process's on SQLite (one machine); each worker places them on its own monotonic
clock from the moment it read that clock (`Reservation.read_at`). The row is locked for
the reservation only.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import ProviderRate

MAX_SLOWDOWN = 16.0
RECOVERY_SECONDS = 30.0
"""A slowdown wears off linearly over this long after the last throttled answer."""


@dataclass(frozen=True)
class Reservation:
    now: float  # the clock the slots are on
    read_at: float  # time.monotonic() as `now` was read: where the slots fall locally
    slots: list[float | None]  # per request: when it may go; None: not within the budget
    next_free: float  # when the first slot after these is


def _slowdown(row: ProviderRate, now: float) -> float:
    worn = max(0.0, 1.0 - (now - row.slowed_at) / RECOVERY_SECONDS)
    return 1.0 + max(0.0, row.slowdown - 1.0) * worn


async def _locked(session: AsyncSession, channel: str) -> tuple[ProviderRate, float, float]:
    postgres = session.get_bind().dialect.name == "postgresql"
    clock = func.extract("epoch", func.clock_timestamp()) if postgres else literal(time.time())
    statement = select(ProviderRate, clock).where(ProviderRate.channel == channel)
    if postgres:
        statement = statement.with_for_update()
    row, now = (await session.execute(statement)).one()
    return row, float(now), time.monotonic()


async def reserve(
    session: AsyncSession, channel: str, costs: Sequence[int], rate: float, budget: float
) -> Reservation:
    """A slot for each request in order (a request of cost n takes n slots: an SMS of n
    segments), as long as it starts within `budget` seconds; the rest get none."""
    row, now, read_at = await _locked(session, channel)
    interval = _slowdown(row, now) / rate
    at = max(row.next_slot, now)
    slots: list[float | None] = []
    for cost in costs:
        if at - now > budget:
            slots.append(None)
            continue
        slots.append(at)
        at += max(cost, 1) * interval
    await session.execute(
        update(ProviderRate).where(ProviderRate.channel == channel).values(next_slot=at)
    )
    return Reservation(now, read_at, slots, at)


async def slow_down(session: AsyncSession, channel: str, retry_after: float | None) -> None:
    """The provider throttled us: halve the rate (once a second at most, however many
    answers a burst brings), and send nothing before its Retry-After."""
    row, now, _ = await _locked(session, channel)
    current = _slowdown(row, now)
    slowdown = current if now - row.slowed_at < 1.0 else min(MAX_SLOWDOWN, current * 2)
    await session.execute(
        update(ProviderRate)
        .where(ProviderRate.channel == channel)
        .values(
            slowdown=slowdown,
            slowed_at=now,
            next_slot=max(row.next_slot, now + (retry_after or 0.0)),
        )
    )
