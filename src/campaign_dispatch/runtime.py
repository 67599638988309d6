"""What one process shares (settings, database, queue, personalizer) and the background
services it runs: the outbox relay, the worker, recovery and the scheduler."""

import asyncio
import contextlib
import enum
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from campaign_dispatch.clock import utcnow
from campaign_dispatch.config import Settings
from campaign_dispatch.db import create_engine, create_session_factory
from campaign_dispatch.queue import JobQueue, QueueUnavailable, create_queue
from campaign_dispatch.queue.memory import InProcessQueue
from campaign_dispatch.relay import Relay
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.scheduler.recovery import Recovery
from campaign_dispatch.templating import Personalizer, TemplatePersonalizer
from campaign_dispatch.worker.consumer import Worker
from campaign_dispatch.worker.processor import BatchProcessor
from campaign_dispatch.worker.sender import MockSender, Sender

log = structlog.get_logger(__name__)


class Role(enum.Enum):
    RELAY = "relay"
    WORKER = "worker"
    RECOVERY = "recovery"
    SCHEDULER = "scheduler"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    queue: JobQueue
    sender: Sender
    personalizer: Personalizer = field(default_factory=TemplatePersonalizer)
    relay: Relay | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, sender: Sender | None = None) -> "Runtime":
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            queue=create_queue(settings),
            sender=sender
            or MockSender(
                settings.mock_sender_failure_rate,
                settings.mock_sender_latency_ms,
                settings.mock_sender_seed,
            ),
        )

    @property
    def embedded_queue(self) -> bool:
        return isinstance(self.queue, InProcessQueue)

    async def start(self, roles: Iterable[Role]) -> None:
        """Start the background services; the queue connects lazily if the broker is down."""
        roles = set(roles)
        self._stop.clear()
        with contextlib.suppress(QueueUnavailable):
            await self.queue.connect()
        s = self.settings
        if Role.RELAY in roles:
            if self.embedded_queue:
                await self._recover_embedded()
            self.relay = Relay(
                self.sessions, self.queue, s.relay_batch_size, s.relay_interval_seconds
            )
            self._spawn("relay", self.relay.run(self._stop))
            if s.is_postgres:  # sends NOTIFY on commit: publish at once, not at the next poll
                dsn = make_url(s.database_url).set(drivername="postgresql")
                listen = self.relay.listen(dsn.render_as_string(hide_password=False), self._stop)
                self._spawn("relay-listen", listen)
        if Role.WORKER in roles:
            processor = BatchProcessor(self.sessions, self.queue, self.sender, self.personalizer, s)
            worker = Worker(self.queue, processor, s.worker_concurrency, s.worker_batch_size)
            self._spawn("worker", worker.run(self._stop))
        if Role.RECOVERY in roles:
            recovery = Recovery(
                self.sessions,
                self.queue,
                s.max_retries,
                s.requeue_after_seconds,
                min(5.0, s.lease_seconds / 2),
            )
            self._spawn("recovery", recovery.run(self._stop))
        if Role.SCHEDULER in roles:
            from campaign_dispatch.scheduler.dispatch import Scheduler

            scheduler = Scheduler(
                self.sessions, s.scheduler_interval_seconds, on_release=self.wake_relay
            )
            self._spawn("scheduler", scheduler.run(self._stop))

    def _spawn(self, name: str, coroutine: Coroutine[object, object, None]) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def _recover_embedded(self) -> None:
        """The in-process queue starts empty: whatever was queued or claimed is redone."""
        async with self.sessions() as session, session.begin():
            forgotten = await pipeline.forget_enqueued(session)
            now = utcnow()
            crashed = await pipeline.expire_leases(
                session, now, self.settings.max_retries, expired_before=now + self._lease_horizon()
            )
        if forgotten or crashed:
            log.info("recovered unfinished work", republish=forgotten, interrupted=len(crashed))

    def _lease_horizon(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds + 1)

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def queue_ready(self) -> bool:
        return await self.queue.ready()

    async def stop(self) -> None:
        """Stop taking work, let in-flight jobs finish, then return."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()

    async def close(self) -> None:
        await self.stop()
        await self.queue.close()
        await self.engine.dispose()
