"""One batch of jobs: claim in the database, render, send, record, then acknowledge.

Acks come only after the outcome is committed. A job whose message is unknown, final,
or already past that attempt is acknowledged and ignored, never retried.
"""

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.config import Settings
from campaign_dispatch.queue import Delivery, Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.repositories.pipeline import Claimed, Outcome
from campaign_dispatch.templating import Personalizer, TemplateError
from campaign_dispatch.worker.retry import backoff_seconds
from campaign_dispatch.worker.sender import Sender, SendError

log = structlog.get_logger(__name__)


@dataclass
class _Attempt:
    claim: Claimed
    rendered: str | None = None
    error: str | None = None
    retryable: bool = True


async def _one_statement_at_a_time(session: AsyncSession) -> None:
    """On PostgreSQL the claim and the outcomes are one atomic statement each: run them
    in autocommit and save the BEGIN and COMMIT round trips. (SQLite keeps its BEGIN
    IMMEDIATE transactions and the several statements it needs there.)"""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@dataclass
class BatchProcessor:
    sessions: async_sessionmaker[AsyncSession]
    queue: JobQueue
    sender: Sender
    personalizer: Personalizer
    settings: Settings
    rng: random.Random = field(default_factory=random.Random)
    _templates: dict[int, tuple[str, str]] = field(default_factory=dict)
    completion_interval: float = 0.25
    _unchecked: set[int] = field(default_factory=set)
    _checked_at: float = 0.0

    async def process(self, deliveries: Sequence[Delivery]) -> None:
        jobs: dict[int, tuple[Job, Delivery]] = {}
        ignored: list[Delivery] = []
        for delivery in deliveries:
            try:
                job = Job.decode(delivery.body)
            except ValueError as exc:
                await self._dead_letter(delivery.body, f"malformed job: {exc}")
                ignored.append(delivery)
                continue
            if job.message_id in jobs:  # the same job twice in one batch
                ignored.append(delivery)
            else:
                jobs[job.message_id] = (job, delivery)

        attempts, customers = await self._claim([job for job, _ in jobs.values()])
        claimed_ids = {a.claim.message_id for a in attempts}
        ignored += [d for mid, (_, d) in jobs.items() if mid not in claimed_ids]
        if len(claimed_ids) < len(jobs):
            log.debug("ignored stale jobs", count=len(jobs) - len(claimed_ids))

        metrics.IN_FLIGHT.inc(len(attempts))
        try:
            await asyncio.gather(*(self._attempt(a, customers) for a in attempts))
        finally:
            metrics.IN_FLIGHT.dec(len(attempts))
        await self._record(attempts)
        for delivery in [*ignored, *(jobs[a.claim.message_id][1] for a in attempts)]:
            await delivery.ack()
        await self.complete_finished()

    async def _claim(
        self, jobs: list[Job]
    ) -> tuple[list[_Attempt], dict[int, dict[str, object | None]]]:
        if not jobs:
            return [], {}
        lease = timedelta(seconds=self.settings.lease_seconds)
        async with self.sessions() as session, session.begin():
            await _one_statement_at_a_time(session)
            claims, customers = await pipeline.claim_with_customers(session, jobs, utcnow(), lease)
            if not claims:
                return [], {}
            if len(self._templates) > 10_000:  # bounded; cleared before use, never during
                self._templates.clear()
            missing = [c.campaign_id for c in claims if c.campaign_id not in self._templates]
            if missing:
                self._templates.update(await pipeline.campaign_templates(session, missing))
        return [_Attempt(c) for c in claims], customers

    async def _attempt(
        self, attempt: _Attempt, customers: dict[int, dict[str, object | None]]
    ) -> None:
        claim = attempt.claim
        template, channel = self._templates[claim.campaign_id]
        values = customers[claim.customer_id]
        try:
            attempt.rendered = await self.personalizer.personalize(
                template, values, channel=channel
            )
        except TemplateError as exc:  # cannot get better by retrying
            attempt.error, attempt.retryable = f"template error: {exc}", False
            return
        except Exception as exc:  # a personalizer fault fails this attempt, not the batch
            log.exception("personalizer raised unexpectedly", message_id=claim.message_id)
            attempt.error = f"personalization failed: {exc!r}"
            return
        with metrics.SEND_ATTEMPT_SECONDS.time():
            try:
                # Well inside the lease, so a slow provider cannot outlive our claim.
                async with asyncio.timeout(self.settings.lease_seconds / 2):
                    await self.sender.send(
                        message_id=claim.message_id,
                        channel=channel,
                        phone=str(values["phone"]),
                        text=attempt.rendered,
                    )
            except SendError as exc:
                attempt.error = str(exc) or type(exc).__name__
            except TimeoutError:
                attempt.error = f"provider timed out after {self.settings.lease_seconds / 2:g}s"
            except Exception as exc:
                log.exception("sender raised unexpectedly", message_id=claim.message_id)
                attempt.error = f"unexpected sender error: {exc!r}"

    async def _record(self, attempts: list[_Attempt]) -> None:
        if not attempts:
            return
        now = utcnow()
        outcomes: list[Outcome] = []
        retries: list[tuple[Job, float]] = []
        for a in attempts:
            retry_at = None
            if (
                a.error is not None
                and a.retryable
                and a.claim.retry_count < self.settings.max_retries
            ):
                retry_number = a.claim.retry_count + 1
                delay = backoff_seconds(retry_number, self.settings.retry_base_delay_ms, self.rng)
                retry_at = now + timedelta(seconds=delay)
                retries.append((Job(a.claim.message_id, retry_number), delay))
            outcomes.append(
                Outcome(a.claim.message_id, a.claim.retry_count, a.rendered, a.error, retry_at)
            )
        async with self.sessions() as session, session.begin():
            await _one_statement_at_a_time(session)
            await pipeline.record_outcomes(session, outcomes, now)

        final = [o for o in outcomes if o.retry_at is None]
        metrics.MESSAGES_SENT.inc(sum(o.error is None for o in final))
        metrics.MESSAGES_FAILED.inc(sum(o.error is not None for o in final))
        metrics.MESSAGES_RETRIED.inc(len(retries))
        await self._schedule_retries(retries)
        for o in final:
            if o.error is not None:
                reason = f"failed after {self.settings.max_retries} retries: {o.error}"
                await self._dead_letter(
                    Job(o.message_id, self.settings.max_retries).encode(), reason
                )
        if final:
            by_id = {a.claim.message_id: a.claim.campaign_id for a in attempts}
            self._unchecked.update(by_id[o.message_id] for o in final)

    async def complete_finished(self, now: bool = False) -> None:
        """Complete the campaigns this worker recorded final outcomes for, if finished.

        Checked after the outcomes committed, so of the workers recording a campaign's
        last messages, the last to commit sees them all. While jobs keep coming the check
        runs at most every `completion_interval` seconds (a campaign finishes once); the
        worker asks for it `now` whenever it runs out of jobs and when it stops.
        """
        if not self._unchecked:
            return
        clock = time.monotonic()
        if not now and clock - self._checked_at < self.completion_interval:
            return
        campaigns, self._unchecked = sorted(self._unchecked), set()
        self._checked_at = clock
        try:
            async with self.sessions() as session, session.begin():
                done = await pipeline.complete_campaigns(session, campaigns, utcnow())
        except BaseException:
            self._unchecked.update(campaigns)  # the recovery sweep is the backstop
            raise
        for campaign_id in done:
            log.info("campaign finished", campaign_id=campaign_id)

    async def _schedule_retries(self, retries: list[tuple[Job, float]]) -> None:
        """Hand retries to the delay queues; any not handed over, the relay publishes when due."""
        published: list[int] = []
        for job, delay in retries:
            try:
                await self.queue.publish_retry(job, delay)
            except QueueUnavailable as exc:
                log.warning("retry left to the outbox", message_id=job.message_id, error=str(exc))
                break
            published.append(job.message_id)
        if published:
            async with self.sessions() as session, session.begin():
                await pipeline.mark_enqueued(session, published, utcnow())

    async def _dead_letter(self, body: bytes, reason: str) -> None:
        try:
            await self.queue.dead_letter(body, reason)
        except QueueUnavailable as exc:  # the database already holds the outcome
            log.warning("dead-letter copy not published", reason=reason, error=str(exc))
