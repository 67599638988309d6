"""Fault (a): the broker's application stops mid-campaign and starts again.

`rabbitmqctl stop_app` closes every connection (the workers' consumers, the relays'
publishers, unacknowledged deliveries go back to their queues); the jobs are durable
and persistent, so the broker still holds them when `start_app` brings it back. Down
for 3 seconds, once per run: other test runs share this broker.
"""

import asyncio
import time

import httpx

from tests.faults import broker
from tests.faults.campaigns import create_campaign, final_count, send, wait_for_final
from tests.faults.processes import Cluster
from tests.faults.reconcile import finish_and_reconcile

MESSAGES = 4_000
DOWN_SECONDS = 3


async def test_a_broker_restart_mid_campaign_loses_and_duplicates_nothing(
    cluster: Cluster, rabbitmqctl: str
) -> None:
    # Slow enough (50 ms per provider call, 32 in flight per worker) that the campaign
    # is still going when the broker stops, and while it is down.
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
    stopped = time.monotonic()
    async with broker.broker_stopped(cluster.amqp_url):
        # The broker the service uses is the one that stopped.
        assert await broker.refuses_connections(cluster.amqp_url)
        await asyncio.sleep(DOWN_SECONDS)
        during = await final_count(cluster.database_url, campaign)
    back_after = time.monotonic() - stopped
    after = await final_count(cluster.database_url, campaign)
    # The fault hit the campaign in the middle, not before or after it.
    assert before < MESSAGES and after < MESSAGES, (before, during, after)

    seconds, result = await finish_and_reconcile(cluster, api, campaign, MESSAGES, 90)
    print(
        f"broker down {back_after:.1f}s at {before}/{MESSAGES} final ({during} when it came "
        f"back); finished {seconds:.1f}s later; exits {cluster.exits}; {result.summary()}"
    )
    assert result.ok, result.summary()
