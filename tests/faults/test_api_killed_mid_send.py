"""Fault (c): the API process is killed (SIGKILL) while `POST /campaigns/{id}/send` with
20 000 customer ids is in flight. The send is all or nothing: either no message row of
the campaign exists and it is still a sendable draft, or all 20 000 exist and they are
all sent; the client's retry with the same Idempotency-Key completes it exactly once.

Two kills, each at a point the test makes certain rather than guesses at:

1. Inside the INSERT. The test's own transaction holds `FOR UPDATE` on the last
   customer's row, so the send's INSERT … SELECT, its rows written and its foreign-key
   checks running, waits on that lock; the test sees the API's backend blocked by its
   own (`pg_blocking_pids`), running `INSERT INTO outbound_messages`, and kills the API.
   Then it lets go of the lock.
2. Just after the commit: the API restarted, the client retries with the same key, and
   the test kills the API the moment the campaign's `sending` status is visible, while
   the response may still be on its way.

Then the API starts once more and the client retries again with the same key.
"""

import asyncio
import time
import uuid

import asyncpg
import httpx

from tests.faults.campaigns import create_campaign, send
from tests.faults.conftest import CUSTOMERS
from tests.faults.processes import Cluster, ServiceProcess
from tests.faults.reconcile import finish_and_reconcile

MESSAGES = CUSTOMERS  # 20 000


async def _state(connection: asyncpg.Connection, campaign: int, key: str) -> tuple[int, str, int]:
    """(message rows, campaign status, idempotency records for the key)."""
    rows = await connection.fetchval(
        "SELECT count(*) FROM outbound_messages WHERE campaign_id = $1", campaign
    )
    status = await connection.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign)
    keys = await connection.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key)
    return int(rows), str(status), int(keys)


async def _wait_gone(connection: asyncpg.Connection, pid: int, timeout: float = 30) -> None:
    """Until the killed API's backend has ended (its transaction rolled back)."""
    deadline = time.monotonic() + timeout
    while await connection.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
        assert time.monotonic() < deadline, f"backend {pid} still there after {timeout}s"
        await asyncio.sleep(0.05)


async def _outcome(task: "asyncio.Task[httpx.Response]") -> str:
    try:
        response = await task
    except httpx.TransportError as exc:
        return f"no response ({type(exc).__name__})"
    return f"HTTP {response.status_code} before the kill"


async def _kill_inside_the_insert(
    api: ServiceProcess, database_url: str, campaign: int, key: str
) -> str:
    ids = range(1, MESSAGES + 1)
    connection = await asyncpg.connect(database_url)
    blocker = await asyncpg.connect(database_url)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT id FROM customers WHERE id = $1 FOR UPDATE", MESSAGES)
        mine = await blocker.fetchval("SELECT pg_backend_pid()")
        async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
            task = asyncio.create_task(send(http, campaign, ids, key))
            deadline = time.monotonic() + 30
            while True:
                blocked = await connection.fetchrow(
                    """SELECT pid, query FROM pg_stat_activity
                       WHERE datname = current_database() AND $1 = ANY(pg_blocking_pids(pid))""",
                    mine,
                )
                if blocked is not None:
                    break
                assert not task.done(), f"the send finished unblocked: {await _outcome(task)}"
                assert time.monotonic() < deadline, "the send never reached the locked row"
                await asyncio.sleep(0.01)
            assert "INSERT INTO outbound_messages" in blocked["query"], blocked["query"]
            api.kill()
            outcome = await _outcome(task)
        await transaction.rollback()
        await _wait_gone(connection, blocked["pid"])
    finally:
        await blocker.close()
        await connection.close()
    return outcome


async def _kill_just_after_the_commit(
    api: ServiceProcess, connection: asyncpg.Connection, campaign: int, key: str
) -> str:
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        task = asyncio.create_task(send(http, campaign, range(1, MESSAGES + 1), key))
        deadline = time.monotonic() + 60
        while (
            await connection.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign)
            == "draft"
        ):
            assert time.monotonic() < deadline, "the send never committed"
            await asyncio.sleep(0.002)
        api.kill()
        return await _outcome(task)


async def test_c_api_killed_mid_send_is_all_or_nothing(cluster: Cluster) -> None:
    api = cluster.add("api")
    workers = [cluster.add("worker", f"worker-{n}") for n in (1, 2)]
    await cluster.start(api, *workers, cluster.add("scheduler"))
    key = f"fault-c-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        campaign = await create_campaign(http)
    connection = await asyncpg.connect(cluster.database_url)
    try:
        first = await _kill_inside_the_insert(api, cluster.database_url, campaign, key)
        # Nothing: no message, still a draft, no idempotency record to replay.
        assert await _state(connection, campaign, key) == (0, "draft", 0), first
        await api.restart()

        second = await _kill_just_after_the_commit(api, connection, campaign, key)
        rows, status, keys = await _state(connection, campaign, key)
        # All: every message, and the record that replays the response.
        assert (rows, keys) == (MESSAGES, 1), (second, rows, status, keys)
        assert status in ("sending", "sent", "failed"), status
        await api.restart()

        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            replay = await send(http, campaign, range(1, MESSAGES + 1), key)
            again = await send(http, campaign, range(1, MESSAGES + 1), f"{key}-other")
        assert replay.status_code == 202, replay.text
        assert replay.json()["messages_queued"] == MESSAGES, replay.text
        assert again.status_code == 409, again.text  # no second send under another key
    finally:
        await connection.close()

    seconds, result = await finish_and_reconcile(cluster, api, campaign, MESSAGES, 120)
    print(
        f"kill inside the INSERT: {first}; kill after the commit: {second}; "
        f"finished {seconds:.1f}s after the replay; exits {cluster.exits}; {result.summary()}"
    )
    assert result.ok, result.summary()
