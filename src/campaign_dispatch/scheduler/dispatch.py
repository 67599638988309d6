"""Scheduled dispatch: releases each due campaign exactly once, however many schedulers run.

A due campaign is locked with SKIP LOCKED (PostgreSQL) and moved scheduled → sending by a
conditional update in the same transaction that creates its messages, so a second
scheduler either skips the locked row or finds it no longer `scheduled`. A crash
mid-release rolls the whole transaction back; the next pass releases it again.
"""

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Campaign, CampaignAudience
from campaign_dispatch.services.dispatch import release_scheduled

log = structlog.get_logger(__name__)


class Scheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = 1.0,
        on_release: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.on_release = on_release

    async def release_one(self) -> int | None:
        """Release the most overdue campaign; its id, or None when nothing is due."""
        async with self.sessions() as session, session.begin():
            has_audience = exists().where(CampaignAudience.campaign_id == Campaign.id)
            campaign_id = await session.scalar(
                select(Campaign.id)
                .where(
                    Campaign.status == "scheduled", Campaign.scheduled_at <= utcnow(), has_audience
                )
                .order_by(Campaign.scheduled_at, Campaign.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if campaign_id is None:
                return None
            queued = await release_scheduled(session, campaign_id)
        if queued is not None:
            log.info("scheduled campaign released", campaign_id=campaign_id, messages=queued)
            if self.on_release:
                self.on_release()
        return campaign_id

    async def release_due(self) -> list[int]:
        released = []
        while (campaign_id := await self.release_one()) is not None:
            released.append(campaign_id)
        return released

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.release_due()
            except Exception:
                log.exception("scheduler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
