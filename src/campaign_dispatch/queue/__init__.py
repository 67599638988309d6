"""The job queue: the JobQueue protocol, RabbitMQ and in-process implementations."""

from campaign_dispatch.queue.base import SEND_QUEUE, Delivery, Job, JobQueue, QueueUnavailable
from campaign_dispatch.queue.factory import create_queue
from campaign_dispatch.queue.memory import InProcessQueue

__all__ = [
    "SEND_QUEUE",
    "Delivery",
    "InProcessQueue",
    "Job",
    "JobQueue",
    "QueueUnavailable",
    "create_queue",
]
