"""Periodic repair: expired claims, jobs the broker lost, campaigns left `sending`,
receipts that arrived before their message recorded the id, campaigns past `expires_at`.

The sweep runs every `interval` while something is in flight — a claim (its lease may run
out), a published job (the broker may lose it), a message due to be published, a sending
campaign with nothing unfinished, an early receipt whose message recorded its id — as
read by one indexed query after each sweep (repositories/wakeups.py). With nothing in
flight it runs at the earliest known due time (a held message's or a retry's, an
unconfirmed relay batch's expiry, a campaign's expiry), and at most every
`idle_seconds`; a wake (a send committed here or, on PostgreSQL, anywhere; this
process's relay publishing) makes it read again at once. So while a campaign is in
flight a lease that runs out is taken back within `interval` of its expiry, as before.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.queue import Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import compliance as compliance_repo
from campaign_dispatch.repositories import receipts as receipts_repo
from campaign_dispatch.repositories import wakeups
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.scheduler.periodic import Wake, wait_until
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
        idle_seconds: float | None = None,
        on_repair: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.repositories = repositories
        self.queue = queue
        self.max_retries = max_retries
        self.requeue_after = timedelta(seconds=requeue_after_seconds)
        self.interval = interval
        # The longest gap between sweeps with nothing in flight (None: `interval`).
        self.idle_seconds = interval if idle_seconds is None else max(idle_seconds, interval)
        # Called when a sweep gave messages back to the outbox (wakes this process's relay).
        self.on_repair = on_repair
        self._wake = Wake()

    def wake(self) -> None:
        """Work may have started (a send committed, a batch published): read again now.
        A busy loop does not wait for it: it sweeps every `interval` anyway."""
        self._wake.set()

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
        if claims or abandoned or requeued:
            await self._announce()
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

    async def _announce(self) -> None:
        """Messages are unpublished again: wake the relays, here and (NOTIFY) elsewhere."""
        if self.on_repair is not None:
            self.on_repair()
        try:
            async with self.database.sessions.begin() as session:
                await self.repositories.outbox.notify(session)
        except Exception:  # the relays' own timers find them
            log.exception("could not notify the relays of recovered messages")

    async def plan(self) -> wakeups.Plan:
        """What the last sweep left: in flight (busy), or the next due time."""
        if self.idle_seconds <= self.interval:
            return wakeups.Plan(True, None)
        async with self.database.sessions.begin() as session:
            return await wakeups.recovery_plan(session, utcnow())

    async def run(self, stop: asyncio.Event) -> None:
        last_sweep = next_sweep = time.monotonic()
        while not stop.is_set():
            self._wake.clear()  # before the read: a wake during it is kept
            if time.monotonic() >= next_sweep:
                last_sweep = time.monotonic()
                try:
                    await self.sweep()
                except Exception:
                    log.exception("recovery sweep failed")
            try:
                plan = await self.plan()
            except Exception:
                log.exception("recovery could not read what is in flight; sweeping as if busy")
                plan = wakeups.Plan(True, None)
            if plan.busy:
                next_sweep = last_sweep + self.interval
            else:
                next_sweep = last_sweep + self.idle_seconds
                if plan.next_in is not None:
                    due = time.monotonic() + max(plan.next_in, 0.0) + 0.01
                    # never more often than `interval`, whatever is overdue
                    next_sweep = max(min(next_sweep, due), last_sweep + self.interval)
            # A wake that came during the sweep or the read is still set: idle, it makes
            # the loop read again at once.
            wakes = () if plan.busy else (self._wake,)
            await wait_until(next_sweep - time.monotonic(), stop, *wakes)
