"""Migration 0009 on databases that already hold customers with phones as they were typed
(national, international without '+', spaces and dashes, invalid, colliding): SQLite and
PostgreSQL, across more than one batch."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from campaign_dispatch.db import create_engine
from campaign_dispatch.db.migrate import upgrade
from tests.conftest import BACKENDS, own_database

LOGGER = "alembic.runtime.migration.0009"

# id: (phone before, phone after)
ROWS = {
    1: ("0712345678", "+254712345678"),  # national (KE)
    2: ("254722000002", "+254722000002"),  # international without '+'
    3: ("+254733000003", "+254733000003"),  # already E.164
    4: ("+254 799-000 111", "+254799000111"),  # spaces and dashes
    5: ("(0720) 123-456", "+254720123456"),  # brackets
    6: ("12345", "12345"),  # too short: not a number
    7: ("+1555010", "+1555010"),  # no such number
    8: ("not a phone", "not a phone"),
    9: ("0711000001", "0711000001"),  # its E.164 form is customer 10's
    10: ("+254711000001", "+254711000001"),
    11: ("0700 000 009", "+254700000009"),  # both 11 and 12 are +254700000009:
    12: ("254700000009", "254700000009"),  # the lower id takes it
    13: ("+447911123456", "+447911123456"),  # another country's, already E.164
    14: ("0755000014", "0755000014"),  # collides with a customer in a later batch (2000)
}
# Enough rows for several batches (0009 reads 500 at a time).
BULK = {100 + i: (f"07130{i:05d}", f"+2547130{i:05d}") for i in range(1200)}
LATE = {2000: ("+254755000014", "+254755000014")}


@pytest.fixture(params=BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database at revision 0008."""
    with own_database(request.param, tmp_path, "0008") as url:
        yield url


def insert(url: str, rows: dict[int, tuple[str, str]]) -> None:
    async def run() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO customers (id, phone, created_at, updated_at) "
                        "VALUES (:id, :phone, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    [{"id": i, "phone": before} for i, (before, _) in rows.items()],
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def phones(url: str) -> dict[int, str]:
    async def run() -> dict[int, str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text("SELECT id, phone FROM customers"))
                return {int(i): str(p) for i, p in result.all()}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]


def test_phones_become_e164_and_what_cannot_is_left_and_reported(old_database, caplog):
    rows = {**ROWS, **BULK, **LATE}
    insert(old_database, rows)
    caplog.set_level(logging.INFO, logger=LOGGER)

    upgrade(old_database)

    assert phones(old_database) == {i: after for i, (_, after) in rows.items()}
    unparsed, collided = warnings(caplog)
    assert unparsed.startswith("0009: 3 customer phone(s) left unchanged, not a valid phone")
    for row in (6, 7, 8):
        assert f"id {row} {ROWS[row][0]!r}" in unparsed
    assert collided.startswith("0009: 3 customer phone(s) left unchanged, another customer")
    assert "id 9 '0711000001' (-> +254711000001)" in collided
    assert "id 12 '254700000009' (-> +254700000009)" in collided
    assert "id 14 '0755000014' (-> +254755000014)" in collided


def test_national_numbers_are_read_as_default_region(old_database, caplog, monkeypatch):
    insert(old_database, {1: ("07911 123456", ""), 2: ("0712345678", "")})
    monkeypatch.setenv("DEFAULT_REGION", "GB")

    upgrade(old_database)

    # 0712345678 is a Kenyan mobile's national form, and no number in Great Britain.
    assert phones(old_database) == {1: "+447911123456", 2: "0712345678"}
    (unparsed,) = warnings(caplog)
    assert "id 2 '0712345678'" in unparsed


def test_a_second_run_changes_nothing_and_downgrade_keeps_the_phones(old_database, caplog):
    insert(old_database, ROWS)
    upgrade(old_database)
    after = phones(old_database)

    from alembic import command
    from alembic.config import Config

    from campaign_dispatch.db.migrate import ALEMBIC_INI

    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = old_database
    command.downgrade(config, "0008")
    assert phones(old_database) == after
    caplog.clear()
    upgrade(old_database)
    assert phones(old_database) == after
    assert len(warnings(caplog)) == 2  # the same rows are reported again, still unchanged
