"""Publishing jobs with aio-pika's supported API: persistent messages, publisher confirms.

A relay batch (thousands of jobs) is published with one `exchange.publish` per job, all
started together with asyncio.gather: the broker confirms them as it writes them, so
many confirms are outstanding at once and a batch costs one round trip, not one per job.
The relay marks the batch published only after every job is confirmed (an ack, not a
nack and not a return), so a lost publish is never marked and is tried again.

`mandatory=True`: a job the broker cannot route (its queue deleted under us) comes back
as a return instead of being acked into nowhere, and fails the batch.
"""

import asyncio
from collections.abc import Sequence
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel
from pamqp.commands import Basic

from campaign_dispatch.queue.base import Job, QueueUnavailable

PERSISTENT = aio_pika.DeliveryMode.PERSISTENT
JOB_CONTENT_TYPE = "application/json"


class BatchPublisher(Protocol):
    """Publishes a batch of jobs to one queue; returns once the broker confirmed all."""

    name: str

    async def publish(self, routing_key: str, jobs: Sequence[Job]) -> None: ...


class AioPikaPublisher:
    name = "aio-pika"

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel

    async def publish(self, routing_key: str, jobs: Sequence[Job]) -> None:
        exchange = self.channel.default_exchange
        results = await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        job.encode(), delivery_mode=PERSISTENT, content_type=JOB_CONTENT_TYPE
                    ),
                    routing_key=routing_key,
                    mandatory=True,
                )
                for job in jobs
            ),
            return_exceptions=True,
        )
        # Every publish has settled (none left writing into the channel): now judge them.
        for result in results:
            if isinstance(result, BaseException):
                raise QueueUnavailable(f"publish failed: {result!r}") from result
        if not all(isinstance(result, Basic.Ack) for result in results):
            raise QueueUnavailable("publish not confirmed by the broker")
