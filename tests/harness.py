"""A service process as the tests drive it: its Resources and, once started, the
background services it runs (the production code keeps the two apart)."""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from campaign_dispatch.background import BackgroundServices, Role
from campaign_dispatch.config import Settings
from campaign_dispatch.providers import Sender
from campaign_dispatch.queue import JobQueue
from campaign_dispatch.resources import Resources
from campaign_dispatch.statuses import Channel


class Process:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.background: BackgroundServices | None = None

    @classmethod
    def create(cls, settings: Settings, sender: Sender | None = None) -> "Process":
        return cls(Resources.create(settings, sender))

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self.resources.settings = value

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.database.sessions

    @property
    def engine(self) -> AsyncEngine:
        return self.resources.database.engine

    @property
    def queue(self) -> JobQueue:
        return self.resources.queue

    @property
    def sender(self) -> Sender:
        return self.resources.senders[Channel.SMS]

    @sender.setter
    def sender(self, sender: Sender) -> None:
        for channel in Channel:  # in place: a running worker holds this mapping
            self.resources.senders[channel] = sender

    async def start(self, roles: Iterable[Role]) -> None:
        self.background = BackgroundServices(self.resources)
        await self.background.start(roles)

    def wake_relay(self) -> None:
        self.resources.outbox_signal.wake()

    async def stop(self) -> None:
        if self.background is not None:
            await self.background.stop()
            self.background = None

    async def close(self) -> None:
        await self.stop()
        await self.resources.close()
