"""Periodic repair: expired claims, jobs the broker lost, campaigns left `sending`."""

import asyncio
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch.clock import utcnow
from campaign_dispatch.queue import Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.scheduler.periodic import run_every

log = structlog.get_logger(__name__)


class Recovery:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        queue: JobQueue,
        max_retries: int,
        requeue_after_seconds: float,
        interval: float,
    ) -> None:
        self.sessions = sessions
        self.queue = queue
        self.max_retries = max_retries
        self.requeue_after = timedelta(seconds=requeue_after_seconds)
        self.interval = interval

    async def sweep(self) -> None:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            expired = await pipeline.expire_leases(session, now, self.max_retries)
        failed = [message_id for message_id, _, status in expired if status == "failed"]
        for message_id in failed:
            await self._dead_letter(message_id)
        requeued = await self._requeue_lost(now)
        async with self.sessions() as session, session.begin():
            finished = await pipeline.complete_campaigns(session, None, now)
        if expired or requeued or finished:
            log.info(
                "recovered",
                expired_claims=len(expired),
                failed_for_good=len(failed),
                requeued=requeued,
                campaigns_finished=finished,
            )

    async def _requeue_lost(self, now: datetime) -> int:
        """Republish jobs published long ago, but only when the queue is empty: while
        jobs still wait in it (workers down or slow), nothing was lost."""
        try:
            if await self.queue.waiting() > 0:
                return 0
        except QueueUnavailable:
            return 0
        async with self.sessions() as session, session.begin():
            return await pipeline.requeue_lost(session, now - self.requeue_after)

    async def _dead_letter(self, message_id: int) -> None:
        reason = f"failed after {self.max_retries} retries: worker lease expired"
        try:
            await self.queue.dead_letter(Job(message_id, self.max_retries).encode(), reason)
        except QueueUnavailable as exc:  # the database already holds the outcome
            log.warning("dead-letter copy not published", message_id=message_id, error=str(exc))

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.interval, stop, self.sweep, "recovery sweep")
