"""The adapters' HTTP/1.1 client: kept-alive connections on asyncio protocols, each
answer parsed by httptools (llhttp, the parser Node.js uses, in C) as its bytes arrive.

Why not aiohttp, which the adapters used before: one provider send per message makes the
client's per-request cost most of what the provider path adds to a message, and
aiohttp's is mostly machinery a provider call does not use (a task and timer handles per
request, a stream reader, cookie, redirect and compression handling). Measured against
the fake provider on loopback (docs/providers.md), a send through this client costs the
worker about a fifth of the CPU of an aiohttp send.

What it does, and all it does, since the adapters need no more:
- POST (or any method) of a body already encoded, to `http://` or `https://` (TLS with
  the system's trust store and hostname checking, `ssl.create_default_context()`);
- answers framed by Content-Length, chunked encoding or, for one without either, the
  connection's close; at most MAX_BODY bytes;
- connections kept alive per scheme, host and port, reused newest first; one the server
  closed is dropped as soon as its close arrives, one idle for longer than IDLE_SECONDS
  is closed rather than reused (servers close idle connections after 5 to 75 s, and a
  request written into a connection the server is closing is lost);
- no redirects, proxies, cookies or compression (it sends no Accept-Encoding).

`request(..., within=)` bounds the exchange, connecting included; a connection whose
exchange did not finish, for a timeout, a cancellation or an error, is closed, never
reused: its answer could still arrive. How many connections exist is the caller's concern too (the
adapters' semaphore): the client opens one whenever none is idle.
"""

import asyncio
import ssl
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import cast

import httptools

MAX_BODY = 1 << 20  # bytes of an answer's body; a provider's is a few hundred
IDLE_SECONDS = 4.0  # below the shortest common server keep-alive (uvicorn's 5 s)
USER_AGENT = "campaign-dispatch"


class HttpError(Exception):
    """The exchange failed at the transport: refused, reset, closed early, or an answer
    that is not HTTP."""


class Headers(Mapping[str, str]):
    """An answer's headers; names ignore case (a repeated header keeps its last value)."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items  # lower-case names

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._items.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Headers
    content: bytes


@dataclass(frozen=True, slots=True)
class _Target:
    key: tuple[str, str, int]  # scheme, host, port: which connections serve it
    host_header: str
    path: str  # with its query


class _Connection(asyncio.Protocol):
    """One connection; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self._reason = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the parser knows where it ends
        self._complete = False  # answered in full, and the connection may be kept

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            # Bytes nobody asked for: the connection is out of step; never reuse it.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"not an HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is None or self._answer.done():
            return
        if self._headers_done and not self._framed:  # the close ends the body
            self._finish()
        else:
            self._fail(HttpError(f"connection closed before the answer was complete ({exc})"))

    # -- httptools callbacks ------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._framed = (
            "content-length" in self._headers
            or "chunked" in self._headers.get("transfer-encoding", "").lower()
        )

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._fail(HttpError(f"answer larger than {MAX_BODY} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        # Asked here: the parser forgets the answer's Connection header once it resets.
        self._complete = self.parser.should_keep_alive()
        self._finish()

    # -- ours ---------------------------------------------------------------------

    def _finish(self) -> None:
        if self._answer is None or self._answer.done():
            return
        self._answer.set_result(
            Response(
                self.parser.get_status_code(),
                self._reason.decode("latin-1"),
                Headers(self._headers),
                b"".join(self._body),
            )
        )

    def _fail(self, exc: HttpError) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    @property
    def reusable(self) -> bool:
        return not self.closed and self._complete

    async def exchange(self, head: bytes, body: bytes, deadline: float | None) -> Response:
        """The answer, or TimeoutError at `deadline` (the loop's clock; None: no limit).
        One timer handle, not an `asyncio.timeout` scope: this runs once per message."""
        if self.transport is None or self.closed:
            raise HttpError("connection closed")
        self._reset()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Response] = loop.create_future()
        self._answer = answer
        self.transport.writelines((head, body))
        if deadline is None:
            return await answer
        timer = loop.call_at(deadline, _time_out, answer)
        try:
            return await answer
        finally:
            timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _time_out(answer: "asyncio.Future[Response]") -> None:
    if not answer.done():
        answer.set_exception(TimeoutError("no answer in time"))


class HttpClient:
    """Requests over kept-alive connections. Not thread-safe; one event loop."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        # The request head up to Content-Length, per method, URL and headers: an adapter
        # sends the same ones every time.
        self._heads: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[_Target, bytes]] = {}
        self._tls: ssl.SSLContext | None = None
        self.opened = 0  # connections opened so far (the tests read it)

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise HttpError(f"not an http(s) URL: {url!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            default = port == (443 if parts.scheme == "https" else 80)
            host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            target = _Target(
                (parts.scheme, parts.hostname, port),
                host if default else f"{host}:{port}",
                path,
            )
            if len(self._targets) < 64:  # an adapter posts to one or two URLs
                self._targets[url] = target
        return target

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        within: float | None = None,
    ) -> Response:
        """The answer; TimeoutError when it has not come `within` seconds from now
        (connecting included), HttpError when the exchange failed."""
        key = (method, url, tuple(headers.items()))
        cached = self._heads.get(key)
        if cached is None:
            target = self._target(url)
            cached = (target, _head(method, target, headers))
            if len(self._heads) < 64:
                self._heads[key] = cached
        target, prefix = cached
        head = prefix + b"Content-Length: %d\r\n\r\n" % len(body)
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        connection = self._take(target.key)
        if connection is None:
            async with asyncio.timeout_at(deadline):
                connection = await self._connect(target.key)
        self._busy.add(connection)
        try:
            response = await connection.exchange(head, body, deadline)
        except BaseException:
            connection.close()  # unfinished: its answer could still arrive
            raise
        finally:
            self._busy.discard(connection)
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(target.key, []).append(connection)
        else:
            connection.close()
        return response

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        oldest_kept = time.monotonic() - self.idle_seconds
        while idle:
            connection = idle.pop()  # the newest: the least likely to be closing
            if not connection.closed and connection.idle_since >= oldest_kept:
                return connection
            connection.close()
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, host, port, ssl=tls, server_hostname=host if tls else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.opened += 1
        return connection

    def trust(self, context: ssl.SSLContext) -> None:
        """Verify servers against this context instead of the system's (a test's CA)."""
        self._tls = context

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for connection in list(self._busy):
            connection.close()
        self._busy.clear()
        await asyncio.sleep(0)  # let the transports' close callbacks run


def _head(method: str, target: _Target, headers: Mapping[str, str]) -> bytes:
    """The request line and headers, without Content-Length and the blank line."""
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    agent = True
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise HttpError(f"header {name!r} holds a line break or a colon")
        agent = agent and name.lower() != "user-agent"
        lines.append(f"{name}: {value}")
    if agent:
        lines.append(f"User-Agent: {USER_AGENT}")
    try:
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise HttpError(f"a header holds a character HTTP cannot carry: {exc}") from exc
