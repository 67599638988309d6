"""Periodic repair: expired claims, jobs the broker lost, campaigns left `sending`."""

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch.clock import utcnow
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.scheduler.periodic import run_every

log = structlog.get_logger(__name__)


class Recovery:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_retries: int,
        requeue_after_seconds: float,
        interval: float,
    ) -> None:
        self.sessions = sessions
        self.max_retries = max_retries
        self.requeue_after = timedelta(seconds=requeue_after_seconds)
        self.interval = interval

    async def sweep(self) -> None:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            expired = await pipeline.expire_leases(session, now, self.max_retries)
            requeued = await pipeline.requeue_lost(session, now - self.requeue_after)
        async with self.sessions() as session, session.begin():
            finished = await pipeline.complete_campaigns(session, None, now)
        if expired or requeued or finished:
            log.info(
                "recovered",
                expired_claims=len(expired),
                requeued=requeued,
                campaigns_finished=finished,
            )

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.interval, stop, self.sweep, "recovery sweep")
