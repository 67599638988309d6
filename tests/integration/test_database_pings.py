"""Pooled PostgreSQL connections are pinged before use only when they sat idle: a dead
idle one is replaced unseen, a busy one costs no round trips (db/engine.py says why)."""

import asyncpg
import pytest
from sqlalchemy import text

from campaign_dispatch.db import engine as engine_module
from campaign_dispatch.db.engine import Database
from tests.conftest import _create_postgres_database
from tests.services import POSTGRES_URL, require

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url():
    require(POSTGRES_URL, 5432, "PostgreSQL")
    url, drop = _create_postgres_database()
    yield url
    drop()


async def _backend(database: Database) -> int:
    async with database.sessions.begin() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


async def test_an_idle_connection_that_died_is_replaced_before_use(database_url, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.0)  # every reuse counts as idle
    database = Database.connect(database_url, pool_size=1)
    try:
        first = await _backend(database)
        await _terminate(database_url, first)
        assert await _backend(database) != first  # pinged, found dead, replaced
    finally:
        await database.dispose()


async def test_a_connection_just_used_is_not_pinged(database_url, monkeypatch):
    pings: list[object] = []
    real = engine_module._ping

    def counted(connection: object) -> None:
        pings.append(connection)
        real(connection)

    monkeypatch.setattr(engine_module, "_ping", counted)
    database = Database.connect(database_url, pool_size=1)
    try:
        for _ in range(3):
            await _backend(database)
        assert pings == []  # each reuse came well within PING_IDLE_SECONDS
        monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 0.0)
        await _backend(database)
        assert len(pings) == 1
        # And a busy connection's death surfaces to the caller, as a statement cut off
        # mid-flight would; the pool then opens a new one for the next statement.
        monkeypatch.setattr(engine_module, "PING_IDLE_SECONDS", 60.0)
        dead = await _backend(database)
        await _terminate(database_url, dead)
        with pytest.raises(Exception, match=r"connection|closed|terminat"):
            await _backend(database)
        assert await _backend(database) != dead
    finally:
        await database.dispose()
