"""Consuming the job queue, with coalesced acknowledgements.

Its own module because consuming has its own state (the consumer tag, the resume
callback, one ack coalescer per underlying channel) and its own failure story (a
reconnect), independent of how jobs are published.

The worker process is CPU-bound at a few thousand jobs per second, so deliveries come
straight from aiormq's `basic_consume` on the channel aio-pika manages (its public
`get_underlay_channel`): no aio_pika.IncomingMessage and one task less per job. Acks
are coalesced into `basic.ack(multiple=True)` frames that never cover a delivery still
in flight (queue/acks.py).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import aiormq
import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from campaign_dispatch.queue.acks import AckCoalescer
from campaign_dispatch.queue.base import DeliveryCallback

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class RabbitDelivery:
    message: DeliveredMessage
    acks: AckCoalescer
    _done: bool = False

    @property
    def body(self) -> bytes:
        return self.message.body

    async def ack(self) -> None:
        """Settled now; the ack frame (coalesced, multiple=True) follows within a loop turn."""
        if not self._done:
            self._done = True
            self.acks.ack(self._tag)

    async def release(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self.message.channel.basic_nack(self._tag, requeue=True)
        finally:
            self.acks.settled_elsewhere(self._tag)

    @property
    def _tag(self) -> int:
        tag = cast(Basic.Deliver, self.message.delivery).delivery_tag
        assert tag is not None
        return tag


class Consumer:
    """One consumer of `queue_name` on its own channel of `connection`."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name
        self._channel: AbstractRobustChannel | None = None
        self._tag: str | None = None
        self._resume: Callable[..., Awaitable[None]] | None = None
        self._acks: AckCoalescer | None = None
        self._acks_channel: object = None
        self._old_acks: list[AckCoalescer] = []
        self._prefetch = 1

    async def start(
        self, connection: AbstractRobustConnection, on_delivery: DeliveryCallback, prefetch: int
    ) -> None:
        """aio-pika restores the channel and its QoS after a reconnect, but not a consumer
        it did not register, so a reopen callback starts consuming again on the new channel.
        """
        self._prefetch = prefetch
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        await channel.get_queue(self.queue_name)  # fails early if the queue is missing
        tag = f"campaign-dispatch.{uuid.uuid4().hex}"

        async def deliver(message: DeliveredMessage) -> None:
            on_delivery(RabbitDelivery(message, self._coalescer(message.channel)))

        async def consume(robust: Any = None) -> None:
            underlay = await channel.get_underlay_channel()
            try:
                await underlay.basic_consume(self.queue_name, deliver, consumer_tag=tag)
            except Exception:
                log.exception("could not resume consuming after a reconnect")
                raise

        await consume()
        channel.reopen_callbacks.add(consume)
        self._channel, self._tag, self._resume = channel, tag, consume

    def _coalescer(self, channel: aiormq.abc.AbstractChannel) -> AckCoalescer:
        """One per underlying channel: delivery tags restart at 1 on a reopened channel."""
        if self._acks is None or self._acks_channel is not channel:
            if self._acks is not None:
                self._old_acks = [a for a in self._old_acks if a.busy] + [self._acks]

            async def send_ack(tag: int, multiple: bool) -> None:
                await channel.basic_ack(tag, multiple=multiple, wait=False)

            # A quarter of the prefetch window may wait behind a slow delivery before
            # they are acked one by one: the rest keeps the broker sending.
            stuck_limit = max(1, self._prefetch // 4)
            self._acks = AckCoalescer(send_ack, stuck_limit=stuck_limit)
            self._acks_channel = channel
        return self._acks

    async def stop(self) -> None:
        channel, tag, resume = self._channel, self._tag, self._resume
        self._channel = self._tag = self._resume = None
        if channel is None:
            return
        if resume is not None:
            channel.reopen_callbacks.discard(resume)
        if channel.is_closed or tag is None:
            return
        underlay = await channel.get_underlay_channel()
        await underlay.basic_cancel(tag)

    async def drain_acks(self) -> None:
        """Send the acks still coalescing (before the channel closes)."""
        for acks in [*self._old_acks, *([self._acks] if self._acks else [])]:
            await acks.drain()
        self._old_acks.clear()
