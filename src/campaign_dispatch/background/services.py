"""The background services a process can run beside (or instead of) the API: the outbox
relay, the worker, recovery and the scheduler, built from the process's Resources and
run under a Supervisor."""

import contextlib
import enum
from collections.abc import Iterable
from functools import partial

from sqlalchemy.engine import make_url

from campaign_dispatch.background.supervisor import Supervisor
from campaign_dispatch.compliance.rules import Rules
from campaign_dispatch.providers import MockSender
from campaign_dispatch.queue import QueueUnavailable
from campaign_dispatch.queue.memory import InProcessQueue
from campaign_dispatch.relay import Relay
from campaign_dispatch.resources import Resources
from campaign_dispatch.scheduler.dispatch import Scheduler
from campaign_dispatch.scheduler.recovery import Recovery
from campaign_dispatch.statuses import Channel
from campaign_dispatch.worker.consumer import Worker
from campaign_dispatch.worker.decisions import RetryPolicy
from campaign_dispatch.worker.processor import AutoPause, BatchProcessor
from campaign_dispatch.worker.rate_limit import SharedRateLimit


class Role(enum.Enum):
    RELAY = "relay"
    WORKER = "worker"
    RECOVERY = "recovery"
    SCHEDULER = "scheduler"


class BackgroundServices:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.supervisor = Supervisor()
        self.relay: Relay | None = None

    async def start(self, roles: Iterable[Role]) -> None:
        """Start the roles; the queue connects lazily if the broker is down."""
        roles = set(roles)
        r, s = self.resources, self.resources.settings
        with contextlib.suppress(QueueUnavailable):
            await r.queue.connect()
        recovery = Recovery(
            r.database,
            r.repositories,
            r.queue,
            s.max_retries,
            s.requeue_after_seconds,
            min(5.0, s.lease_seconds / 2),
        )
        if Role.RELAY in roles:
            if isinstance(r.queue, InProcessQueue):
                await recovery.recover_in_process_queue(s.lease_seconds)
            self.relay = relay = Relay(
                r.database,
                r.repositories.outbox,
                r.queue,
                s.relay_batch_size,
                s.relay_interval_seconds,
                hold_seconds=s.publish_timeout_seconds + 20,
            )
            r.outbox_signal.subscribe(relay.wake)
            self.supervisor.spawn("relay", relay.run)
            if r.database.dialect == "postgresql":  # NOTIFY on commit: publish at once
                dsn = make_url(s.database_url).set(drivername="postgresql")
                plain = dsn.render_as_string(hide_password=False)
                self.supervisor.spawn("relay-listen", lambda stop: relay.listen(plain, stop))
        if Role.WORKER in roles:
            processor = BatchProcessor(
                r.database,
                r.repositories,
                r.queue,
                r.senders,
                r.personalizer,
                RetryPolicy(s.max_retries, s.retry_base_delay_ms),
                s.lease_seconds,
                AutoPause(s.auto_pause_failure_rate, s.auto_pause_window),
                SharedRateLimit(
                    r.database,
                    {
                        Channel.SMS: s.sms_rate_per_second,
                        Channel.WHATSAPP: s.whatsapp_rate_per_second,
                    },
                    budget=s.lease_seconds / 4,
                ),
                Rules(s.send_window, s.default_timezone),
            )
            worker = Worker(r.queue, processor, s.worker_concurrency, s.worker_batch_size)
            self.supervisor.spawn("worker", worker.run)
            mocks = {id(x): x for x in r.senders.values() if isinstance(x, MockSender)}
            for mock in mocks.values():
                if mock.receipts is not None:
                    self.supervisor.spawn(
                        "mock-receipts", partial(mock.receipts.run, db=r.database)
                    )
        if Role.RECOVERY in roles:
            self.supervisor.spawn("recovery", recovery.run)
        if Role.SCHEDULER in roles:
            scheduler = Scheduler(
                r.database,
                r.repositories.outbox,
                s.scheduler_interval_seconds,
                on_release=r.outbox_signal.wake,
            )
            self.supervisor.spawn("scheduler", scheduler.run)

    async def stop(self) -> None:
        """Stop taking work; in-flight work gets SHUTDOWN_GRACE_SECONDS, then is released."""
        await self.supervisor.stop(self.resources.settings.shutdown_grace_seconds)
        if self.relay is not None:
            self.resources.outbox_signal.unsubscribe(self.relay.wake)
            self.relay = None
