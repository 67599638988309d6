"""Periodic repair: expired claims, jobs the broker lost, campaigns left `sending`,
receipts that arrived before their message recorded the id."""

import asyncio
from datetime import datetime, timedelta

import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.queue import Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import compliance as compliance_repo
from campaign_dispatch.repositories import receipts as receipts_repo
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.scheduler.periodic import run_every
from campaign_dispatch.statuses import MessageStatus

log = structlog.get_logger(__name__)


class Recovery:
    def __init__(
        self,
        database: Database,
        repositories: PipelineRepositories,
        queue: JobQueue,
        max_retries: int,
        requeue_after_seconds: float,
        interval: float,
    ) -> None:
        self.database = database
        self.repositories = repositories
        self.queue = queue
        self.max_retries = max_retries
        self.requeue_after = timedelta(seconds=requeue_after_seconds)
        self.interval = interval

    async def sweep(self) -> None:
        now = utcnow()
        async with self.database.sessions.begin() as session:
            claims = await self.repositories.recovery.expire_leases(session, now, self.max_retries)
        failed = [e for e in claims if e.status == MessageStatus.FAILED]
        for claim in failed:
            await self._dead_letter(claim.message_id, claim.attempt)
        async with self.database.sessions.begin() as session:
            abandoned = await self.repositories.outbox.release_abandoned(session, now)
        requeued = await self._requeue_lost(now)
        async with self.database.sessions.begin() as session:
            expired, _ = await compliance_repo.expire(session, now)
        if expired:
            metrics.MESSAGES_EXPIRED.inc(expired)
        async with self.database.sessions.begin() as session:
            finished = await self.repositories.outcomes.complete_campaigns(session, None, now)
        async with self.database.sessions.begin() as session:
            receipts, forgotten = await receipts_repo.apply_early(session, now)
        if receipts:
            metrics.RECEIPTS.labels("early", "applied").inc(receipts)
        if forgotten:
            metrics.RECEIPTS.labels("early", "unknown").inc(forgotten)
        if claims or abandoned or requeued or expired or finished or receipts:
            log.info(
                "recovered",
                expired_claims=len(claims),
                abandoned_publishes=abandoned,
                failed_for_good=len(failed),
                requeued=requeued,
                campaigns_finished=finished,
                early_receipts_applied=receipts,
                messages_expired=expired,
            )

    async def recover_in_process_queue(self, lease_seconds: float) -> None:
        """The in-process queue starts empty and no claim outlives the process that made
        it: whatever was queued or claimed before this start is redone."""
        now = utcnow()
        horizon = now + timedelta(seconds=lease_seconds + 1)
        recovery = self.repositories.recovery
        async with self.database.sessions.begin() as session:
            forgotten = await recovery.forget_enqueued(session)
            crashed = await recovery.expire_leases(
                session, now, self.max_retries, expired_before=horizon
            )
        if forgotten or crashed:
            log.info("recovered unfinished work", republish=forgotten, interrupted=len(crashed))

    async def _requeue_lost(self, now: datetime) -> int:
        """Republish jobs published more than `requeue_after` ago and still not consumed,
        whatever else waits in the queue: on a busy system the queue may never be empty,
        and a lost job must not leave its campaign `sending` for good. The relay stamps a
        republished job anew, so a job the broker does still hold gets at most one
        duplicate per `requeue_after`; a duplicate claims nothing and is acknowledged."""
        async with self.database.sessions.begin() as session:
            return await self.repositories.recovery.requeue_lost(session, now, self.requeue_after)

    async def _dead_letter(self, message_id: int, attempt: int) -> None:
        reason = f"failed after {attempt} retries: worker lease expired"
        try:
            await self.queue.dead_letter(Job(message_id, attempt).encode(), reason)
        except QueueUnavailable as exc:  # the database already holds the outcome
            log.warning("dead-letter copy not published", message_id=message_id, error=str(exc))

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.interval, stop, self.sweep, "recovery sweep")
