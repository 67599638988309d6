"""The consume-only connection against the real broker: what it refuses, and how it
carries on when the broker takes its consumer away."""

import asyncio

import aio_pika
import pytest

from campaign_dispatch.queue import QueueUnavailable
from campaign_dispatch.queue.consumer import Consumer
from tests.pipeline_helpers import eventually
from tests.services import AMQP_URL


def holds(condition):
    async def check():
        return condition()

    return check


async def _publish(name: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)
        for payload in bodies:
            await channel.default_exchange.publish(aio_pika.Message(payload), routing_key=name)


async def _delete(name: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


async def test_a_missing_queue_is_a_clear_refusal(queue_name):
    consumer = Consumer(AMQP_URL, queue_name)
    with pytest.raises(QueueUnavailable, match="404 NOT_FOUND"):
        await consumer.start(lambda delivery: None, prefetch=10)


async def test_a_wrong_password_is_a_clear_refusal(queue_name):
    consumer = Consumer(AMQP_URL.replace("guest:guest", "guest:wrong"), queue_name)
    with pytest.raises(QueueUnavailable, match="403 ACCESS_REFUSED"):
        await consumer.start(lambda delivery: None, prefetch=10)


async def test_every_delivery_is_acked_and_the_queue_left_empty(queue_name):
    bodies = [b"job %d" % n for n in range(500)]
    await _publish(queue_name, bodies)
    seen: list[bytes] = []
    acks: list[asyncio.Task[None]] = []

    def on_delivery(delivery):
        seen.append(delivery.body)
        acks.append(asyncio.ensure_future(delivery.ack()))

    consumer = Consumer(AMQP_URL, queue_name)
    await consumer.start(on_delivery, prefetch=50)  # the window refills as acks go out
    try:
        await eventually(holds(lambda: len(seen) == 500), timeout=20)
        assert seen == bodies
    finally:
        await consumer.close()
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        assert queue.declaration_result.message_count == 0
        await channel.queue_delete(queue_name)


async def test_a_cancelled_consumer_consumes_again_once_its_queue_is_back(queue_name):
    await _publish(queue_name, [b"first"])
    seen: list[bytes] = []
    acks: list[asyncio.Task[None]] = []

    def on_delivery(delivery):
        seen.append(delivery.body)
        acks.append(asyncio.ensure_future(delivery.ack()))

    consumer = Consumer(AMQP_URL, queue_name)
    await consumer.start(on_delivery, prefetch=10)
    try:
        await eventually(holds(lambda: seen == [b"first"]), timeout=10)
        await _delete(queue_name)  # the broker cancels the consumer
        await eventually(holds(lambda: not consumer.connected), timeout=10)
        await _publish(queue_name, [b"second"])
        await eventually(holds(lambda: seen == [b"first", b"second"]), timeout=30)
        assert consumer.connected and consumer.reconnects >= 1
    finally:
        await consumer.close()
        await _delete(queue_name)
