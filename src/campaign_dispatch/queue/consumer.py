"""Consuming the job queue: a consume-only AMQP 0-9-1 connection of its own.

Why not aiormq here: the worker is CPU-bound at a few thousand jobs a second, and
aiormq spent about 100 µs of client CPU per consumed job (docs/benchmarks.md): two
awaited reads per frame, pamqp's generic unmarshal of every method frame and content
header, a queue hop and a task per delivery. This connection is an asyncio.Protocol
that parses deliveries straight out of the bytes that arrived, every complete frame of
a read in one loop without an await, and hands each to the callback. The rest of the
protocol (the handshake, closes, cancels) goes through pamqp, aiormq's own codec, and
publishing stays on aio-pika (queue/rabbitmq.py).

The frame layout followed is AMQP 0-9-1's (section 4.2.3 of the specification, and
RabbitMQ's https://www.rabbitmq.com/amqp-0-9-1-reference): a frame is type (octet),
channel (short), size (long), payload, 0xCE; a delivery is a `basic.deliver` method
frame (consumer tag, delivery tag, redelivered, exchange, routing key), a content header
(class, weight, body size, properties) and body frames until the size is reached.

Acks are coalesced into `basic.ack(multiple=True)` frames that never cover a delivery
still in flight (queue/acks.py). A lost connection is opened again after a backoff and
consuming resumes; the broker requeues what the lost one left unacknowledged, and the
worker ignores redeliveries of messages already final. Heartbeats are sent every half
of the negotiated timeout, and a connection the broker has been silent on for two
timeouts is dropped (and opened again).
"""

import asyncio
import contextlib
import ssl
import struct
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import structlog
from pamqp import commands, frame
from pamqp.base import Frame

from campaign_dispatch.queue.acks import AckCoalescer
from campaign_dispatch.queue.base import DeliveryCallback, QueueUnavailable

log = structlog.get_logger(__name__)

_PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
_FRAME_END = 0xCE
_HEAD = struct.Struct(">BHI")  # type, channel, payload size
_METHOD_ID = struct.Struct(">I")  # class id and method id, as one number
_DELIVER = (60 << 16) | 60
_TAG = struct.Struct(">QB")  # delivery tag, the redelivered bit
_BODY_SIZE = struct.Struct(">Q")
# basic.ack (60, 80) and basic.nack (60, 120): a method frame of 13 payload bytes
_SETTLE = struct.Struct(">BHIHHQBB")
_HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"
CHANNEL = 1
DEFAULT_HEARTBEAT = 60


class ConsumeError(Exception):
    """The broker refused or closed the connection or the channel."""


@dataclass(frozen=True)
class Address:
    """What an amqp:// or amqps:// URL names, read as aio-pika reads it."""

    host: str
    port: int
    username: str
    password: str
    vhost: str
    tls: bool
    heartbeat: int

    @classmethod
    def parse(cls, url: str) -> "Address":
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(f"not an AMQP URL: {parts.scheme}://…")
        tls = parts.scheme == "amqps"
        query = parse_qs(parts.query)
        heartbeat = int(query.get("heartbeat", [DEFAULT_HEARTBEAT])[0])
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (5671 if tls else 5672),
            username=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            vhost=unquote(parts.path[1:]) or "/",
            tls=tls,
            heartbeat=max(0, heartbeat),
        )


class ConsumedJob:
    """A delivery: its body, and the ack or release that settles it."""

    __slots__ = ("_connection", "_done", "_tag", "body")

    def __init__(self, body: bytes, tag: int, connection: "ConsumeConnection") -> None:
        self.body = body
        self._tag = tag
        self._connection = connection
        self._done = False

    async def ack(self) -> None:
        """Settled now; the ack frame (coalesced, multiple=True) follows within a loop turn."""
        if not self._done:
            self._done = True
            self._connection.acks.ack(self._tag)

    async def release(self) -> None:
        """Back to the queue (basic.nack, requeue)."""
        if self._done:
            return
        self._done = True
        try:
            self._connection.settle(self._tag, nack=True)
        finally:
            self._connection.acks.settled_elsewhere(self._tag)


class ConsumeConnection(asyncio.Protocol):
    """One connection, one channel, one consumer."""

    def __init__(self, on_delivery: DeliveryCallback, stuck_limit: int) -> None:
        self._on_delivery = on_delivery
        self._buffer = bytearray()
        self._control: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None
        self._tag = 0  # of the delivery whose content is being read
        self._size = -1  # its body size (-1: no content expected)
        self._parts: list[bytes] = []
        self._heard = True
        self._heartbeats: asyncio.Task[None] | None = None
        self.closed_by: BaseException | None = None  # why the connection ended
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.acks = AckCoalescer(self._send_ack, stuck_limit=stuck_limit)
        self.consumer_tag = f"campaign-dispatch.{uuid.uuid4().hex}"

    # -- opening ---------------------------------------------------------------------

    async def open(self, address: Address, queue: str, prefetch: int, name: str) -> None:
        """Connect, authenticate, open the channel, check the queue and start consuming;
        ConsumeError or OSError if any step is refused."""
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if address.tls else None
        await loop.create_connection(lambda: self, address.host, address.port, ssl=context)
        self._write(_PROTOCOL_HEADER)
        start = await self._expect(commands.Connection.Start)
        if "PLAIN" not in str(start.mechanisms).split():
            raise ConsumeError(f"the broker offers no PLAIN login ({start.mechanisms})")
        self._send(
            commands.Connection.StartOk(
                client_properties={
                    "product": "campaign-dispatch",
                    "connection_name": name,
                    "capabilities": {
                        "authentication_failure_close": True,
                        "basic.nack": True,
                        "consumer_cancel_notify": True,
                    },
                },
                mechanism="PLAIN",
                response=f"\0{address.username}\0{address.password}",
            ),
            0,
        )
        tune = await self._expect(commands.Connection.Tune)
        wanted = [t for t in (address.heartbeat, tune.heartbeat) if t]
        heartbeat = min(wanted) if wanted and address.heartbeat else 0
        self._send(
            commands.Connection.TuneOk(
                channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=heartbeat
            ),
            0,
        )
        self._send(commands.Connection.Open(virtual_host=address.vhost), 0)
        await self._expect(commands.Connection.OpenOk)
        if heartbeat:
            self._heartbeats = loop.create_task(self._beat(heartbeat))
        self._send(commands.Channel.Open())
        await self._expect(commands.Channel.OpenOk)
        self._send(commands.Basic.Qos(prefetch_count=prefetch))
        await self._expect(commands.Basic.QosOk)
        self._send(commands.Queue.Declare(queue=queue, passive=True))
        await self._expect(commands.Queue.DeclareOk)
        self._send(commands.Basic.Consume(queue=queue, consumer_tag=self.consumer_tag))
        await self._expect(commands.Basic.ConsumeOk)

    async def _expect(self, kind: type[Frame], within: float = 10.0) -> Any:
        async with asyncio.timeout(within):
            while True:
                received = await self._control.get()
                if received is None:
                    raise self.closed_by or ConsumeError("connection closed")
                if isinstance(received, kind):
                    return received
                log.debug("AMQP frame ignored while waiting", frame=received.name, wanted=kind)

    # -- reading ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not a check: uvloop's transports are not asyncio.Transport subclasses.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        buffer = self._buffer
        buffer += data
        available = len(buffer)
        at = 0
        while available - at >= 8:
            kind, _, size = _HEAD.unpack_from(buffer, at)
            end = at + 7 + size
            if end >= available:
                break  # the rest of this frame is still on its way
            if buffer[end] != _FRAME_END:
                self._fail(ConsumeError("malformed AMQP frame (no frame end)"))
                return
            if kind == 1:
                if size >= 4 and _METHOD_ID.unpack_from(buffer, at + 7)[0] == _DELIVER:
                    tag_at = at + 12 + buffer[at + 11]  # past the consumer tag
                    self._tag = _TAG.unpack_from(buffer, tag_at)[0]
                else:
                    self._on_method(bytes(buffer[at : end + 1]))
            elif kind == 2 and self._tag:
                self._size = _BODY_SIZE.unpack_from(buffer, at + 11)[0]
                self._parts = []
                if self._size == 0:
                    self._deliver(b"")
            elif kind == 3 and self._size >= 0:
                self._parts.append(bytes(buffer[at + 7 : end]))
                if sum(map(len, self._parts)) >= self._size:
                    self._deliver(b"".join(self._parts))
            at = end + 1
        del buffer[:at]

    def _deliver(self, body: bytes) -> None:
        tag, self._tag, self._size, self._parts = self._tag, 0, -1, []
        self._on_delivery(ConsumedJob(body, tag, self))

    def _on_method(self, raw: bytes) -> None:
        try:
            _, _, method = frame.unmarshal(raw)
        except Exception as exc:
            self._fail(ConsumeError(f"unreadable AMQP frame: {exc}"))
            return
        if isinstance(method, commands.Connection.Close):
            self._send(commands.Connection.CloseOk(), 0)
            self._fail(ConsumeError(f"broker closed the connection: {_said(method)}"))
        elif isinstance(method, commands.Channel.Close):
            self._send(commands.Channel.CloseOk())
            self._fail(ConsumeError(f"broker closed the channel: {_said(method)}"))
        elif isinstance(method, commands.Basic.Cancel):  # the queue went away
            self._fail(ConsumeError("broker cancelled the consumer"))
        elif isinstance(method, commands.Connection.Blocked | commands.Connection.Unblocked):
            pass  # about publishing; this connection only consumes
        elif isinstance(method, Frame):
            self._control.put_nowait(method)

    # -- writing ---------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionError("the consume connection is closed")
        transport.write(data)

    def _send(self, method: Frame, channel: int = CHANNEL) -> None:
        self._write(frame.marshal(method, channel))

    def settle(self, tag: int, multiple: bool = False, nack: bool = False) -> None:
        """basic.ack, or basic.nack with requeue."""
        method, bits = (120, 2) if nack else (80, int(multiple))
        self._write(_SETTLE.pack(1, CHANNEL, 13, 60, method, tag, bits, _FRAME_END))

    async def _send_ack(self, tag: int, multiple: bool) -> None:
        self.settle(tag, multiple)

    async def _beat(self, heartbeat: int) -> None:
        interval = max(1.0, heartbeat / 2)
        silent = 0.0
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionError):
                self._write(_HEARTBEAT)
            if self._heard:
                self._heard, silent = False, 0.0
                continue
            silent += interval
            if silent >= 2 * heartbeat:
                self._fail(ConsumeError(f"no word from the broker in {silent:g}s"))
                return

    # -- closing ---------------------------------------------------------------------

    async def cancel(self, within: float = 5.0) -> None:
        """Stop deliveries; the channel stays open for the acks still to come."""
        self._send(commands.Basic.Cancel(consumer_tag=self.consumer_tag))
        with contextlib.suppress(TimeoutError):
            await self._expect(commands.Basic.CancelOk, within)

    async def close(self, within: float = 2.0) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        with contextlib.suppress(ConnectionError, ConsumeError, TimeoutError):
            self._send(
                commands.Connection.Close(
                    reply_code=200, reply_text="bye", class_id=0, method_id=0
                ),
                0,
            )
            await self._expect(commands.Connection.CloseOk, within)
        self._fail(None)

    def _fail(self, error: BaseException | None) -> None:
        if self.closed_by is None:
            self.closed_by = error
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed_by is None:
            self.closed_by = exc or ConsumeError("the broker closed the connection")
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        self._control.put_nowait(None)
        if not self.lost.done():
            self.lost.set_result(None)


def _said(method: Any) -> str:
    return f"{method.reply_code} {method.reply_text}"


class Consumer:
    """Consumes `queue_name` and keeps consuming across lost connections."""

    def __init__(
        self, url: str, queue_name: str, connect_timeout: float = 5.0, name: str = "consume"
    ) -> None:
        self.address = Address.parse(url)
        self.queue_name = queue_name
        self.connect_timeout = connect_timeout
        self.name = f"campaign-dispatch {name}"
        self._connection: ConsumeConnection | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._stopped = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.lost.done()

    async def start(self, on_delivery: DeliveryCallback, prefetch: int) -> None:
        """Consume, or QueueUnavailable; from then on, reconnect whenever the connection
        is lost, until stop()."""
        self._connection = await self._open(on_delivery, prefetch)
        self._keeper = asyncio.get_running_loop().create_task(
            self._keep(on_delivery, prefetch), name="amqp-consumer"
        )

    async def _open(self, on_delivery: DeliveryCallback, prefetch: int) -> ConsumeConnection:
        # A quarter of the prefetch window may wait behind a slow delivery before they
        # are acked one by one: the rest keeps the broker sending.
        connection = ConsumeConnection(on_delivery, stuck_limit=max(1, prefetch // 4))
        try:
            async with asyncio.timeout(self.connect_timeout):
                await connection.open(self.address, self.queue_name, prefetch, self.name)
        except (TimeoutError, OSError, ConsumeError) as exc:
            await connection.close(within=0.5)
            raise QueueUnavailable(f"RabbitMQ: cannot consume {self.queue_name}: {exc!r}") from exc
        return connection

    async def _keep(self, on_delivery: DeliveryCallback, prefetch: int) -> None:
        delay = 0.5
        while not self._stopped:
            connection = self._connection
            assert connection is not None
            await connection.lost
            if self._stopped:
                return
            # Its unacknowledged deliveries go back to the queue; acks for them fail.
            log.warning("consumer connection lost; reconnecting", error=str(connection.closed_by))
            while not self._stopped:
                await asyncio.sleep(delay)
                try:
                    self._connection = await self._open(on_delivery, prefetch)
                except QueueUnavailable as exc:
                    delay = min(delay * 2, 10.0)
                    log.warning("consumer reconnect failed", error=str(exc), retry_in_s=delay)
                    continue
                self.reconnects += 1
                delay = 0.5
                log.info("consuming again", queue=self.queue_name)
                break

    async def stop(self) -> None:
        """Cancel the consumer; the connection stays open so that the worker can still ack
        what it fetched (close() sends the last coalesced acks)."""
        if self._stopped:
            return
        self._stopped = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        connection = self._connection
        if connection is not None and not connection.lost.done():
            with contextlib.suppress(ConnectionError, ConsumeError):
                await connection.cancel()

    async def drain_acks(self) -> None:
        """Send the acks still coalescing (before the connection closes)."""
        if self._connection is not None:
            await self._connection.acks.drain()

    async def close(self) -> None:
        await self.stop()
        await self.drain_acks()
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
