"""RabbitMQ via aio-pika: durable queues, persistent messages, publisher confirms.

Topology (declared idempotently on connect; `campaign_sends` is QUEUE_NAME's default):
- `campaign_sends`: the jobs.
- `campaign_sends.retry.<ms>`: one delay queue per retry level, with that TTL; expired
  jobs dead-letter back into `campaign_sends`. One queue per delay avoids the
  head-of-line blocking of per-message TTLs in a single queue.
- `campaign_sends.dlq`: copies of finally failed messages, with the reason.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from campaign_dispatch.queue.base import (
    SEND_QUEUE,
    DeliveryCallback,
    Job,
    QueueUnavailable,
)

log = structlog.get_logger(__name__)
_PERSISTENT = aio_pika.DeliveryMode.PERSISTENT


@dataclass
class RabbitDelivery:
    message: AbstractIncomingMessage

    @property
    def body(self) -> bytes:
        return self.message.body

    async def ack(self) -> None:
        await self.message.ack()

    async def release(self) -> None:
        await self.message.nack(requeue=True)


class RabbitQueue:
    def __init__(
        self,
        url: str,
        retry_delays_ms: Sequence[int],
        name: str = SEND_QUEUE,
        connect_timeout: float = 5.0,
    ):
        self.url = url
        self.name = name
        self.dead_letter_name = f"{name}.dlq"
        self.retry_delays_ms = sorted(set(retry_delays_ms))
        self.connect_timeout = connect_timeout
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._consume_channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Connect and declare the topology; QueueUnavailable when the broker is down."""
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed:
                return
            connection: AbstractRobustConnection | None = None
            try:
                connection = await aio_pika.connect_robust(self.url, timeout=self.connect_timeout)
                channel = await connection.channel(publisher_confirms=True)
                await self._declare(channel)
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                raise QueueUnavailable(f"RabbitMQ unreachable: {exc!r}") from exc
            self._connection, self._publish_channel = connection, channel

    async def _declare(self, channel: AbstractChannel) -> None:
        await channel.declare_queue(self.name, durable=True)
        await channel.declare_queue(self.dead_letter_name, durable=True)
        for delay_ms in self.retry_delays_ms:
            await channel.declare_queue(
                self.retry_queue_name(delay_ms),
                durable=True,
                arguments={
                    "x-message-ttl": delay_ms,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.name,
                },
            )

    def retry_queue_name(self, delay_ms: int) -> str:
        return f"{self.name}.retry.{delay_ms}ms"

    async def _channel(self) -> AbstractChannel:
        if self._connection is None or self._connection.is_closed:
            await self.connect()
        channel = self._publish_channel
        if channel is None or channel.is_closed:
            raise QueueUnavailable("RabbitMQ channel is closed (reconnecting)")
        return channel

    async def ready(self) -> bool:
        try:
            await self._channel()
        except QueueUnavailable:
            return False
        return self._connection is not None and self._connection.connected.is_set()

    async def close(self) -> None:
        await self.stop_consuming()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _publish(self, routing_key: str, body: bytes, **properties: Any) -> None:
        channel = await self._channel()
        message = aio_pika.Message(body, delivery_mode=_PERSISTENT, **properties)
        await channel.default_exchange.publish(message, routing_key=routing_key)

    async def publish(self, jobs: Sequence[Job]) -> None:
        try:
            await asyncio.gather(
                *(
                    self._publish(self.name, job.encode(), content_type="application/json")
                    for job in jobs
                )
            )
        except QueueUnavailable:
            raise
        except Exception as exc:  # a nack, a closed channel, a lost connection: retry later
            raise QueueUnavailable(f"publish failed: {exc!r}") from exc

    async def publish_retry(self, job: Job, delay_seconds: float) -> None:
        delay_ms = max(1, round(delay_seconds * 1000))
        queue_ms = next(
            (d for d in self.retry_delays_ms if d >= delay_ms), self.retry_delays_ms[-1]
        )
        try:
            await self._publish(
                self.retry_queue_name(queue_ms),
                job.encode(),
                content_type="application/json",
                expiration=min(delay_ms, queue_ms) / 1000,
            )
        except QueueUnavailable:
            raise
        except Exception as exc:
            raise QueueUnavailable(f"retry publish failed: {exc!r}") from exc

    async def dead_letter(self, body: bytes, reason: str) -> None:
        try:
            await self._publish(
                self.dead_letter_name,
                body,
                content_type="application/json",
                headers={"x-reason": reason},
            )
        except QueueUnavailable:
            raise
        except Exception as exc:
            raise QueueUnavailable(f"dead-letter publish failed: {exc!r}") from exc

    async def start_consuming(self, on_delivery: DeliveryCallback, prefetch: int) -> None:
        await self._channel()
        assert self._connection is not None
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(self.name)

        async def callback(message: AbstractIncomingMessage) -> None:
            on_delivery(RabbitDelivery(message))

        self._consume_channel = channel
        self._consumer_tag = await queue.consume(callback, no_ack=False)

    async def stop_consuming(self) -> None:
        channel, tag = self._consume_channel, self._consumer_tag
        self._consume_channel = self._consumer_tag = None
        if channel is None or channel.is_closed:
            return
        if tag is not None:
            queue = await channel.get_queue(self.name, ensure=False)
            await queue.cancel(tag)
