"""The relay holds no lock while the broker answers, and gives back what it could not publish.

A broker under a memory or disk alarm can leave a publish waiting for its confirms for a
long time; the rows of that batch must stay writable meanwhile (a cancel, a claim, a
recovery sweep), and a publish that fails must not leave them looking published.
"""

import asyncio

from sqlalchemy import text

from campaign_dispatch.background import Role
from campaign_dispatch.queue import QueueUnavailable
from tests.pipeline_helpers import eventually, messages, send_to_new_customers


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
    assert all(m.enqueued_at is not None for m in await messages(runtime, campaign_id))


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
    await runtime.start({Role.RELAY})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 5)
    runtime.wake_relay()

    async def refused_once():
        return refusals >= 1

    await eventually(refused_once, timeout=10)

    async def published():
        return len(queue) == 5

    # Given back, so the relay's next look publishes them, long before the lost-job
    # recovery would (REQUEUE_AFTER_SECONDS).
    await eventually(published, timeout=15)
    rows = await messages(runtime, campaign_id)
    assert all(m.enqueued_at is not None for m in rows)
    assert refusals == 2
