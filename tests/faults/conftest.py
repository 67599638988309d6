"""Fixtures of the fault matrix: a migrated template database (cloned per test), and a
`Cluster` of real service processes on that clone with a fresh queue name, whose logs
are printed when the test fails and whose queues are deleted afterwards.

Every test here is marked `faults`, `postgres` and `rabbitmq`: `pytest -m faults` runs
the matrix alone. Without PostgreSQL or RabbitMQ they skip, unless REQUIRE_SERVICES=1.
"""

import uuid
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults import broker, databases
from tests.faults.processes import Cluster
from tests.services import AMQP_URL, POSTGRES_URL, REQUIRED, require

CUSTOMERS = 20_000
# What every scenario runs with unless it says otherwise. LEASE_SECONDS is short so that
# a claim left by a killed worker (or by a write the database lost) comes back in
# seconds; the recovery sweep then runs every LEASE_SECONDS / 2.
SETTINGS = {
    "MAX_RETRIES": "3",
    "RETRY_BASE_DELAY_MS": "100",
    "LEASE_SECONDS": "3",
    "MOCK_SENDER_FAILURE_RATE": "0.2",
    "SHUTDOWN_GRACE_SECONDS": "5",
}
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            for marker in ("faults", "postgres", "rabbitmq"):
                item.add_marker(marker)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
async def fault_template() -> AsyncIterator[str]:
    require(POSTGRES_URL, 5432, "PostgreSQL")
    require(AMQP_URL, 5672, "RabbitMQ")
    name = await databases.template(POSTGRES_URL, "campaign_dispatch_faults", CUSTOMERS)
    yield name
    await databases.drop(POSTGRES_URL, name)


@pytest.fixture
async def fault_database(fault_template: str) -> AsyncIterator[str]:
    name = await databases.create(POSTGRES_URL, "campaign_dispatch_faults", fault_template)
    yield databases.url_for(POSTGRES_URL, name)
    await databases.drop(POSTGRES_URL, name)


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, fault_database: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """No process started yet: the test adjusts `cluster.settings`, adds and starts them."""
    queue = f"faults_{uuid.uuid4().hex[:8]}"
    cluster = Cluster(tmp_path, fault_database, AMQP_URL, queue, dict(SETTINGS))
    try:
        yield cluster
    finally:
        await cluster.close()
        reports = request.node.stash.get(_REPORTS, {})
        if any(r.failed for r in reports.values()):
            print(cluster.report(lines=40))
        base = int(cluster.settings["RETRY_BASE_DELAY_MS"])
        delays = [base * 2**n for n in range(int(cluster.settings["MAX_RETRIES"]))]
        await broker.delete_queues(AMQP_URL, broker.queue_names(queue, delays))


@pytest.fixture
def rabbitmqctl() -> str:
    """The local `rabbitmqctl`, when the broker under test is the local one."""
    path = broker.rabbitmqctl_path()
    host = urlsplit(AMQP_URL).hostname or "127.0.0.1"
    if path is not None and host in ("127.0.0.1", "localhost", "::1"):
        return path
    message = (
        "rabbitmqctl is not installed here"
        if path is None
        else f"the broker at {host} is not one a local rabbitmqctl can restart"
    )
    if REQUIRED:
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message} (set REQUIRE_SERVICES=1 to fail instead)")
