"""RabbitMQ via aio-pika: durable queues, persistent messages, publisher confirms.

Topology (declared idempotently on connect; `campaign_sends` is QUEUE_NAME's default):
- `campaign_sends`: the jobs.
- `campaign_sends.retry.<ms>`: one delay queue per retry level, with that TTL; expired
  jobs dead-letter back into `campaign_sends`. One queue per delay avoids the
  head-of-line blocking of per-message TTLs in a single queue.
- `campaign_sends.dlq`: copies of finally failed messages, with the reason.

Hot-path economy (the worker process is CPU-bound at a few thousand jobs/s):
- acks are coalesced per consumer channel into `basic.ack(multiple=True)` frames that
  never cover a delivery still in flight (see queue/acks.py);
- the relay publishes on its own confirm channel straight through aiormq (no
  aio_pika.Message per job, no per-frame drain), still awaiting every confirm;
- the socket writer coalesces the frames written in one event-loop turn into one
  `send()` instead of one system call per frame.
"""

import asyncio
import contextlib
import struct
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aio_pika
import aiormq
import pamqp.frame
import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import ChannelFrame, DeliveredMessage
from pamqp.commands import Basic
from pamqp.header import ContentHeader
from yarl import URL

from campaign_dispatch.queue.acks import AckCoalescer
from campaign_dispatch.queue.base import (
    SEND_QUEUE,
    DeliveryCallback,
    Job,
    QueueUnavailable,
)

log = structlog.get_logger(__name__)
_PERSISTENT = aio_pika.DeliveryMode.PERSISTENT


_FLUSH_BYTES = 256 * 1024


class _CoalescingWriter(asyncio.StreamWriter):
    """Buffers the frames written during one event-loop turn and sends them together.

    aiormq writes every frame separately, and a plain transport tries a `send()` per
    write: one system call (and one wake-up of the broker) per frame. Order is kept (one
    buffer, flushed in order); `close` and `write_eof` flush first.
    """

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: asyncio.StreamReaderProtocol,
        reader: asyncio.StreamReader,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(transport, protocol, reader, loop)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._loop_ref = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop_ref.call_soon(self._flush)
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_BYTES:
            self._flush()

    def writelines(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def _flush(self) -> None:
        if self._pending:
            chunks, self._pending, self._pending_bytes = self._pending, [], 0
            if not self.transport.is_closing():
                self.transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def write_eof(self) -> None:
        self._flush()
        super().write_eof()

    def close(self) -> None:
        self._flush()
        super().close()


class _CoalescingTCPTransport(aiormq.connection.TransportFactory):
    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kwargs.pop("ssl_context_provider", None)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**16, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.create_connection(
                lambda: protocol, host=url.host or "localhost", port=url.port or 5672, **kwargs
            )
        except OSError as exc:
            raise aiormq.exceptions.AMQPConnectionError(*exc.args) from exc
        return reader, _CoalescingWriter(transport, protocol, reader, loop)


class _RobustConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection over the coalescing writer (plain TCP only)."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any):
        super().__init__(url, loop=loop, **kwargs)
        if URL(url).scheme == "amqp":
            self.kwargs["transport_factory"] = _CoalescingTCPTransport()


_BODY_FRAME_HEAD = struct.Struct(">BHI")
_FRAME_END = b"\xce"
_PUBLISH_CHUNK = 500  # jobs per write-queue entry (one buffer)


def _job_properties() -> Basic.Properties:
    return Basic.Properties(content_type="application/json", delivery_mode=2)  # persistent


class _PublishFrames:
    """The wire bytes of `basic.publish` + header + body for jobs, mostly precomputed.

    The method frame is the same for every job to one queue and the header frame depends
    only on the body's length, so both are marshalled once; a job costs one body frame.
    """

    def __init__(self, channel_number: int, routing_key: str) -> None:
        self.channel_number = channel_number
        self.method = pamqp.frame.marshal(
            Basic.Publish(exchange="", routing_key=routing_key), channel_number
        )
        self._headers: dict[int, bytes] = {}

    def job(self, body: bytes) -> bytes:
        size = len(body)
        header = self._headers.get(size)
        if header is None:
            header = self._headers[size] = pamqp.frame.marshal(
                ContentHeader(0, size, _job_properties()), self.channel_number
            )
        head = _BODY_FRAME_HEAD.pack(3, self.channel_number, size)  # 3: body frame
        return b"".join((self.method, header, head, body, _FRAME_END))


def _can_batch(channel: aiormq.Channel) -> bool:
    return (
        channel.publisher_confirms
        and isinstance(getattr(channel, "confirmations", None), dict)
        and isinstance(getattr(channel, "delivery_tag", None), int)
        and hasattr(channel, "write_queue")
    )


async def _publish_batch(
    channel: aiormq.Channel, routing_key: str, jobs: Sequence[Job]
) -> list[Any]:
    """Many basic.publish in one write, each with its own confirm future.

    This is aiormq's basic_publish (same sequence numbers, same confirmation table, the
    same channel lock so no other publish interleaves) minus one task, one lock round,
    one write-queue entry and the frame marshalling per message. Confirm futures belong
    to the channel, so a closing channel fails them and the caller retries later.
    """
    frames = _PublishFrames(channel.number, routing_key)
    bodies = [job.encode() for job in jobs]
    if max(map(len, bodies), default=0) >= channel.max_content_size:
        raise ValueError("job body larger than one frame")
    futures: list[asyncio.Future[Any]] = []
    for start in range(0, len(bodies), _PUBLISH_CHUNK):
        chunk = bodies[start : start + _PUBLISH_CHUNK]
        async with channel.lock:
            first_tag = channel.delivery_tag + 1
            payload = ChannelFrame(
                payload=b"".join([frames.job(body) for body in chunk]), should_close=False
            )
            chunk_futures = [channel.create_future() for _ in chunk]
            for offset, future in enumerate(chunk_futures):
                channel.confirmations[first_tag + offset] = future
            channel.delivery_tag = first_tag + len(chunk) - 1
            try:
                await channel.write_queue.put(payload)
            except BaseException:
                # Not handed to the connection: the broker never saw these tags.
                for offset, future in enumerate(chunk_futures):
                    channel.confirmations.pop(first_tag + offset, None)
                    future.cancel()
                channel.delivery_tag = first_tag - 1
                raise
        futures += chunk_futures
    return list(await asyncio.gather(*futures))


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
        self._relay_channel: AbstractChannel | None = None
        self._consume_channel: AbstractRobustChannel | None = None
        self._consumer_tag: str | None = None
        self._resume: Callable[..., Awaitable[None]] | None = None
        self._acks: AckCoalescer | None = None
        self._acks_channel: object = None
        self._old_acks: list[AckCoalescer] = []
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Connect and declare the topology; QueueUnavailable when the broker is down."""
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed:
                return
            connection: AbstractRobustConnection | None = None
            try:
                connection = await aio_pika.connect_robust(
                    self.url, timeout=self.connect_timeout, connection_class=_RobustConnection
                )
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

    async def waiting(self) -> int:
        channel = await self._channel()
        try:
            # aiormq directly: aio-pika's robust channel answers declare_queue for a known
            # queue with the result of its first declaration.
            raw = await channel.get_underlay_channel()
            declared = await raw.queue_declare(self.name, passive=True)
        except Exception as exc:
            raise QueueUnavailable(f"cannot inspect {self.name}: {exc!r}") from exc
        return int(declared.message_count or 0)

    async def close(self) -> None:
        await self.stop_consuming()
        await self.drain_acks()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._relay_channel = None

    async def drain_acks(self) -> None:
        """Send the acks still coalescing (before the channel closes)."""
        for acks in [*self._old_acks, *([self._acks] if self._acks else [])]:
            await acks.drain()
        self._old_acks.clear()

    async def _publish(self, routing_key: str, body: bytes, **properties: Any) -> None:
        channel = await self._channel()
        message = aio_pika.Message(body, delivery_mode=_PERSISTENT, **properties)
        await channel.default_exchange.publish(message, routing_key=routing_key)

    async def _relay_underlay(self) -> aiormq.Channel:
        """The relay's own confirm channel (robust: aio-pika reopens it after a reconnect)."""
        await self._channel()
        assert self._connection is not None
        channel = self._relay_channel
        if channel is None or channel.is_closed:
            channel = self._relay_channel = await self._connection.channel(publisher_confirms=True)
        return cast(aiormq.Channel, await channel.get_underlay_channel())

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Publish with confirms; returns once the broker has confirmed every job."""
        try:
            channel = await self._relay_underlay()
            if _can_batch(channel):
                confirmations = await _publish_batch(channel, self.name, jobs)
            else:  # another aiormq: one basic_publish per job
                confirmations = await asyncio.gather(
                    *(
                        channel.basic_publish(
                            job.encode(),
                            routing_key=self.name,
                            properties=_job_properties(),
                            wait=False,
                        )
                        for job in jobs
                    )
                )
        except QueueUnavailable:
            raise
        except Exception as exc:  # a nack, a closed channel, a lost connection: retry later
            raise QueueUnavailable(f"publish failed: {exc!r}") from exc
        if not all(isinstance(c, Basic.Ack) for c in confirmations):
            raise QueueUnavailable("publish not confirmed by the broker")

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
        """Consume straight from aiormq (no aio_pika.IncomingMessage, one task less per job).

        aio-pika restores the channel and its QoS after a reconnect, but not a consumer it
        did not register, so a reopen callback starts consuming again on the new channel.
        """
        await self._channel()
        assert self._connection is not None
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        await channel.get_queue(self.name)  # fails early if the queue is missing
        tag = f"campaign-dispatch.{uuid.uuid4().hex}"

        async def deliver(message: DeliveredMessage) -> None:
            on_delivery(RabbitDelivery(message, self._coalescer(message.channel)))

        async def consume(robust: Any = None) -> None:
            underlay = await channel.get_underlay_channel()
            try:
                await underlay.basic_consume(self.name, deliver, consumer_tag=tag)
            except Exception:
                log.exception("could not resume consuming after a reconnect")
                raise

        await consume()
        channel.reopen_callbacks.add(consume)
        self._consume_channel, self._consumer_tag, self._resume = channel, tag, consume

    def _coalescer(self, channel: aiormq.abc.AbstractChannel) -> AckCoalescer:
        """One per underlying channel: delivery tags restart at 1 on a reopened channel."""
        if self._acks is None or self._acks_channel is not channel:
            if self._acks is not None:
                self._old_acks = [a for a in self._old_acks if a.busy] + [self._acks]

            async def send_ack(tag: int) -> None:
                await channel.basic_ack(tag, multiple=True, wait=False)

            self._acks, self._acks_channel = AckCoalescer(send_ack), channel
        return self._acks

    async def stop_consuming(self) -> None:
        channel, tag, resume = self._consume_channel, self._consumer_tag, self._resume
        self._consume_channel = self._consumer_tag = self._resume = None
        if channel is None:
            return
        if resume is not None:
            channel.reopen_callbacks.discard(resume)
        if channel.is_closed or tag is None:
            return
        underlay = await channel.get_underlay_channel()
        await underlay.basic_cancel(tag)
