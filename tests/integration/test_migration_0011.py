"""Migration 0011: message_attempts lost its foreign key to outbound_messages, and its
cascade became a trigger. A message's attempts still go with it, however the message
goes (its campaign's delete, its own, a TRUNCATE), on SQLite and PostgreSQL; and the
migration runs both ways over a database that holds attempts."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from campaign_dispatch.db import create_engine
from campaign_dispatch.db.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS, own_database


@pytest.fixture(params=BACKENDS)
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own at head (these tests downgrade it)."""
    with own_database(request.param, tmp_path) as url:
        yield url


SEED = [
    "INSERT INTO customers (id, phone, created_at, updated_at) VALUES "
    "(1, '+254700000001', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "(2, '+254700000002', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO campaigns (id, name, channel, status, base_template, created_at, updated_at) "
    "VALUES (1, 'a', 'sms', 'sent', 'Hi', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "(2, 'b', 'sms', 'sent', 'Hi', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO outbound_messages (id, campaign_id, customer_id, status, retry_count, "
    "available_at, created_at, updated_at) VALUES "
    "(1, 1, 1, 'sent', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "(2, 1, 2, 'sent', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
    "(3, 2, 1, 'sent', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO message_attempts (message_id, campaign_id, attempt, at, outcome) VALUES "
    "(1, 1, 1, CURRENT_TIMESTAMP, 'retry'), (1, 1, 2, CURRENT_TIMESTAMP, 'sent'), "
    "(2, 1, 1, CURRENT_TIMESTAMP, 'sent'), (3, 2, 1, CURRENT_TIMESTAMP, 'sent')",
]


def run(url: str, *statements: str) -> list[tuple[int, int]]:
    """Execute `statements` in one transaction; the attempts left, (message, attempt)."""

    async def go() -> list[tuple[int, int]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
                rows = await connection.execute(
                    text("SELECT message_id, attempt FROM message_attempts ORDER BY 1, 2")
                )
                return [(int(m), int(a)) for m, a in rows.all()]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def foreign_keys(url: str) -> list[str]:
    async def go() -> list[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                keys = await connection.run_sync(
                    lambda c: inspect(c).get_foreign_keys("message_attempts")
                )
                return [str(k["name"]) for k in keys]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_campaigns_delete_takes_its_messages_attempts(migrated):
    assert foreign_keys(migrated) == []
    assert run(migrated, *SEED, "DELETE FROM campaigns WHERE id = 1") == [(3, 1)]


def test_a_messages_delete_takes_its_attempts_only(migrated):
    assert run(migrated, *SEED, "DELETE FROM outbound_messages WHERE id = 2") == [
        (1, 1),
        (1, 2),
        (3, 1),
    ]


@pytest.mark.postgres
def test_a_truncate_of_the_messages_empties_the_attempts(tmp_path):
    with own_database("postgres", tmp_path) as url:
        assert run(url, *SEED, "TRUNCATE outbound_messages") == []


def test_the_migration_runs_both_ways_over_attempts(migrated):
    seeded = run(migrated, *SEED)
    command.downgrade(alembic_config(migrated), "0010")
    assert foreign_keys(migrated) == ["fk_message_attempts_message_id_outbound_messages"]
    assert run(migrated) == seeded
    upgrade(migrated)
    assert foreign_keys(migrated) == []
    assert run(migrated, "DELETE FROM outbound_messages WHERE id = 1") == [(2, 1), (3, 1)]
