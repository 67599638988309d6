"""Fault (b): every backend of the service's database is terminated, over and over, for
ten seconds mid-campaign.

The test's own connection runs `pg_terminate_backend` on every other backend of the
test database every 100 ms: the API's, the workers' claims and outcome writes, the
relays' transactions and LISTEN connections, the recovery sweeps. A statement cut off
mid-flight either committed or did not; a claim whose outcome write was lost comes back
when its lease (3 s here) expires. Meanwhile the API is asked to read a campaign and to
create one: it answers, or says 503 SERVICE_UNAVAILABLE (README: only when the database
connection fails), never a 500.
"""

import asyncio
import time
from collections import Counter

import asyncpg
import httpx

from tests.faults.campaigns import create_campaign, final_count, send, wait_for_final
from tests.faults.processes import Cluster
from tests.faults.reconcile import finish_and_reconcile

MESSAGES = 4_000
TERMINATE_FOR = 10.0


async def terminate_backends(database_url: str, seconds: float) -> tuple[int, int]:
    """(rounds, backends terminated)."""
    connection = await asyncpg.connect(database_url)
    rounds = terminated = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            terminated += await connection.fetchval(
                """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
                   FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()"""
            )
            rounds += 1
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    return rounds, terminated


async def probe_api(url: str, campaign: int, stop: asyncio.Event) -> Counter[str]:
    """What the API answers, by request and status, until `stop`."""
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            read = await http.get(f"/campaigns/{campaign}")
            answers[f"GET {read.status_code}"] += 1
            created = await http.post(
                "/campaigns", json={"name": "probe", "channel": "sms", "base_template": "Hi"}
            )
            answers[f"POST {created.status_code}"] += 1
            await asyncio.sleep(0.05)
    return answers


async def test_b_database_backends_terminated_for_ten_seconds_mid_campaign(
    cluster: Cluster,
) -> None:
    cluster.settings.update(
        MOCK_SENDER_LATENCY_MS="50", WORKER_CONCURRENCY="32", WORKER_BATCH_SIZE="16"
    )
    api = cluster.add("api")
    workers = [cluster.add("worker", f"worker-{n}") for n in (1, 2)]
    await cluster.start(api, *workers, cluster.add("scheduler"))

    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        campaign = await create_campaign(http)
        response = await send(http, campaign, range(1, MESSAGES + 1))
        assert response.status_code == 202, response.text
    await wait_for_final(cluster.database_url, campaign, at_least=MESSAGES // 10)

    before = await final_count(cluster.database_url, campaign)
    stop = asyncio.Event()
    probe = asyncio.create_task(probe_api(api.url, campaign, stop))
    try:
        rounds, terminated = await terminate_backends(cluster.database_url, TERMINATE_FOR)
    finally:
        stop.set()
    answers = await probe
    after = await final_count(cluster.database_url, campaign)
    assert set(answers) <= {"GET 200", "GET 503", "POST 201", "POST 503"}, answers
    assert before < MESSAGES and after < MESSAGES, (before, after)  # it hit mid-campaign
    assert terminated > rounds, (rounds, terminated)  # the service's sessions, not just one

    seconds, result = await finish_and_reconcile(cluster, api, campaign, MESSAGES, 120)
    print(
        f"{terminated} backends terminated in {rounds} rounds from {before}/{MESSAGES} final "
        f"to {after}; API answers {dict(answers)}; finished {seconds:.1f}s later; "
        f"exits {cluster.exits}; {result.summary()}"
    )
    assert result.ok, result.summary()
