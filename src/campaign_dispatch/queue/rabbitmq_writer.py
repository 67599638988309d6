"""The custom transport: a socket writer that sends one event-loop turn's frames at once.

Why it exists: aiormq writes every frame separately, and a plain asyncio transport tries
a `send()` per write: one system call (and one wake-up of the broker) per frame.

Why it is risky: it plugs in below aio-pika by setting `transport_factory` in the
robust connection's `kwargs` (aio-pika passes them to aiormq but does not offer the
option) and subclasses asyncio.StreamWriter, which is not meant to be constructed
directly. `missing_internals()` checks for these by feature; without them the queue
connects with aio-pika's own connection class.
"""

import asyncio
import inspect
from typing import Any

import aio_pika
import aiormq
from yarl import URL

_FLUSH_BYTES = 256 * 1024


class CoalescingWriter(asyncio.StreamWriter):
    """Buffers the frames written during one event-loop turn and sends them together.

    Order is kept (one buffer, flushed in order); `close` and `write_eof` flush first.
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


class CoalescingTCPTransport(aiormq.TransportFactory):
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
        return reader, CoalescingWriter(transport, protocol, reader, loop)


class CoalescingRobustConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection over the coalescing writer (plain TCP only).

    `coalescing` says whether the writer is really in use: not over TLS, and not if
    this aio-pika keeps its connection arguments elsewhere.
    """

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any):
        super().__init__(url, loop=loop, **kwargs)
        self.coalescing = False
        arguments = getattr(self, "kwargs", None)
        if URL(url).scheme == "amqp" and isinstance(arguments, dict):
            arguments["transport_factory"] = CoalescingTCPTransport()
            self.coalescing = True


def missing_internals() -> list[str]:
    """What the writer needs from aiormq, aio-pika and asyncio that is absent (empty: usable)."""
    missing = []
    factory = getattr(aiormq, "TransportFactory", None)
    if not inspect.isclass(factory) or not callable(getattr(factory, "create", None)):
        missing.append("aiormq.TransportFactory")
    connect = inspect.signature(aiormq.Connection.__init__).parameters
    if "transport_factory" not in connect:
        missing.append("aiormq.Connection(transport_factory=...)")
    writer = list(inspect.signature(asyncio.StreamWriter.__init__).parameters)
    if writer[1:5] != ["transport", "protocol", "reader", "loop"]:
        missing.append("asyncio.StreamWriter(transport, protocol, reader, loop)")
    return missing
