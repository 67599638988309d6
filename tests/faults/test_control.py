"""Fault (g): pause, resume and cancel on PostgreSQL + RabbitMQ with two worker processes,
racing a SIGKILL of a worker and the lease recovery that follows.

What the provider was asked is read from the workers' send logs (tests/faults/sendlog),
not from our tables: after the pause or cancel answers, the provider sees at most the
attempts that were in flight at that moment.

1. Kill worker-1 mid-campaign and pause at once: its claims expire while the campaign is
   paused and come back as pending (their jobs are acknowledged unsent). Nothing reaches
   the provider while paused. Resume with worker-1 back: every message ends, none twice.
2. Cancel mid-campaign in the same breath as a SIGKILL of worker-2: its claims expire in
   a cancelled campaign and fail; nothing else reaches the provider;
   sent + failed + cancelled == total.
"""

import asyncio

import httpx

from tests.faults.campaigns import create_campaign, fetch_count, send, statuses, wait_for_final
from tests.faults.processes import Cluster
from tests.faults.reconcile import finish_and_reconcile, read_send_log, reconcile

MESSAGES = 2_000


def provider_calls(cluster: Cluster) -> int:
    return sum(c.total for c in read_send_log(cluster.send_log_dir).values())


async def in_flight(database_url: str, campaign_id: int) -> int:
    return (await statuses(database_url, campaign_id)).get("sending", 0)


async def claimed_gone(database_url: str, campaign_id: int, timeout: float = 30) -> None:
    """Wait until none of the campaign's messages is claimed (the killed worker's claims
    expired and the recovery sweep took them back)."""
    for _ in range(int(timeout * 10)):
        if not await in_flight(database_url, campaign_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"claims still held: {await statuses(database_url, campaign_id)}")


async def lease_expiries(database_url: str, campaign_id: int) -> int:
    sql = "SELECT sum(lease_expiries) FROM outbound_messages WHERE campaign_id = $1"
    return await fetch_count(database_url, sql, campaign_id)


async def test_g_pause_and_cancel_race_a_killed_worker_and_its_lease_recovery(
    cluster: Cluster,
) -> None:
    # Provider calls of 150 ms: a worker holds claims for most of each batch, so a kill
    # seldom lands in the moment between two batches (at 50 ms it did, under load).
    cluster.settings.update(
        MOCK_SENDER_LATENCY_MS="150", WORKER_CONCURRENCY="16", WORKER_BATCH_SIZE="8"
    )
    api = cluster.add("api")
    worker1, worker2 = (cluster.add("worker", f"worker-{n}") for n in (1, 2))
    scheduler = cluster.add("scheduler")
    await cluster.start(api, worker1, worker2, scheduler)
    url = cluster.database_url
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        # 1. Pause, kill a worker while paused, resume.
        paused_campaign = await create_campaign(http, "pause")
        assert (await send(http, paused_campaign, range(1, MESSAGES + 1))).status_code == 202
        await wait_for_final(url, paused_campaign, at_least=MESSAGES // 5)
        await cluster.until_sending(worker1)
        worker1.kill()  # with claims in hand
        paused = await http.post(f"/campaigns/{paused_campaign}/pause")
        assert paused.status_code == 200, paused.text
        # In flight now: claimed (sending), or already answered by the provider (logged).
        allowed = await in_flight(url, paused_campaign) + provider_calls(cluster)
        await claimed_gone(url, paused_campaign)  # worker-1's claims came back: pending
        assert await lease_expiries(url, paused_campaign) > 0, "worker-1 held no claim"
        await asyncio.sleep(2)  # paused: redelivered and republished jobs claim nothing
        assert provider_calls(cluster) <= allowed
        counts = await statuses(url, paused_campaign)
        assert counts.get("pending", 0) > 0 and "sending" not in counts
        await worker1.restart()
        resumed = await http.post(f"/campaigns/{paused_campaign}/resume")
        assert resumed.status_code == 200, resumed.text
        _, result = await finish_and_reconcile(cluster, api, paused_campaign, MESSAGES, 120)
        assert result.ok, result.summary()
        assert result.statuses[paused_campaign] == "sent"

        # 2. Cancel as a worker dies.
        cancelled_campaign = await create_campaign(http, "cancel")
        customers = range(MESSAGES + 1, 2 * MESSAGES + 1)
        assert (await send(http, cancelled_campaign, customers)).status_code == 202
        await wait_for_final(url, cancelled_campaign, at_least=MESSAGES // 5)
        await cluster.until_sending(worker2)
        before = provider_calls(cluster)
        worker2.kill()
        cancelled = await http.post(f"/campaigns/{cancelled_campaign}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        allowed = await in_flight(url, cancelled_campaign) + provider_calls(cluster)
        await claimed_gone(url, cancelled_campaign)
        await asyncio.sleep(1)
        assert provider_calls(cluster) <= allowed
        assert provider_calls(cluster) >= before
    result = await reconcile(
        url,
        {paused_campaign: MESSAGES, cancelled_campaign: MESSAGES},  # one send log for both
        max_retries=int(cluster.settings["MAX_RETRIES"]),
        send_log=cluster.send_log_dir,
        api_url=api.url,
    )
    assert result.ok, result.summary()
    assert result.statuses == {paused_campaign: "sent", cancelled_campaign: "cancelled"}
    assert result.cancelled > 0
    assert result.sent + result.failed + result.cancelled == 2 * MESSAGES
