"""Fault (d): workers killed with SIGKILL in turn mid-campaign, with 20 % of provider
calls failing; their claims are left `sending` and come back when the lease (3 s) runs
out.

1. worker-1 is killed and started again while worker-2 carries on.
2. worker-2 is killed, and worker-1 with it: no worker is left, so the claims they held
   can only come back through the scheduler process's recovery (the `api` process runs
   none). The test waits until the scheduler has taken every one of them back, then
   starts both workers again.
"""

import asyncio
import time
from typing import Any

import httpx

from tests.faults.campaigns import create_campaign, fetch_count, send, wait_for_final
from tests.faults.processes import Cluster, ServiceProcess
from tests.faults.reconcile import finish_and_reconcile

MESSAGES = 3_000


async def _claimed(database_url: str) -> int:
    return await fetch_count(
        database_url, "SELECT count(*) FROM outbound_messages WHERE status = 'sending'"
    )


async def _expiries(database_url: str) -> int:
    return await fetch_count(database_url, "SELECT sum(lease_expiries) FROM outbound_messages")


def _recovered(scheduler: ServiceProcess) -> list[dict[str, Any]]:
    return [e for e in scheduler.events() if e.get("event") == "recovered"]


async def test_d_workers_killed_in_turn_leases_expire_and_everything_reconciles(
    cluster: Cluster,
) -> None:
    # 16 provider calls of 50 ms in flight per worker: the campaign lasts long enough
    # for both kills and the recovery between them.
    cluster.settings.update(
        MOCK_SENDER_LATENCY_MS="50", WORKER_CONCURRENCY="16", WORKER_BATCH_SIZE="8"
    )
    api = cluster.add("api")
    worker1, worker2 = (cluster.add("worker", f"worker-{n}") for n in (1, 2))
    scheduler = cluster.add("scheduler")
    await cluster.start(api, worker1, worker2, scheduler)
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        campaign = await create_campaign(http)
        response = await send(http, campaign, range(1, MESSAGES + 1))
        assert response.status_code == 202, response.text
    url = cluster.database_url

    # 1. worker-1 dies with claims in hand (killed while it is calling the provider);
    # once they have expired, it comes back.
    # A worker sends in bursts (claim, 50 ms of provider calls, record): a kill can land
    # between two batches, with nothing in hand; then it is restarted and killed again.
    await wait_for_final(url, campaign, at_least=MESSAGES * 15 // 100)
    tries: list[str] = []
    left_by_first_kill = 0
    while not left_by_first_kill:
        assert len(tries) < 3, f"no claim of the killed worker-1 expired: {tries}"
        await cluster.until_sending(worker1)
        held = await _claimed(url)
        worker1.kill()
        deadline = time.monotonic() + 20
        while (left_by_first_kill := await _expiries(url)) == 0:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        tries.append(f"{held} held before the kill, {await _claimed(url)} after")
        await worker1.restart()

    # 2. worker-2 dies, worker-1 with it: only the scheduler can recover their claims.
    await wait_for_final(url, campaign, at_least=MESSAGES * 45 // 100)
    await cluster.until_sending(worker2)
    seen = len(_recovered(scheduler))
    worker2.kill()
    worker1.kill()
    left_by_second_kill = await _claimed(url)
    killed_at = time.monotonic()
    assert left_by_second_kill > 0, "the workers held no claims when they were killed"
    deadline = killed_at + 30
    while (still := await _claimed(url)) > 0:
        assert time.monotonic() < deadline, f"{still} claims not recovered without workers"
        await asyncio.sleep(0.2)
    recovered_in = time.monotonic() - killed_at
    # The scheduler logs its sweep after committing it: the line may come a moment later.
    while (
        expired_by_scheduler := sum(e["expired_claims"] for e in _recovered(scheduler)[seen:])
    ) < left_by_second_kill:
        assert time.monotonic() < deadline, (expired_by_scheduler, left_by_second_kill)
        await asyncio.sleep(0.1)
    await asyncio.gather(worker1.restart(), worker2.restart())

    seconds, result = await finish_and_reconcile(cluster, api, campaign, MESSAGES, 120)
    print(
        f"first kill: {left_by_first_kill} claims expired; second left {left_by_second_kill}, "
        f"the scheduler took back {expired_by_scheduler} in {recovered_in:.1f}s; finished "
        f"{seconds:.1f}s after the restart; exits {cluster.exits}; {result.summary()}"
    )
    assert result.ok, result.summary()
    assert result.lease_expiries >= left_by_first_kill + left_by_second_kill
