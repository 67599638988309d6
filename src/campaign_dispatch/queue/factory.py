"""Which JobQueue a process uses: RabbitMQ when AMQP_URL is set, else the in-process one."""

import os
from typing import cast

from campaign_dispatch.config import Settings
from campaign_dispatch.queue.base import JobQueue
from campaign_dispatch.queue.memory import InProcessQueue


def create_queue(settings: Settings) -> JobQueue:
    if settings.amqp_url:
        from campaign_dispatch.queue.rabbitmq import RabbitQueue, WriterChoice

        # Measurement knob for the bench's with/without comparison of the socket writer.
        writer = os.environ.get("RABBITMQ_WRITER", "auto")
        if writer not in ("auto", "coalescing", "plain"):
            raise ValueError(f"RABBITMQ_WRITER must be auto, coalescing or plain, not {writer!r}")
        return RabbitQueue(
            settings.amqp_url,
            retry_delays_ms=settings.retry_delays_ms(),
            name=settings.queue_name,
            publisher=settings.rabbitmq_publisher,
            writer=cast(WriterChoice, writer),
        )
    return InProcessQueue()
