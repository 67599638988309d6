"""Which JobQueue a process uses: RabbitMQ when AMQP_URL is set, else the in-process one."""

from campaign_dispatch.config import Settings
from campaign_dispatch.queue.base import JobQueue
from campaign_dispatch.queue.memory import InProcessQueue


def create_queue(settings: Settings) -> JobQueue:
    if settings.amqp_url:
        from campaign_dispatch.queue.rabbitmq import RabbitQueue

        return RabbitQueue(
            settings.amqp_url,
            retry_delays_ms=settings.retry_delays_ms(),
            name=settings.queue_name,
            publisher=settings.rabbitmq_publisher,
            publish_timeout=settings.publish_timeout_seconds,
            queue_type=settings.queue_type,
        )
    return InProcessQueue()
