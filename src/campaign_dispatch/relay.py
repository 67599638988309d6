"""The transactional outbox relay: publishes committed messages that are due and unpublished.

A message row is its own outbox entry (`enqueued_at IS NULL`). The relay marks a batch
published in one short statement (SKIP LOCKED, so several relays share the work), then
publishes it with confirms, holding no transaction or row lock while the broker answers.
If the broker is down, refuses, or does not confirm within PUBLISH_TIMEOUT_SECONDS, the
batch is given back (unpublished again) and tried later; if this process dies between
the mark and the confirms, the batch's record outlives it and the recovery sweep gives
the batch back once the record expires (`hold` after the mark). The send endpoint never
waits for the broker, and nothing is lost.

Relays poll, and on PostgreSQL they also LISTEN: a send's transaction NOTIFYs on commit,
so jobs go out at once even when the relay runs in another process than the API.
"""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.queue import Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories.outbox import NOTIFY_CHANNEL, OutboxRepository, TakenBatch

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
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a send commits)."""
        self._wake.set()

    async def publish_due(self) -> int:
        async with self.database.statement_sessions.begin() as session:
            batch = await self.outbox.take_due(session, utcnow(), self.batch_size, self.hold)
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

    async def listen(self, dsn: str, stop: asyncio.Event) -> None:
        """LISTEN for committed sends until `stop`; reconnects, since polling covers gaps."""

        def on_notify(*_: Any) -> None:
            self.wake()

        while not stop.is_set():
            try:
                connection = await asyncpg.connect(dsn)
                try:
                    await connection.add_listener(NOTIFY_CHANNEL, on_notify)
                    self.wake()  # anything committed while we were not listening
                    while not stop.is_set() and not connection.is_closed():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 5)
                finally:
                    await connection.close(timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("outbox LISTEN connection failed; polling meanwhile", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)

    async def run(self, stop: asyncio.Event) -> None:
        """`concurrency` publishing loops: while one waits for the broker's confirms,
        another locks and publishes the next batch (SKIP LOCKED keeps them apart). One
        that dies takes the others down with it, so the supervisor sees the failure."""
        async with asyncio.TaskGroup() as loops:
            for i in range(self.concurrency):
                loops.create_task(self._loop(stop), name=f"relay-loop-{i}")

    async def _loop(self, stop: asyncio.Event) -> None:
        delay = self.interval
        while not stop.is_set():
            self._wake.clear()  # cleared before looking, so a wake during the look is kept
            try:
                published = await self.publish_due()
                delay = self.interval
            except QueueUnavailable as exc:
                log.warning(
                    "broker unavailable; outbox kept for later", error=str(exc), retry_in_s=delay
                )
                published, delay = 0, min(max(delay, 0.5) * 2, 10)
            except Exception:
                log.exception("outbox relay failed; retrying", retry_in_s=delay)
                published, delay = 0, min(max(delay, 0.5) * 2, 10)
            if published >= self.batch_size:
                continue
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
