"""The transactional outbox relay: publishes committed messages that are due and unpublished.

A message row is its own outbox entry (`enqueued_at IS NULL`), or on PostgreSQL a send's
messages are covered by one outbox range (repositories/outbox.py). The relay marks a
batch published, or takes a piece of a range, in one short statement (SKIP LOCKED, so
several relays share the work), then publishes it with confirms, holding no transaction
or row lock while the broker answers.
If the broker is down, refuses, or does not confirm within PUBLISH_TIMEOUT_SECONDS, the
batch is given back (unpublished again) and tried later; if this process dies between
the mark and the confirms, the batch's record outlives it and the recovery sweep gives
the batch back once the record expires (`hold` after the mark). The send endpoint never
waits for the broker, and nothing is lost.

A relay looks again after every wake (an in-process signal after a commit; on PostgreSQL
a send's NOTIFY, heard by background/listener.py, so jobs go out at once even when the
relay runs in another process than the API). Between wakes it polls every `interval`
only while work is in flight (a claim or a published job may turn into a retry, which the
worker writes without waking anyone); with nothing in flight it sleeps until the earliest
unpublished message is due (a retry's backoff, a send window's opening), read with one
indexed query (repositories/wakeups.py), and at most `idle_seconds`.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta

import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.queue import Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import wakeups
from campaign_dispatch.repositories.outbox import OutboxRepository, TakenBatch

log = structlog.get_logger(__name__)


class Relay:
    def __init__(
        self,
        database: Database,
        outbox: OutboxRepository,
        queue: JobQueue,
        batch_size: int = 2000,
        interval: float = 0.2,
        concurrency: int = 2,
        hold_seconds: float = 30.0,
        idle_seconds: float | None = None,
        on_publish: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.queue = queue
        self.batch_size = batch_size
        self.interval = interval
        self.concurrency = max(1, concurrency)
        # How long a taken batch's record lasts: past the publish timeout, so that only a
        # relay that died (not a slow one) has its batch given back under it.
        self.hold = timedelta(seconds=hold_seconds)
        # The longest sleep with nothing in flight (None: `interval`, polling as before).
        self.idle_seconds = interval if idle_seconds is None else max(idle_seconds, interval)
        self.on_publish = on_publish
        self._wake = asyncio.Event()
        self._plan: wakeups.Plan | None = None
        self._plan_read_at = 0.0

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a send commits)."""
        self._wake.set()

    async def publish_due(self) -> int:
        # Marked messages first (retries, resumed or recovered ones: usually few), then a
        # piece of a send's range, so that a large send does not hold them back.
        async with self.database.statement_sessions.begin() as session:
            batch = await self.outbox.take_due(session, utcnow(), self.batch_size, self.hold)
        if batch.batch_id is None:
            async with self.database.statement_sessions.begin() as session:
                batch = await self.outbox.take_range(session, self.batch_size, self.hold)
        if batch.batch_id is None:
            return 0
        jobs = [Job(d.message_id, d.attempt) for d in batch.messages]
        try:
            await self.queue.publish(jobs)
        except BaseException:
            # Refused, timed out or cancelled at shutdown: unpublished again, so that the
            # next look (here or in another relay) publishes them. A job the broker did
            # take after all is then published twice; the second claims nothing.
            await asyncio.shield(self._give_back(batch))
            raise
        metrics.JOBS_PUBLISHED.inc(len(jobs))
        self._plan = None  # in flight now, whatever was read before
        if self.on_publish is not None:
            self.on_publish()
        try:
            async with self.database.statement_sessions.begin() as session:
                await self.outbox.confirm(session, batch.batch_id)
        except Exception:  # the sweep releases the record; the jobs may go out twice
            log.exception("could not drop a published batch's record", batch=batch.batch_id)
        return len(jobs)

    async def _give_back(self, batch: TakenBatch) -> None:
        try:
            async with self.database.statement_sessions.begin() as session:
                await self.outbox.give_back(session, batch)
        except Exception:
            log.exception(
                "could not give back unpublished jobs; the recovery sweep will",
                count=len(batch.messages),
            )

    async def _idle_delay(self) -> float:
        """How long to sleep after a look that found nothing more to publish: `interval`
        while work is in flight, else until the next unpublished message is due, at most
        `idle_seconds`. The loops share one read: while busy it is read again once a
        second; an idle one serves the loops that woke with it (a publish drops it)."""
        if self.idle_seconds <= self.interval:
            return self.interval
        clock = time.monotonic()
        age = clock - self._plan_read_at
        plan = self._plan
        if plan is None or age >= (1.0 if plan.busy else 0.1):
            async with self.database.statement_sessions.begin() as session:
                plan = self._plan = await wakeups.relay_plan(session, utcnow())
            self._plan_read_at, age = clock, 0.0
        if plan.busy:
            return self.interval
        if plan.next_in is None:
            return self.idle_seconds
        # A little past the due time, so the look finds it due; never a spin on one that
        # is due now but not taken (another relay holds it).
        return min(self.idle_seconds, max(self.interval, plan.next_in - age + 0.01))

    async def run(self, stop: asyncio.Event) -> None:
        """`concurrency` publishing loops: while one waits for the broker's confirms,
        another locks and publishes the next batch (SKIP LOCKED keeps them apart). One
        that dies takes the others down with it, so the supervisor sees the failure."""
        async with asyncio.TaskGroup() as loops:
            for i in range(self.concurrency):
                loops.create_task(self._loop(stop), name=f"relay-loop-{i}")

    async def _loop(self, stop: asyncio.Event) -> None:
        # After a failure the next look backs off from 1 s to 10 s, doubling; a success
        # resets it. It is kept apart from the idle delay: a failure right after a long
        # idle sleep must not wait as long as that sleep.
        backoff = 0.0
        while not stop.is_set():
            self._wake.clear()  # cleared before looking, so a wake during the look is kept
            try:
                published = await self.publish_due()
                backoff, delay = 0.0, self.interval
                if published < self.batch_size:
                    delay = await self._idle_delay()
            except QueueUnavailable as exc:
                published, backoff = 0, min(max(backoff, 0.5) * 2, 10.0)
                delay = backoff
                log.warning(
                    "broker unavailable; outbox kept for later", error=str(exc), retry_in_s=delay
                )
            except Exception:
                published, backoff = 0, min(max(backoff, 0.5) * 2, 10.0)
                delay = backoff
                log.exception("outbox relay failed; retrying", retry_in_s=delay)
            if published >= self.batch_size:
                continue
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
