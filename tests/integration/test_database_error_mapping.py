"""Which database errors are a 503 + Retry-After: a failed connection only.

A retry can heal a refused, reset or invalidated connection, or a pool with no free
connection in time; it cannot heal a statement the database rejects. Those used to come
back as 503 too (every OperationalError and InterfaceError was mapped to it), so a client
retried a bug forever; now they are a logged 500 in the envelope.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from campaign_dispatch.app import create_app
from tests.api_helpers import assert_error

# More bind parameters than asyncpg takes (32 767): its InterfaceError, once a 503.
TOO_MANY = 40_000


@pytest.fixture
async def probe(settings, runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime.resources)
    sessions = runtime.resources.database.sessions

    @app.get("/probe/too-many-parameters")
    async def too_many_parameters() -> None:
        names = [f"p{i}" for i in range(TOO_MANY)]
        statement = text(f"SELECT 1 WHERE 1 IN ({', '.join(':' + n for n in names)})")
        async with sessions.begin() as session:
            await session.execute(statement, dict.fromkeys(names, 1))

    @app.get("/probe/no-such-table")
    async def no_such_table() -> None:
        async with sessions.begin() as session:  # SQLite: an OperationalError, once a 503
            await session.execute(text("SELECT * FROM no_such_table"))

    @app.get("/probe/terminated")
    async def terminated() -> None:
        async with sessions.begin() as session:  # the server ends this very connection
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    @app.get("/probe/invalidated")
    async def invalidated() -> None:
        raise DBAPIError("SELECT 1", {}, ConnectionError("gone"), connection_invalidated=True)

    @app.get("/probe/statement-error")
    async def statement_error() -> None:
        raise OperationalError("SELECT 1", {}, Exception("near 'SELEC': syntax error"))

    @app.get("/probe/pool-timeout")
    async def pool_timeout() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def assert_unavailable(response: httpx.Response) -> None:
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_too_many_bind_parameters_is_a_500_not_a_503(probe):
    response = await probe.get("/probe/too-many-parameters")
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["message"] == "An unexpected error occurred"
    assert "Retry-After" not in response.headers


async def test_a_statement_the_database_rejects_is_a_500(probe):
    response = await probe.get("/probe/no-such-table")
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "Retry-After" not in response.headers


async def test_an_operational_error_of_the_statement_is_a_500(probe):
    response = await probe.get("/probe/statement-error")
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "Retry-After" not in response.headers


async def test_an_invalidated_connection_is_a_503(probe):
    assert_unavailable(await probe.get("/probe/invalidated"))


async def test_a_pool_timeout_is_a_503(probe):
    assert_unavailable(await probe.get("/probe/pool-timeout"))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_connection_the_server_terminated_is_a_503(probe):
    assert_unavailable(await probe.get("/probe/terminated"))


async def test_the_500_is_logged_with_its_exception(probe, capsys):
    await probe.get("/probe/no-such-table")
    logged = capsys.readouterr()
    assert "unhandled error" in logged.out + logged.err
    assert "no_such_table" in logged.out + logged.err
