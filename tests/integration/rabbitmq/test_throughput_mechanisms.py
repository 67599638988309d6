"""The throughput mechanisms keep the pipeline's guarantees: coalesced acks, the relay's
batched publishing (on each publish path) with concurrent publishing loops, and
consuming straight from aiormq (which must resume by itself after a reconnect)."""

import asyncio
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from tests.harness import Process
from tests.pipeline_helpers import eventually, messages
from tests.rabbitmq_helpers import campaign_status, create_and_send, start_worker
from tests.services import AMQP_URL
from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


async def _ready_count(name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


async def _finished(client, campaign_id):
    status, stats = await campaign_status(client, campaign_id)
    return status == "sent" and stats


async def test_coalesced_acks_leave_nothing_unacknowledged(api, rabbit_settings):
    """After a drain every delivery was acked: none goes back to the queue on close."""
    _, client = api
    worker = await start_worker(rabbit_settings)
    try:
        campaign_id = await create_and_send(client, 300)
        stats = await eventually(lambda: _finished(client, campaign_id), timeout=30)
        assert stats["sent"] == 300
    finally:
        await worker.close()
    assert worker.sender.delivered == 300 and worker.sender.duplicates == 0
    await asyncio.sleep(0.5)
    assert await _ready_count(rabbit_settings.queue_name) == 0


async def test_concurrent_relays_publish_each_message_once(rabbit_settings):
    """Two relay processes (each with several publishing loops), no worker: every
    message is published exactly once."""
    relays = [Process.create(rabbit_settings) for _ in range(2)]
    for runtime in relays:
        await runtime.start({Role.RELAY})
    app = create_app(rabbit_settings, relays[0].resources)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            campaign_id = await create_and_send(client, 1200)
            for runtime in relays:
                runtime.wake_relay()

            async def all_published():
                rows = await messages(relays[0], campaign_id)
                return all(m.enqueued_at is not None for m in rows)

            await eventually(all_published, timeout=30)
            # Marked before the confirms arrive: wait for the queue to hold every job,
            # then make sure no relay adds a second copy.

            async def all_in_the_queue():
                return await _ready_count(rabbit_settings.queue_name) >= 1200

            await eventually(all_in_the_queue, timeout=30)
            await asyncio.sleep(1.0)
            assert await _ready_count(rabbit_settings.queue_name) == 1200
    finally:
        for runtime in relays:
            await runtime.close()


async def test_the_worker_resumes_consuming_after_the_broker_connection_drops(api, rabbit_settings):
    _, client = api
    target = urlsplit(AMQP_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.start()
    proxied = rabbit_settings.model_copy(
        update={"amqp_url": AMQP_URL.replace(f":{target.port or 5672}", f":{proxy.port}")}
    )
    worker = await start_worker(proxied)
    try:
        first = await create_and_send(client, 20)
        await eventually(lambda: _finished(client, first), timeout=30)

        await proxy.cut()  # the connection drops; the worker's robust connection retries
        await asyncio.sleep(1.0)
        await proxy.start()

        response = await client.post(
            "/campaigns", json={"name": "again", "channel": "sms", "base_template": "Hi!"}
        )
        second = response.json()["id"]
        rows = await messages(api[0], first)
        response = await client.post(
            f"/campaigns/{second}/send", json={"customer_ids": [m.customer_id for m in rows]}
        )
        assert response.status_code == 202, response.text
        stats = await eventually(lambda: _finished(client, second), timeout=60)
        assert stats["sent"] == 20
        assert worker.sender.delivered == 40
    finally:
        await worker.close()
        await proxy.cut()
