"""The fake provider on loopback, a recording server standing in for PUBLIC_BASE_URL,
and settings that point the adapters at the fake."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from campaign_dispatch.config import Settings
from campaign_dispatch.fake_provider import FakeProvider, Secrets, running_fake_provider
from campaign_dispatch.providers.events import WebhookRequest

AT_TOKEN = "at-callback-token"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token"
WHATSAPP_SECRET = "whatsapp-app-secret"
WEBHOOK_SECRET = "webhook-secret"
SECRETS = Secrets(AT_TOKEN, TWILIO_TOKEN, WHATSAPP_SECRET, WEBHOOK_SECRET)


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def webhook_request(self, public_base_url: str) -> WebhookRequest:
        """As the API route would hand it to a handler."""
        from urllib.parse import parse_qsl

        url = public_base_url + self.path + (f"?{self.query}" if self.query else "")
        return WebhookRequest(
            method=self.method,
            url=url,
            headers=self.headers,
            query=dict(parse_qsl(self.query)),
            body=self.body,
        )


@dataclass
class Recorder:
    """A tiny ASGI app that records every request and answers 200."""

    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            Recorded(scope["method"], scope["path"], scope["query_string"].decode(), headers, body)
        )
        self.arrived.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.requests


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """The fake provider without callbacks (no PUBLIC_BASE_URL)."""
    async with running_fake_provider(None, SECRETS, seed=1) as provider:
        yield provider


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    app = Recorder()
    async with serve_asgi(app) as base_url:
        app.base_url = base_url
        yield app


@pytest.fixture
async def fake_calling_back(recorder: Recorder) -> AsyncIterator[FakeProvider]:
    """The fake provider sending its receipts and inbound messages to `recorder`."""
    async with running_fake_provider(recorder.base_url, SECRETS, seed=1) as provider:
        provider.set_behaviour("*", delivery_delay_ms=0)
        yield provider
