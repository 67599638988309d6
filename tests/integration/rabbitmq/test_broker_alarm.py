"""A broker memory alarm (`connection.blocked`): the worker keeps acknowledging, publishes
time out instead of hanging, /ready says why, and everything finishes once it clears.

RabbitMQ stops reading from every connection that publishes while an alarm lasts. The
worker consumes on a connection of its own, which never publishes, so its acks still
reach the broker; its retries, which must be published, are left to the outbox.
"""

import subprocess
import time

import aio_pika
import pytest

from campaign_dispatch.providers import MockSender
from campaign_dispatch.statuses import MessageStatus
from tests.pipeline_helpers import eventually, messages
from tests.rabbitmq_helpers import campaign_status, create_and_send, start_worker
from tests.services import AMQP_URL

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def _alarms() -> str:
    return _rabbitmqctl("eval", "rabbit_alarm:get_alarms().")


def _wait_for(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class MemoryAlarm:
    """Raise the node's memory alarm (a 1-byte watermark) and always put it back."""

    def __init__(self) -> None:
        self.watermark = _rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")

    def raise_(self) -> None:
        _rabbitmqctl("set_vm_memory_high_watermark", "absolute", "1")
        _wait_for(lambda: "memory" in _alarms(), "the memory alarm")

    def clear(self) -> None:
        value = self.watermark
        if value.startswith("{absolute,"):
            _rabbitmqctl("set_vm_memory_high_watermark", "absolute", value[10:-1])
        else:
            _rabbitmqctl("set_vm_memory_high_watermark", value)
        _wait_for(lambda: "memory" not in _alarms(), "the memory alarm to clear")


@pytest.fixture
def memory_alarm():
    alarm = MemoryAlarm()
    try:
        yield alarm
    finally:
        alarm.clear()


async def _waiting(name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


async def test_a_memory_alarm_blocks_publishing_but_not_acknowledging(
    api, rabbit_settings, memory_alarm
):
    api_runtime, client = api
    total = 200
    campaign_id = await create_and_send(client, total)

    async def all_in_the_queue():
        return await _waiting(rabbit_settings.queue_name) == total

    await eventually(all_in_the_queue, timeout=30)
    memory_alarm.raise_()

    # Failures make the worker publish retries, which the alarm blocks. Half of them fail:
    # the automatic pause (more than half of the last 200) must not stop the campaign.
    settings = rabbit_settings.model_copy(
        update={
            "publish_timeout_seconds": 1.0,
            "max_retries": 3,
            "auto_pause_failure_rate": 1.0,
        }
    )
    worker = await start_worker(settings, sender=MockSender(failure_rate=0.5, seed=7))
    try:

        async def every_job_processed():
            rows = await messages(api_runtime, campaign_id)
            return all(m.status != MessageStatus.SENDING for m in rows) and all(
                m.retry_count > 0 or m.status != MessageStatus.PENDING for m in rows
            )

        await eventually(every_job_processed, timeout=60)

        async def ready_says_blocked():
            response = await client.get("/ready")
            queue = response.json()["checks"]["queue"]
            return response.status_code == 503 and "blocked" in queue and queue

        # The API's relay tries to publish the retries: the broker blocks it.
        reason = await eventually(ready_says_blocked, timeout=30)
        assert reason == "unavailable: broker blocked publishing (a memory or disk alarm)"
    finally:
        await worker.close()
    # Every job the worker took was acknowledged despite the alarm: none went back.
    assert await _waiting(rabbit_settings.queue_name) == 0

    memory_alarm.clear()
    worker = await start_worker(settings, sender=worker.sender)
    try:

        async def finished():
            status, stats = await campaign_status(client, campaign_id)
            return status in ("sent", "failed") and stats

        stats = await eventually(finished, timeout=60)
    finally:
        await worker.close()
    assert stats["sent"] + stats["failed"] == total
    assert stats["pending"] == stats["sending"] == 0
    rows = await messages(api_runtime, campaign_id)
    assert max(m.retry_count for m in rows) <= settings.max_retries + max(
        m.lease_expiries for m in rows
    )
    assert worker.sender.delivered == stats["sent"]
    assert worker.sender.duplicates == 0
    assert (await client.get("/ready")).status_code == 200
