"""What one process shares: settings, the database, the queue, the personalizer and the
senders. The API depends on this and nothing more; the background services
(background/) are built from it in the processes that run them."""

from collections.abc import Callable
from dataclasses import dataclass, field

from campaign_dispatch.config import Settings
from campaign_dispatch.db import Database
from campaign_dispatch.providers import MockSender, Sender
from campaign_dispatch.providers.events import WebhookHandler
from campaign_dispatch.providers.mock_receipts import MockReceipts
from campaign_dispatch.providers.registry import build_senders, build_webhook_handlers
from campaign_dispatch.queue import JobQueue, create_queue
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.services.receipts import WebhookIngest
from campaign_dispatch.statuses import Channel
from campaign_dispatch.templating import Personalizer, TemplatePersonalizer


@dataclass
class OutboxSignal:
    """Wakes this process's relays once a send has committed, so its messages go out now
    rather than at the next poll (relays in other processes hear PostgreSQL's NOTIFY)."""

    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def wake(self) -> None:
        for listener in self._listeners:
            listener()


@dataclass
class Resources:
    settings: Settings
    database: Database
    repositories: PipelineRepositories
    queue: JobQueue
    senders: dict[Channel, Sender]
    webhook_handlers: dict[str, WebhookHandler] = field(default_factory=dict)
    personalizer: Personalizer = field(default_factory=TemplatePersonalizer)
    outbox_signal: OutboxSignal = field(default_factory=OutboxSignal)
    _webhook_ingest: WebhookIngest | None = field(default=None, repr=False)

    @property
    def webhook_ingest(self) -> WebhookIngest:
        """The group commit of this process's webhook routes (services/receipts.py)."""
        if self._webhook_ingest is None:
            self._webhook_ingest = WebhookIngest(self.database, self.settings.default_region)
        return self._webhook_ingest

    @classmethod
    def create(cls, settings: Settings, sender: Sender | None = None) -> "Resources":
        """`sender` stands in for the mock (tests hand in their own provider)."""
        database = Database.connect(settings.database_url)
        sender = sender or MockSender(
            settings.mock_sender_failure_rate,
            settings.mock_sender_latency_ms,
            settings.mock_sender_seed,
            receipts=MockReceipts(
                settings.mock_delivery_rate,
                settings.mock_delivery_delay_ms,
                settings.mock_sender_seed,
            ),
        )
        return cls(
            settings=settings,
            database=database,
            repositories=PipelineRepositories.for_dialect(database.dialect),
            queue=create_queue(settings),
            senders=build_senders(settings, sender),
            webhook_handlers=build_webhook_handlers(settings),
        )

    async def close(self) -> None:
        await self.queue.close()
        for sender in {id(s): s for s in self.senders.values()}.values():
            await sender.aclose()
        await self.database.dispose()
