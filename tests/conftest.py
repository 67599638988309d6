import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from campaign_dispatch.app import create_app
from campaign_dispatch.config import Settings
from campaign_dispatch.db import create_engine
from campaign_dispatch.db.migrate import upgrade
from tests.harness import Process
from tests.services import POSTGRES_URL, require

TABLES = (
    "idempotency_keys",
    "message_attempts",
    "outbound_messages",
    "campaign_audience",
    "campaigns",
    "campaign_counts",
    "customer_consent_events",
    "customers",
    "relay_batches",
    "outbox_ranges",
    "early_receipts",
    "inbound_messages",
    "campaign_message_counts",
)


def _create_postgres_database() -> tuple[str, Callable[[], None]]:
    import asyncpg

    name = f"campaign_dispatch_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin.set(database=name).render_as_string(hide_password=False), drop


# Both backends, PostgreSQL's cases marked (CI requires the server; elsewhere it may skip).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def own_database(backend: str, directory: Path, revision: str = "head") -> Iterator[str]:
    """A new database of `backend` ("sqlite" or "postgres") migrated to `revision`, and
    dropped afterwards; SQLite's file is made in `directory`."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'test.db'}"
        upgrade(url, revision)
        yield url
        return
    require(POSTGRES_URL, 5432, "PostgreSQL")
    url, drop = _create_postgres_database()
    try:
        upgrade(url, revision)
        yield url
    finally:
        drop()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database per backend for the whole run."""
    with own_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
async def clean_database(database_url: str) -> AsyncIterator[str]:
    """Each test starts and leaves the shared database empty."""
    yield database_url
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
                )
            else:
                for table in TABLES:
                    await connection.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


@pytest.fixture
def settings(clean_database: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=clean_database,
        amqp_url=None,
        api_keys=None,
        # The in-process clients below call http://test (and http://t): no loopback name,
        # so the Host check (tests/integration/test_http_hardening.py) must be told.
        allowed_hosts="test,t",
        web_dist_dir=tmp_path / "no-dashboard",
        mock_sender_failure_rate=0.0,
        # The mock's receipts would move the stats while a test reads them: an hour away.
        mock_delivery_delay_ms=3_600_000,
        retry_base_delay_ms=10,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Process]:
    runtime = Process.create(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def client(settings: Settings, runtime: Process) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime.resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


Factory = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_customer(client: httpx.AsyncClient) -> Factory:
    counter = iter(range(1, 1_000_000))

    async def make(**fields: Any) -> dict[str, Any]:
        body = {"phone": f"+2547{next(counter):08d}", "first_name": "Test", **fields}
        response = await client.post("/customers", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def make_campaign(client: httpx.AsyncClient) -> Factory:
    async def make(**fields: Any) -> dict[str, Any]:
        body = {"name": "Campaign", "channel": "sms", "base_template": "Hi {first_name}", **fields}
        response = await client.post("/campaigns", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make
