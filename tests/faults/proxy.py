"""A loopback TCP forwarder in front of the broker that a test can stall.

`hold()` stops passing the clients' bytes on to the broker (the connections stay open:
to a publisher it looks like a network that stopped moving, so its confirms never
come); `drop()` then closes every connection, discarding whatever was held back, and
lets new connections through as normal. Only the processes pointed at the proxy are
affected; the broker itself, which other test runs share, is not touched.
"""

import asyncio
import contextlib


class HoldingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._generation = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/"

    def hold(self) -> None:
        self._flowing.clear()

    def drop(self) -> None:
        """Close every connection (what was held back is never sent), then flow again."""
        self._generation += 1
        for client, upstream in list(self._connections):
            client.close()
            upstream.close()
        self._connections.clear()
        self._flowing.set()

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        generation = self._generation
        pair = (writer, up_writer)
        self._connections.add(pair)

        async def to_broker() -> None:
            with contextlib.suppress(Exception):
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    if generation != self._generation:
                        return  # dropped while held: this data never reaches the broker
                    up_writer.write(data)
                    await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            with contextlib.suppress(Exception):
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(to_broker(), to_client())
        self._connections.discard(pair)
