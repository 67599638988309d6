"""The background services a process can run beside (or instead of) the API: the outbox
relay, the worker, recovery and the scheduler, built from the process's Resources and
run under a Supervisor.

With nothing due they sleep on long timers and are woken instead: in memory through the
process's outbox signal (a send, a resume, a scheduled release committed here), and on
PostgreSQL through one LISTEN connection (background/listener.py) that hears the outbox
NOTIFY of every process's sends and the schedule NOTIFY of every schedule change.
"""

import contextlib
import enum
from collections.abc import Callable, Iterable
from functools import partial

from sqlalchemy.engine import make_url

from campaign_dispatch.background.listener import Listener
from campaign_dispatch.background.supervisor import Supervisor
from campaign_dispatch.compliance.rules import Rules
from campaign_dispatch.providers import MockSender
from campaign_dispatch.queue import QueueUnavailable
from campaign_dispatch.queue.memory import InProcessQueue
from campaign_dispatch.relay import Relay
from campaign_dispatch.repositories.outbox import NOTIFY_CHANNEL
from campaign_dispatch.repositories.wakeups import RECOVERY_CHANNEL, SCHEDULE_CHANNEL
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
        self._subscribed: list[Callable[[], None]] = []

    async def start(self, roles: Iterable[Role]) -> None:
        """Start the roles; the queue connects lazily if the broker is down."""
        roles = set(roles)
        r, s = self.resources, self.resources.settings
        with contextlib.suppress(QueueUnavailable):
            await r.queue.connect()
        signal = r.outbox_signal
        recovery = Recovery(
            r.database,
            r.repositories,
            r.queue,
            s.max_retries,
            s.requeue_after_seconds,
            min(5.0, s.lease_seconds / 2),
            idle_seconds=s.recovery_idle_seconds,
            on_repair=signal.wake,
        )
        # What the LISTEN connection wakes, by channel (PostgreSQL only).
        heard: dict[str, list[Callable[[], None]]] = {
            NOTIFY_CHANNEL: [],
            SCHEDULE_CHANNEL: [],
            RECOVERY_CHANNEL: [],
        }
        if Role.RELAY in roles:
            if isinstance(r.queue, InProcessQueue):
                await recovery.recover_in_process_queue(s.lease_seconds)
            relay = Relay(
                r.database,
                r.repositories.outbox,
                r.queue,
                s.relay_batch_size,
                s.relay_interval_seconds,
                hold_seconds=s.publish_timeout_seconds + 20,
                idle_seconds=s.relay_idle_seconds,
                on_publish=recovery.wake if Role.RECOVERY in roles else None,
            )
            self._subscribe(relay.wake)
            heard[NOTIFY_CHANNEL].append(relay.wake)
            self.supervisor.spawn("relay", relay.run)
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
            # A send committed anywhere may start work to watch over.
            self._subscribe(recovery.wake)
            heard[NOTIFY_CHANNEL].append(recovery.wake)
            # An early receipt kept anywhere, this process included (repositories/wakeups.py).
            heard[RECOVERY_CHANNEL].append(recovery.wake)
            self.supervisor.spawn("recovery", recovery.run)
        if Role.SCHEDULER in roles:
            scheduler = Scheduler(
                r.database,
                r.repositories.outbox,
                s.scheduler_interval_seconds,
                on_release=signal.wake,
                idle_seconds=s.scheduler_idle_seconds,
            )
            # The in-process signal stands for a schedule change made in this process too
            # (the API wakes it after such a commit), as the schedule NOTIFY does for others.
            self._subscribe(scheduler.wake)
            heard[SCHEDULE_CHANNEL].append(scheduler.wake)
            self.supervisor.spawn("scheduler", scheduler.run)
        heard = {channel: wakes for channel, wakes in heard.items() if wakes}
        if heard and r.database.dialect == "postgresql":  # NOTIFY on commit: look at once
            dsn = make_url(s.database_url).set(drivername="postgresql")
            listener = Listener(
                dsn.render_as_string(hide_password=False), heard, s.relay_idle_seconds
            )
            self.supervisor.spawn("listen", listener.run)

    def _subscribe(self, wake: Callable[[], None]) -> None:
        self.resources.outbox_signal.subscribe(wake)
        self._subscribed.append(wake)

    async def stop(self) -> None:
        """Stop taking work; in-flight work gets SHUTDOWN_GRACE_SECONDS, then is released."""
        await self.supervisor.stop(self.resources.settings.shutdown_grace_seconds)
        for wake in self._subscribed:
            self.resources.outbox_signal.unsubscribe(wake)
        self._subscribed.clear()
