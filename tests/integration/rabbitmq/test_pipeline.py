"""The production path: PostgreSQL + RabbitMQ, with the API and workers as separate runtimes
(and, where a crash matters, separate processes)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from campaign_dispatch.providers import MockSender
from campaign_dispatch.queue import Job
from tests.harness import Process
from tests.pipeline_helpers import eventually, messages, unpublished
from tests.rabbitmq_helpers import campaign_status, create_and_send, start_worker
from tests.services import AMQP_URL
from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


async def test_send_to_sent_through_rabbitmq(api, rabbit_settings, publisher):
    api_runtime, client = api
    worker = await start_worker(rabbit_settings)
    try:
        assert api_runtime.queue.publisher_path == publisher  # the API runtime's relay
        campaign_id = await create_and_send(client, 50)

        async def finished():
            status, stats = await campaign_status(client, campaign_id)
            return status == "sent" and stats

        stats = await eventually(finished, timeout=30)
        assert stats == {
            "total": 50,
            "pending": 0,
            "sending": 0,
            "sent": 50,
            "failed": 0,
            "cancelled": 0,
            "delivered": 0,
            "undelivered": 0,
        }
        rows = await messages(api_runtime, campaign_id)
        assert sorted(m.rendered_content for m in rows) == sorted(f"Hi N{i}!" for i in range(50))
        assert worker.sender.delivered == 50 and worker.sender.duplicates == 0
    finally:
        await worker.close()


async def test_broker_outage_during_send_loses_nothing(rabbit_settings):
    """The send call succeeds with the broker unreachable; jobs go out when it is back."""
    target = urlsplit(AMQP_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.start()
    proxied_url = AMQP_URL.replace(f":{target.port or 5672}", f":{proxy.port}")
    await proxy.cut()  # the broker is "down" before the API even starts

    api_settings = rabbit_settings.model_copy(update={"amqp_url": proxied_url})
    api_runtime = Process.create(api_settings)
    await api_runtime.start({Role.RELAY})
    app = create_app(api_settings, api_runtime.resources)
    worker = None
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["queue"] == "unavailable: broker unreachable"

            campaign_id = await create_and_send(client, 20)
            await asyncio.sleep(1.0)
            rows = await messages(api_runtime, campaign_id)
            assert {m.status for m in rows} == {"pending"}
            assert await unpublished(api_runtime, campaign_id) == {m.id for m in rows}

            await proxy.start()  # the broker is back
            worker = await start_worker(rabbit_settings)

            async def finished():
                status, stats = await campaign_status(client, campaign_id)
                return status == "sent" and stats

            stats = await eventually(finished, timeout=40)
            assert stats["sent"] == 20
            assert worker.sender.delivered == 20
    finally:
        if worker is not None:
            await worker.close()
        await api_runtime.close()
        await proxy.cut()


async def test_retries_wait_for_their_backoff_and_end_in_the_dlq(api, rabbit_settings):
    api_runtime, client = api
    settings = rabbit_settings.model_copy(update={"retry_base_delay_ms": 200})
    worker = await start_worker(settings, sender=MockSender(failure_rate=1.0))
    try:
        started = time.monotonic()
        campaign_id = await create_and_send(client, 3)

        async def failed():
            status, stats = await campaign_status(client, campaign_id)
            return status == "failed" and stats

        stats = await eventually(failed, timeout=30)
        elapsed = time.monotonic() - started
        assert stats["failed"] == 3
        # three retries after at least 100 + 200 + 400 ms (half-jittered 200/400/800 ms)
        assert elapsed >= 0.7
        assert worker.sender.failures == 12
        rows = await messages(api_runtime, campaign_id)
        assert {(m.status, m.retry_count) for m in rows} == {("failed", 3)}

        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            dlq = await channel.declare_queue(f"{rabbit_settings.queue_name}.dlq", passive=True)
            dead = []
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                dead.append((Job.decode(message.body).message_id, message.headers["x-reason"]))
        assert sorted(mid for mid, _ in dead) == sorted(m.id for m in rows)
        assert all("failed after 3 retries: mock provider" in str(reason) for _, reason in dead)
    finally:
        await worker.close()


def _worker_process(settings, **env):
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "QUEUE_NAME": settings.queue_name,
        "RABBITMQ_PUBLISHER": settings.rabbitmq_publisher,
        "QUEUE_TYPE": settings.queue_type,
        "MOCK_SENDER_FAILURE_RATE": "0",
        # The mock's receipts come after the run (they would race the stats asserted).
        "MOCK_DELIVERY_DELAY_MS": "3600000",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "campaign_dispatch.cli", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_killed_worker_loses_nothing_and_records_nothing_twice(api, rabbit_settings):
    api_runtime, client = api
    slow = {
        "MOCK_SENDER_LATENCY_MS": "200",
        "WORKER_CONCURRENCY": "20",
        "WORKER_BATCH_SIZE": "10",
        "LEASE_SECONDS": "2",
    }
    first = _worker_process(rabbit_settings, **slow)
    second = None
    try:
        campaign_id = await create_and_send(client, 300)

        async def some_sent():
            _, stats = await campaign_status(client, campaign_id)
            return stats["sent"] >= 20

        await eventually(some_sent, timeout=30)
        first.send_signal(signal.SIGKILL)  # no chance to finish or release anything
        first.wait(timeout=10)
        _, stats = await campaign_status(client, campaign_id)
        assert stats["sent"] < 300

        second = _worker_process(rabbit_settings, LEASE_SECONDS="2", WORKER_CONCURRENCY="200")

        async def finished():
            status, stats = await campaign_status(client, campaign_id)
            return status == "sent" and stats

        stats = await eventually(finished, timeout=60)
        assert stats == {
            "total": 300,
            "pending": 0,
            "sending": 0,
            "sent": 300,
            "failed": 0,
            "cancelled": 0,
            "delivered": 0,
            "undelivered": 0,
        }
        rows = await messages(api_runtime, campaign_id)
        assert len(rows) == 300 and len({m.customer_id for m in rows}) == 300
        # a claim the killed worker held counts as one failed attempt, never more
        assert {m.retry_count for m in rows} <= {0, 1}
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def test_sigterm_drains_in_flight_work(api, rabbit_settings):
    api_runtime, client = api
    worker = _worker_process(
        rabbit_settings,
        MOCK_SENDER_LATENCY_MS="300",
        WORKER_CONCURRENCY="10",
        WORKER_BATCH_SIZE="10",
    )
    try:
        campaign_id = await create_and_send(client, 100)

        async def some_sending():
            _, stats = await campaign_status(client, campaign_id)
            return stats["sent"] >= 10 and stats

        await eventually(some_sending, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        rows = await messages(api_runtime, campaign_id)
        # nothing was left claimed: in-flight jobs were finished (or released) before exit
        assert not [m for m in rows if m.status == "sending"]
        assert 10 <= sum(m.status == "sent" for m in rows) < 100
    finally:
        if worker.poll() is None:
            worker.kill()


async def test_waiting_counts_jobs_not_yet_delivered(rabbit_settings):
    from campaign_dispatch.queue import create_queue

    queue = create_queue(rabbit_settings)
    await queue.connect()
    try:
        assert await queue.waiting() == 0
        await queue.publish([Job(1, 0), Job(2, 0), Job(3, 0)])
        await eventually(lambda: _waiting_is(queue, 3), timeout=5)
    finally:
        await queue.close()


async def _waiting_is(queue, n):
    return await queue.waiting() == n
