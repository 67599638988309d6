"""RabbitMQ as the JobQueue: durable queues, persistent messages, publisher confirms.

This module owns the connections (aio-pika's robust connections, which reconnect by
themselves) and the channels, and decides once, at the first connect, which publish path
the relay uses. Publishing and consuming use separate connections: under a memory or
disk alarm RabbitMQ stops reading from every connection that publishes
(`connection.blocked`), and acks written to such a connection would wait behind the
alarm too, so a worker that had recorded its outcomes could not acknowledge them. Every
publish is bounded by `publish_timeout` and refused at once while the broker has
blocked the connection, which `unavailable_reason` (and so `/ready`) reports.

The work itself lives beside it:
- queue/topology.py: queue names and their declaration;
- queue/consumer.py: consuming, on a consume-only AMQP connection of its own, with
  coalesced multiple acks;
- queue/publisher.py: the relay's batches through aio-pika's supported publish API;
- queue/rabbitmq_frames.py: the custom publish path, which writes aiormq's private
  channel state and is used only where that state is present (and where asked:
  RABBITMQ_PUBLISHER). It is kept because it beat the supported path by more than the
  1.3x end to end its risk must pay for (1.42x and 1.85x in two `make bench` runs, see
  bench/dispatch.py); queue/publisher.py is its fallback.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Literal

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from campaign_dispatch.queue import rabbitmq_frames
from campaign_dispatch.queue.base import SEND_QUEUE, DeliveryCallback, Job, QueueUnavailable
from campaign_dispatch.queue.consumer import Consumer
from campaign_dispatch.queue.publisher import (
    JOB_CONTENT_TYPE,
    PERSISTENT,
    AioPikaPublisher,
    BatchPublisher,
)
from campaign_dispatch.queue.topology import QueueType, Topology

log = structlog.get_logger(__name__)

BLOCKED = "broker blocked publishing (a memory or disk alarm)"

PublisherChoice = Literal["auto", "frames", "aio-pika"]


class RabbitQueue:
    def __init__(
        self,
        url: str,
        retry_delays_ms: Sequence[int],
        name: str = SEND_QUEUE,
        connect_timeout: float = 5.0,
        publisher: PublisherChoice = "auto",
        publish_timeout: float = 10.0,
        queue_type: QueueType = "classic",
    ):
        self.url = url
        self.topology = Topology(name, retry_delays_ms, queue_type)
        self.name = name
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.publisher_choice = publisher
        self.publisher_path: str | None = None  # "frames" or "aio-pika", set at connect
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None  # declare, retries, dead letters
        self._relay: BatchPublisher | None = None  # the relay's own confirm channel
        self._relay_channel: AbstractChannel | None = None
        self._consumer: Consumer | None = None
        self._lock = asyncio.Lock()

    async def _open(self, purpose: str) -> AbstractRobustConnection:
        # Named, so that the broker's management UI tells the two apart.
        return await aio_pika.connect_robust(
            self.url,
            timeout=self.connect_timeout,
            client_properties={"connection_name": f"campaign-dispatch {purpose}"},
        )

    async def connect(self) -> None:
        """Connect and declare the topology; QueueUnavailable when the broker is down."""
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed:
                return
            connection: AbstractRobustConnection | None = None
            try:
                connection = await self._open("publish")
                channel = await connection.channel(publisher_confirms=True)
                try:
                    await self.topology.declare(channel)
                except aio_pika.exceptions.ChannelPreconditionFailed as exc:
                    raise QueueUnavailable(
                        f"the queues named {self.name!r} exist with other arguments than "
                        f"QUEUE_TYPE={self.topology.queue_type} declares ({exc}); a queue "
                        "keeps the type it was created with: delete the queues (they hold "
                        "only jobs, which the outbox publishes again) or change QUEUE_TYPE"
                    ) from exc
                relay_channel = await connection.channel(publisher_confirms=True)
                await self._choose_publisher(relay_channel)
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                raise QueueUnavailable(f"RabbitMQ unreachable: {exc!r}") from exc
            self._connection, self._channel = connection, channel
            self._relay_channel, self._relay = relay_channel, self._new_publisher(relay_channel)

    async def _choose_publisher(self, channel: AbstractChannel) -> None:
        """Once per queue: the frames path only where asked (or auto) and all it needs exists."""
        if self.publisher_path is not None:
            return
        path = "aio-pika"
        if self.publisher_choice != "aio-pika":
            missing = rabbitmq_frames.missing_internals(await channel.get_underlay_channel())
            if not missing:
                path = "frames"
            else:
                log.warning(
                    "frames publisher unavailable in this aiormq; using aio-pika's publish",
                    requested=self.publisher_choice,
                    missing=missing,
                )
        self.publisher_path = path
        log.info("rabbitmq publisher", path=path, requested=self.publisher_choice)

    def _new_publisher(self, channel: AbstractChannel) -> BatchPublisher:
        if self.publisher_path == "frames":
            return rabbitmq_frames.FramesPublisher(channel)
        return AioPikaPublisher(channel)

    async def _ensure_connected(self) -> AbstractRobustConnection:
        if self._connection is None or self._connection.is_closed:
            await self.connect()
        assert self._connection is not None
        return self._connection

    async def _publish_channel(self) -> AbstractChannel:
        await self._ensure_connected()
        channel = self._channel
        if channel is None or channel.is_closed:
            raise QueueUnavailable("RabbitMQ channel is closed (reconnecting)")
        return channel

    async def unavailable_reason(self) -> str | None:
        try:
            await self._publish_channel()
        except QueueUnavailable:
            return "broker unreachable"
        if self._connection is None or not self._connection.connected.is_set():
            return "broker unreachable"
        if await _blocked(self._connection):
            return BLOCKED
        consumer = self._consumer
        if consumer is not None and not consumer.connected:
            return "consumer connection lost (reconnecting)"
        return None

    async def _check_publishable(self) -> None:
        """Fail fast while the broker blocks publishing, instead of waiting out the timeout."""
        if self._connection is not None and await _blocked(self._connection):
            raise QueueUnavailable(BLOCKED)

    async def waiting(self) -> int:
        channel = await self._publish_channel()
        try:
            # aiormq directly: aio-pika's robust channel answers declare_queue for a known
            # queue with the result of its first declaration.
            raw = await channel.get_underlay_channel()
            declared = await raw.queue_declare(self.name, passive=True)
        except Exception as exc:
            raise QueueUnavailable(f"cannot inspect {self.name}: {exc!r}") from exc
        return int(declared.message_count or 0)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.close()  # the last coalesced acks go out first
        if self._connection is not None:
            await self._connection.close()
            self._connection = self._channel = None
            self._relay = self._relay_channel = None

    async def _relay_publisher(self) -> BatchPublisher:
        """The relay's own confirm channel (robust: aio-pika reopens it after a reconnect)."""
        connection = await self._ensure_connected()
        channel = self._relay_channel
        if self._relay is None or channel is None or channel.is_closed:
            channel = self._relay_channel = await connection.channel(publisher_confirms=True)
            self._relay = self._new_publisher(channel)
        return self._relay

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Publish with confirms; returns once the broker has confirmed every job, or
        raises QueueUnavailable (the caller publishes them again later)."""
        try:
            async with asyncio.timeout(self.publish_timeout):
                publisher = await self._relay_publisher()
                await self._check_publishable()
                await publisher.publish(self.name, jobs)
        except QueueUnavailable:
            raise
        except TimeoutError as exc:
            raise QueueUnavailable(self._timed_out(f"{len(jobs)} jobs")) from exc
        except Exception as exc:  # a nack, a closed channel, a lost connection: retry later
            raise QueueUnavailable(f"publish failed: {exc!r}") from exc

    def _timed_out(self, what: str) -> str:
        return f"broker did not confirm {what} within {self.publish_timeout:g}s"

    async def _publish_one(self, routing_key: str, body: bytes, what: str, **props: Any) -> None:
        try:
            async with asyncio.timeout(self.publish_timeout):
                channel = await self._publish_channel()
                await self._check_publishable()
                message = aio_pika.Message(
                    body, delivery_mode=PERSISTENT, content_type=JOB_CONTENT_TYPE, **props
                )
                await channel.default_exchange.publish(message, routing_key=routing_key)
        except QueueUnavailable:
            raise
        except TimeoutError as exc:
            raise QueueUnavailable(self._timed_out(f"the {what} publish")) from exc
        except Exception as exc:
            raise QueueUnavailable(f"{what} publish failed: {exc!r}") from exc

    async def publish_retry(self, job: Job, delay_seconds: float) -> None:
        queue, expiration = self.topology.retry_route(delay_seconds)
        await self._publish_one(queue, job.encode(), "retry", expiration=expiration)

    async def dead_letter(self, body: bytes, reason: str) -> None:
        queue = self.topology.dead_letter_name
        await self._publish_one(queue, body, "dead-letter", headers={"x-reason": reason})

    async def start_consuming(self, on_delivery: DeliveryCallback, prefetch: int) -> None:
        """Consume on a connection of its own, which never publishes (see the module doc)."""
        await self._publish_channel()  # the topology is declared
        consumer = Consumer(self.url, self.name, self.connect_timeout)
        await consumer.start(on_delivery, prefetch)
        self._consumer = consumer

    async def stop_consuming(self) -> None:
        """Cancel the consumer; its channel stays open so that the worker can still ack
        what it fetched (close() sends the last coalesced acks)."""
        if self._consumer is not None:
            await self._consumer.stop()


async def _blocked(connection: AbstractRobustConnection) -> bool:
    """Whether the broker has sent `connection.blocked` and not yet `connection.unblocked`.

    aiormq tracks it and exposes it only through `ready()`, which returns at once on an
    open, unblocked connection and waits otherwise: a wait that does not end at once on
    an open connection is a block.
    """
    transport = connection.transport
    if transport is None or not connection.connected.is_set():
        return False
    try:
        await asyncio.wait_for(transport.connection.ready(), timeout=0.01)
    except TimeoutError:
        return transport.connection.is_opened
    return False
