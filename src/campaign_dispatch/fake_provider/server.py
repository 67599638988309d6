"""Serving the fake provider over HTTP/1.1: in-process for tests and benchmarks, or as
its own process (`campaign-dispatch fake-provider`).

A small server of its own (asyncio protocols, requests parsed by httptools) rather than
uvicorn: in the provider benchmark the fake shares two cores with the service it stands
in for, and uvicorn's per-request machinery cost it ~75 µs of CPU per send, a third of
what the real provider path costs the service, slowing the run it measures. A real
provider's servers are not on our cores. Keep-alive, Content-Length and chunked request
bodies; the requests of one connection are answered in order.
"""

import asyncio
import contextlib
import http
import signal
import socket
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator

import httptools

from campaign_dispatch.fake_provider.app import FakeProvider
from campaign_dispatch.fake_provider.wire import Answer, Secrets

_Request = tuple[str, str, str, list[tuple[bytes, bytes]], bytes, bool]


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _encode(answer: Answer, keep_alive: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {answer.status} {_reason(answer.status)}",
        f"Content-Type: {answer.content_type}",
        f"Content-Length: {len(answer.body)}",
    ]
    lines.extend(f"{name}: {value}" for name, value in answer.headers)
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body


class _Connection(asyncio.Protocol):
    def __init__(self, fake: FakeProvider, open_connections: set["_Connection"]) -> None:
        self.fake = fake
        self.open_connections = open_connections
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[_Request] = deque()
        self.answering: asyncio.Task[None] | None = None
        self._new()

    def _new(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open_connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)
        if self.answering is not None:
            self.answering.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._reply(Answer(400, b'{"error": "not an HTTP request"}'), keep_alive=False)

    # httptools' callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        path = urllib.parse.unquote((url.path or b"/").decode("latin-1"))
        query = (url.query or b"").decode("latin-1")
        method = self.parser.get_method().decode("latin-1")
        keep_alive = self.parser.should_keep_alive()
        self.pending.append((method, path, query, self._headers, b"".join(self._body), keep_alive))
        self._new()
        if self.answering is None:
            self.answering = asyncio.get_running_loop().create_task(self._answer())

    async def _answer(self) -> None:
        try:
            while self.pending:
                method, path, query, headers, body, keep_alive = self.pending.popleft()
                try:
                    answer = await self.fake.handle(method, path, query, headers, body)
                except Exception as exc:  # a bug in the fake: say so, as a server would
                    answer = Answer(500, f'{{"error": "{type(exc).__name__}"}}'.encode())
                self._reply(answer, keep_alive)
                if not keep_alive:
                    return
        finally:
            self.answering = None

    def _reply(self, answer: Answer, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_encode(answer, keep_alive))
        if not keep_alive:
            self.pending.clear()
            self.transport.close()


@contextlib.asynccontextmanager
async def _serving(fake: FakeProvider, sock: socket.socket) -> AsyncIterator[None]:
    open_connections: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(fake, open_connections), sock=sock)
    await fake.start()
    try:
        yield
    finally:
        server.close()
        for connection in list(open_connections):
            if connection.transport is not None:
                connection.transport.close()
        await fake.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def running_fake_provider(
    public_base_url: str | None = None,
    secrets: Secrets | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int | None = None,
) -> AsyncIterator[FakeProvider]:
    """Serve a FakeProvider on loopback (a free port by default) inside the running
    event loop. The yielded provider has `base_url` set; its `requests`, `callbacks`,
    `set_behaviour` and `send_inbound` are the in-process API.

        async with running_fake_provider("http://127.0.0.1:8000", Secrets(...)) as fake:
            settings = Settings(at_base_url=fake.base_url, ...)
    """
    fake = FakeProvider(public_base_url, secrets, seed=seed)
    sock = _listen(host, port)
    fake.base_url = f"http://{host}:{sock.getsockname()[1]}"
    async with _serving(fake, sock):
        yield fake


def serve(
    host: str,
    port: int,
    public_base_url: str | None,
    secrets: Secrets,
    seed: int | None = None,
) -> None:
    """Run the fake provider until SIGINT or SIGTERM (the CLI's `fake-provider`)."""
    import uvloop

    async def main() -> None:
        fake = FakeProvider(public_base_url, secrets, seed=seed)
        fake.base_url = f"http://{host}:{port}"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with _serving(fake, _listen(host, port)):
            await stop.wait()

    uvloop.run(main())
