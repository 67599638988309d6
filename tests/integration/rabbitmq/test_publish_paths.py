"""Which publish path the RabbitMQ queue takes, and that the fallback is chosen by feature."""

import asyncio
import types
import uuid

import aio_pika
import aiormq
import pytest

from campaign_dispatch.config import Settings
from campaign_dispatch.queue import Job, QueueUnavailable, create_queue, rabbitmq_frames
from campaign_dispatch.queue.rabbitmq import RabbitQueue
from tests.pipeline_helpers import eventually
from tests.services import AMQP_URL, require

pytestmark = pytest.mark.rabbitmq

_INTERNALS = [
    "publisher_confirms",
    "confirmations",
    "delivery_tag",
    "write_queue",
    "lock",
    "number",
    "max_content_size",
    "create_future",
]


class _Lock:
    async def __aenter__(self):
        return None

    async def __aexit__(self, *exc):
        return None


def _channel_like(**without):
    attributes = {
        "publisher_confirms": True,
        "confirmations": {},
        "delivery_tag": 0,
        "write_queue": asyncio.Queue(),
        "lock": _Lock(),
        "number": 1,
        "max_content_size": 131_000,
        "create_future": lambda: None,
    }
    for name in without:
        attributes.pop(name)
    return types.SimpleNamespace(**attributes)


def test_every_internal_the_frames_path_writes_is_checked():
    assert rabbitmq_frames.missing_internals(_channel_like()) == []
    for name in _INTERNALS:
        assert rabbitmq_frames.missing_internals(_channel_like(**{name: True})) == [name]
    assert rabbitmq_frames.missing_internals(object()) == _INTERNALS
    no_confirms = _channel_like()
    no_confirms.publisher_confirms = False
    assert rabbitmq_frames.missing_internals(no_confirms) == ["publisher_confirms"]


@pytest.fixture
async def queue_name():
    require(AMQP_URL, 5672, "RabbitMQ")
    name = f"test_paths_{uuid.uuid4().hex[:8]}"
    yield name
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in (name, f"{name}.dlq", f"{name}.retry.1000ms"):
            await channel.queue_delete(queue)


def _queue(name: str, publisher: str) -> RabbitQueue:
    return RabbitQueue(AMQP_URL, retry_delays_ms=[1000], name=name, publisher=publisher)


async def _waiting_is(queue, n):
    return await queue.waiting() == n


async def test_auto_takes_the_frames_path_on_this_aiormq(queue_name):
    queue = _queue(queue_name, "auto")
    await queue.connect()
    try:
        assert queue.publisher_path == "frames"
        await queue.publish([Job(1, 0), Job(2, 0)])
        await eventually(lambda: _waiting_is(queue, 2), timeout=5)
    finally:
        await queue.close()


async def test_the_frames_path_waits_for_every_chunks_acks(queue_name):
    """Three chunks, each confirmed by one entry per tag that counts down to one future."""
    queue = _queue(queue_name, "frames")
    await queue.connect()
    try:
        await queue.publish([Job(i, 0) for i in range(1, 1_202)])
        assert await queue.waiting() == 1_201  # confirmed means enqueued
        raw = await queue._relay_channel.get_underlay_channel()  # type: ignore[union-attr]
        assert raw.confirmations == {}  # every tag's entry taken by its ack
    finally:
        await queue.close()


async def test_the_frames_path_fails_a_batch_the_broker_nacks(queue_name):
    """A queue that refuses what it cannot hold nacks the publish: the batch fails (the
    relay gives it back), and the channel publishes on."""
    full = f"{queue_name}.full"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
        declared = await channel.declare_queue(full, arguments=arguments)
        try:
            raw = await channel.get_underlay_channel()
            await rabbitmq_frames.publish_batch(raw, full, [Job(1, 0)])
            with pytest.raises(aiormq.exceptions.DeliveryError):
                await rabbitmq_frames.publish_batch(raw, full, [Job(2, 0), Job(3, 0)])
            await declared.purge()
            await rabbitmq_frames.publish_batch(raw, full, [Job(4, 0)])
            assert raw.confirmations == {}
        finally:
            await channel.queue_delete(full)


@pytest.mark.parametrize("requested", ["auto", "frames"])
async def test_without_the_internals_the_supported_path_is_used(queue_name, monkeypatch, requested):
    seen = []

    def missing(channel):
        seen.append(channel)
        return ["confirmations"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("the frames path ran without its internals")

    monkeypatch.setattr(rabbitmq_frames, "missing_internals", missing)
    monkeypatch.setattr(rabbitmq_frames, "publish_batch", must_not_run)
    queue = _queue(queue_name, requested)
    await queue.connect()
    try:
        assert queue.publisher_path == "aio-pika"
        await queue.publish([Job(i, 0) for i in range(1, 2001)])
        await eventually(lambda: _waiting_is(queue, 2000), timeout=10)
        assert len(seen) == 1  # checked once, at connect, on the relay's raw channel
    finally:
        await queue.close()


async def test_asking_for_aio_pika_never_checks_or_uses_the_internals(queue_name, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the frames path was consulted")

    monkeypatch.setattr(rabbitmq_frames, "missing_internals", must_not_run)
    monkeypatch.setattr(rabbitmq_frames, "publish_batch", must_not_run)
    queue = _queue(queue_name, "aio-pika")
    await queue.connect()
    try:
        assert queue.publisher_path == "aio-pika"
        await queue.publish([Job(1, 0)])
        await eventually(lambda: _waiting_is(queue, 1), timeout=5)
    finally:
        await queue.close()


def test_the_factory_passes_the_setting_through():
    for choice in ("auto", "frames", "aio-pika"):
        queue = create_queue(Settings(amqp_url=AMQP_URL, queue_name="q", rabbitmq_publisher=choice))
        assert isinstance(queue, RabbitQueue)
        assert queue.publisher_choice == choice


async def test_a_job_with_nowhere_to_go_fails_the_supported_path(queue_name):
    """mandatory=True: a job whose queue is gone comes back and is not counted published."""
    queue = _queue(queue_name, "aio-pika")
    await queue.connect()
    try:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            await (await connection.channel()).queue_delete(queue_name)
        with pytest.raises(QueueUnavailable, match="not confirmed"):
            await queue.publish([Job(1, 0), Job(2, 0)])
    finally:
        await queue.close()


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_the_queues_are_declared_with_the_configured_type(queue_name, queue_type):
    """Checked on the broker, which refuses (406) a declaration whose arguments differ from
    the queue's: redeclaring with the expected ones succeeds, with the other type fails."""
    queue = RabbitQueue(AMQP_URL, retry_delays_ms=[1000], name=queue_name, queue_type=queue_type)
    await queue.connect()
    await queue.close()
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for name, arguments in [
            (queue_name, queue.topology.arguments()),
            (f"{queue_name}.dlq", queue.topology.arguments()),
            (f"{queue_name}.retry.1000ms", queue.topology.arguments(1000)),
        ]:
            channel = await connection.channel()
            await channel.declare_queue(name, durable=True, arguments=arguments)
        other = "classic" if queue_type == "quorum" else "quorum"
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": other})


async def test_a_queue_of_the_other_type_is_a_clear_error(queue_name):
    classic = _queue(queue_name, "auto")
    await classic.connect()
    await classic.close()
    quorum = RabbitQueue(AMQP_URL, retry_delays_ms=[1000], name=queue_name, queue_type="quorum")
    with pytest.raises(QueueUnavailable, match="keeps the type it was created with"):
        await quorum.connect()
