"""Fixtures of the RabbitMQ tests: a fresh queue name per test (deleted afterwards), both
publish paths and both queue types, and an API process with its relay."""

import uuid

import aio_pika
import httpx
import pytest

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from tests.harness import Process
from tests.services import AMQP_URL, require


@pytest.fixture
def queue_name():
    require(AMQP_URL, 5672, "RabbitMQ")
    return f"test_campaign_sends_{uuid.uuid4().hex[:8]}"


async def _queue_names(name):
    return [name, f"{name}.dlq", *(f"{name}.retry.{ms}ms" for ms in (10, 20, 40, 200, 400, 800))]


# Every RabbitMQ test runs on both publish paths (the custom one and its fallback) and on
# both queue types; the custom path, the one production takes, on both types.
VARIANTS = [("frames", "classic"), ("frames", "quorum"), ("aio-pika", "classic")]


@pytest.fixture(params=VARIANTS, ids=["-".join(v) for v in VARIANTS])
def variant(request):
    return request.param


@pytest.fixture
def publisher(variant):
    return variant[0]


@pytest.fixture
def queue_type(variant):
    return variant[1]


@pytest.fixture
async def rabbit_settings(settings, queue_name, publisher, queue_type):
    yield settings.model_copy(
        update={
            "amqp_url": AMQP_URL,
            "queue_name": queue_name,
            "rabbitmq_publisher": publisher,
            "queue_type": queue_type,
        }
    )
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in await _queue_names(queue_name):
            await channel.queue_delete(queue)


@pytest.fixture
async def api(rabbit_settings):
    """An API runtime (with its outbox relay) and a client for it."""
    runtime = Process.create(rabbit_settings)
    await runtime.start({Role.RELAY})
    app = create_app(rabbit_settings, runtime.resources)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield runtime, client
    await runtime.close()
