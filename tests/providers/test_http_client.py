"""The adapters' HTTP client (providers/client.py) against loopback servers that answer
with scripted bytes: how answers are framed, when a connection is kept, reused or
dropped, what fails as a transport error, and TLS with hostname checking."""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme

from campaign_dispatch.providers import client as client_module
from campaign_dispatch.providers.client import HttpClient, HttpError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """A server on a free loopback port; yields its base URL and, per connection it
    accepted, how many requests it read on it."""
    per_connection: list[int] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        index = len(per_connection) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                per_connection[index] += 1
                await handler(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://localhost:{port}" if tls else f"http://127.0.0.1:{port}", per_connection
    finally:
        server.close()


def answer(raw: bytes, close: bool = False) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()
        if close:
            writer.close()

    return handler


async def post(client: HttpClient, url: str, body: bytes = b"a=1"):  # type: ignore[no-untyped-def]
    return await client.request("POST", url + "/send?x=1", {"apiKey": "k"}, body)


async def test_answers_share_one_kept_alive_connection() -> None:
    async with serving(answer(OK)) as (url, connections):
        client = HttpClient()
        answers = [await post(client, url) for _ in range(5)]
        await client.aclose()
    assert [(a.status, a.reason, a.content) for a in answers] == [(200, "OK", b"{}")] * 5
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].headers.get("Content-Type") == "application/json"  # any case
    assert connections == [5] and client.opened == 1


async def test_a_chunked_answer_is_joined() -> None:
    chunked = (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    async with serving(answer(chunked)) as (url, connections):
        client = HttpClient()
        first, second = await post(client, url), await post(client, url)
        await client.aclose()
    assert first.status == 201 and first.content == b"hello world" == second.content
    assert connections == [2]


async def test_an_answer_without_length_ends_at_the_close_and_is_not_reused() -> None:
    unframed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    async with serving(answer(unframed, close=True)) as (url, connections):
        client = HttpClient()
        first, second = await post(client, url), await post(client, url)
        await client.aclose()
    assert first.content == b"all of it" == second.content
    assert connections == [1, 1] and client.opened == 2


async def test_connection_close_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with serving(answer(closing)) as (url, connections):
        client = HttpClient()
        await post(client, url)
        await post(client, url)
        await client.aclose()
    assert client.opened == 2 and connections == [1, 1]


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with serving(answer(OK, close=True)) as (url, connections):
        client = HttpClient()
        await post(client, url)
        await asyncio.sleep(0.05)  # the server's close arrives while the connection idles
        second = await post(client, url)
        await client.aclose()
    assert second.status == 200 and connections == [1, 1]


async def test_a_connection_idle_too_long_is_replaced() -> None:
    async with serving(answer(OK)) as (url, connections):
        client = HttpClient(idle_seconds=0.05)
        await post(client, url)
        await asyncio.sleep(0.1)
        await post(client, url)
        await client.aclose()
    assert connections == [1, 1]


@pytest.mark.parametrize(
    ("raw", "close"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True),  # cut short
        (b"SMTP is not HTTP\r\n\r\n", False),  # not an answer
        (b"", True),  # closed without a byte
    ],
    ids=["cut-short", "not-http", "closed"],
)
async def test_a_broken_answer_is_a_transport_error(raw: bytes, close: bool) -> None:
    async with serving(answer(raw, close=close)) as (url, _):
        client = HttpClient()
        with pytest.raises(HttpError):
            await asyncio.wait_for(post(client, url), 5)
        await client.aclose()


async def test_an_answer_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_BODY", 100)
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    async with serving(answer(big)) as (url, _):
        client = HttpClient()
        with pytest.raises(HttpError, match="larger than 100"):
            await post(client, url)
        await client.aclose()


async def test_refused_connection_is_a_transport_error() -> None:
    async with serving(answer(OK)) as (url, _):
        pass  # closed: nothing listens on the port now
    client = HttpClient()
    with pytest.raises(HttpError, match="cannot connect"):
        await post(client, url)


@pytest.mark.parametrize("how", ["its timeout", "cancelled by the caller"])
async def test_a_timed_out_exchange_closes_its_connection(how: str) -> None:
    """The answer to an exchange given up on could still arrive: the connection goes,
    and the next request gets a fresh one and its own answer."""
    calls = 0
    given_up: list[bytes] = []

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # what the client does with the connection it gave up on
            given_up.append(await asyncio.wait_for(reader.read(1), 2))
            writer.close()
            return
        writer.write(OK)
        await writer.drain()

    async with serving(slow_first) as (url, connections):
        client = HttpClient()

        async def give_up() -> None:
            if how == "its timeout":
                await client.request("POST", url + "/send", {}, b"a=1", within=0.1)
            else:
                async with asyncio.timeout(0.1):
                    await post(client, url)

        with pytest.raises(TimeoutError):
            await give_up()
        second = await post(client, url)
        await client.aclose()
    assert second.content == b"{}"
    assert given_up == [b""]  # closed by the client, not left open
    assert client.opened == 2 and len(connections) == 2


async def test_a_header_cannot_smuggle_a_line() -> None:
    client = HttpClient()
    with pytest.raises(HttpError, match="line break"):
        await client.request("POST", "http://127.0.0.1:9/x", {"apiKey": "k\r\nX-Evil: 1"}, b"")


async def test_the_request_as_written() -> None:
    seen: list[bytes] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        seen.append(await reader.readexactly(3))
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient()
    await client.request("POST", f"http://127.0.0.1:{port}/v1/m?a=b", {"apiKey": "k"}, b"x=1")
    await client.aclose()
    server.close()
    head = seen[0].decode()
    assert head.startswith("POST /v1/m?a=b HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n" in head and "apiKey: k\r\n" in head
    assert "Content-Length: 3\r\n" in head and seen[1] == b"x=1"


async def test_tls_verifies_the_server_against_the_trusted_ca() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    async with serving(answer(OK), tls=server_context) as (url, connections):
        trusted = HttpClient()
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        trusted.trust(client_context)
        assert (await post(trusted, url)).status == 200
        await trusted.aclose()

        untrusted = HttpClient()  # the system's store does not know this CA
        with pytest.raises(HttpError, match="cannot connect"):
            await post(untrusted, url)
        await untrusted.aclose()
    assert connections[0] == 1
