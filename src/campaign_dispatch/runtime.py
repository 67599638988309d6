"""What a process shares: settings, the database and the personalizer (and, later, the queue)."""

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from campaign_dispatch.config import Settings
from campaign_dispatch.db import create_engine, create_session_factory
from campaign_dispatch.templating import Personalizer, TemplatePersonalizer


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    personalizer: Personalizer = field(default_factory=TemplatePersonalizer)

    @classmethod
    def create(cls, settings: Settings) -> "Runtime":
        engine = create_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=create_session_factory(engine))

    async def queue_ready(self) -> bool:
        return True

    async def close(self) -> None:
        await self.engine.dispose()
