"""The relay holds no lock while the broker answers, and gives back what it could not publish.

A broker under a memory or disk alarm can leave a publish waiting for its confirms for a
long time; the rows of that batch must stay writable meanwhile (a cancel, a claim, a
recovery sweep), and a publish that fails must not leave them looking published.
"""

import asyncio

from sqlalchemy import func, select, text

from campaign_dispatch.background import Role
from campaign_dispatch.models import RelayBatch
from campaign_dispatch.queue import QueueUnavailable
from campaign_dispatch.relay import Relay
from campaign_dispatch.scheduler.recovery import Recovery
from tests.pipeline_helpers import eventually, send_to_new_customers, take, unpublished


async def test_rows_stay_writable_while_a_publish_waits_for_the_broker(
    client, runtime, make_customer, make_campaign
):
    queue = runtime.queue
    real_publish = queue.publish
    waiting, release = asyncio.Event(), asyncio.Event()

    async def publish_waiting_for_confirms(jobs):
        waiting.set()
        await release.wait()
        await real_publish(jobs)

    queue.publish = publish_waiting_for_confirms  # type: ignore[method-assign]
    await runtime.start({Role.RELAY})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 5)
    runtime.wake_relay()
    await asyncio.wait_for(waiting.wait(), 10)
    try:
        async with runtime.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SET lock_timeout = '2s'"))
            # A writer that the relay's batch would block if it still held its rows.
            touch = text(
                "UPDATE outbound_messages SET updated_at = updated_at WHERE campaign_id = :c"
            )
            await asyncio.wait_for(connection.execute(touch, {"c": campaign_id}), 5)
            await connection.commit()
    finally:
        release.set()

    async def all_queued():
        return len(queue) == 5

    await eventually(all_queued, timeout=10)
    assert not await unpublished(runtime, campaign_id)


async def test_a_refused_publish_gives_its_batch_back_at_once(
    client, runtime, make_customer, make_campaign
):
    queue = runtime.queue
    real_publish = queue.publish
    refusals = 0

    async def refuse_twice(jobs):
        nonlocal refusals
        if refusals < 2:
            refusals += 1
            raise QueueUnavailable("broker did not confirm 5 jobs within 10s")
        await real_publish(jobs)

    queue.publish = refuse_twice  # type: ignore[method-assign]
    # One publishing loop (a second one polling beside it could hide how long the first
    # waits), asleep for its idle time when the send wakes it.
    resources = runtime.resources
    relay = Relay(
        resources.database,
        resources.repositories.outbox,
        queue,
        concurrency=1,
        idle_seconds=30,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.3)  # its first look found nothing: it sleeps 30 s
        campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 5)
        relay.wake()

        async def published():
            return len(queue) == 5

        # Given back, so the relay's next look publishes them, long before the lost-job
        # recovery would (REQUEUE_AFTER_SECONDS): it backs off 1 s, then 2 s, however long
        # it slept before the refusal (not RELAY_IDLE_SECONDS, nor the 10 s cap).
        await eventually(published, timeout=8)
    finally:
        stop.set()
        relay.wake()
        await running
    assert not await unpublished(runtime, campaign_id)
    assert refusals == 2


def _recovery(runtime):
    return Recovery(
        runtime.resources.database,
        runtime.resources.repositories,
        runtime.queue,
        max_retries=3,
        requeue_after_seconds=600,
        interval=1,
    )


async def _take(runtime, hold_seconds):
    return await take(runtime, 100, hold_seconds)


async def test_a_batch_whose_relay_died_before_the_confirms_is_published_again_soon(
    client, runtime, make_customer, make_campaign
):
    """Marked published, then the relay's process died: the batch's record expires and the
    recovery sweep gives the batch back within seconds, not REQUEUE_AFTER_SECONDS."""
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    batch = await _take(runtime, hold_seconds=0.2)  # … and the process is gone
    assert len(batch.messages) == 3
    assert not await unpublished(runtime, campaign_id)

    await asyncio.sleep(0.5)
    await _recovery(runtime).sweep()
    assert len(await unpublished(runtime, campaign_id)) == 3

    await runtime.start({Role.RELAY})
    runtime.wake_relay()

    async def published():
        return len(runtime.queue) == 3

    await eventually(published, timeout=10)


async def test_a_batch_still_within_its_hold_is_left_to_its_relay(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)
    await _take(runtime, hold_seconds=60)
    await _recovery(runtime).sweep()
    assert not await unpublished(runtime, campaign_id)


async def test_a_confirmed_batch_leaves_no_record(client, runtime, make_customer, make_campaign):
    await runtime.start({Role.RELAY})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 4)
    runtime.wake_relay()

    async def published():
        return len(runtime.queue) == 4

    await eventually(published, timeout=10)
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RelayBatch)) == 0
    assert not await unpublished(runtime, campaign_id)
