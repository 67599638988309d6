"""The fake provider: one handler speaking all four wire formats, recording every
request, answering as told, and calling back with signed receipts and inbound messages.

`FakeProvider.handle` takes a parsed request and returns its answer; server.py serves it
over HTTP/1.1. No framework: it is benchmarked at thousands of requests a second beside
the service on the same cores, and each send costs one small parse and one answer.

Control endpoints (JSON):
- `GET /_fake/requests[?provider=…]`, `DELETE /_fake/requests`: what was received.
- `GET /_fake/callbacks`, `DELETE /_fake/callbacks`: receipts and inbound messages sent,
  with the status our service answered (or the error).
- `GET /_fake/behaviour`; `POST /_fake/behaviour` `{"provider": "<name>" | "*", …fields}`
  (fields of `Behaviour`; `{"provider": "*", "reset": true}` restores the defaults).
- `POST /_fake/inbound` `{"provider", "from", "to", "text"}`: send a signed inbound
  message to PUBLIC_BASE_URL now; answers `{"url", "status"}`.
- `GET /_fake/health`.
"""

import asyncio
import contextlib
import json
import math
import random
import time
import urllib.parse
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

from campaign_dispatch.fake_provider import wire
from campaign_dispatch.fake_provider.wire import Callback, Secrets, Sent
from campaign_dispatch.providers.client import HttpClient, HttpError
from campaign_dispatch.statuses import ProviderOutcome

ALIASES = {wire.WHATSAPP: wire.WHATSAPP_CLOUD, "*": "*"}
CALLBACK_WORKERS = 32
CALLBACK_ATTEMPTS = 3
CALLBACK_TIMEOUT_SECONDS = 10.0


@dataclass(slots=True)
class Behaviour:
    """How one provider answers. `outcome` applies to a share `rate` of sends (the rest
    are accepted), and only to the next `count` sends when `count` is set."""

    outcome: ProviderOutcome = ProviderOutcome.ACCEPTED
    rate: float = 1.0
    count: int | None = None
    latency_ms: float = 0.0
    rate_limit_per_second: float | None = None  # beyond it: 429 + Retry-After
    retry_after: float = 1.0  # the Retry-After of the `throttled` outcome
    receipts: bool = True
    delivery_rate: float = 1.0  # share of receipts that say delivered (the rest: undelivered)
    delivery_delay_ms: float = 50.0

    def update(self, data: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        for name, value in data.items():
            if name == "outcome":
                value = ProviderOutcome(value)
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data


@dataclass(slots=True)
class RecordedRequest:
    provider: str | None
    method: str
    path: str
    query: str
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    received_at: float  # time.time()
    status: int = 0  # what the fake answered
    answer: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.raw_headers}

    def form(self) -> dict[str, str]:
        return wire._form(self.body)

    def json(self) -> Any:
        return json.loads(self.body)

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "received_at": self.received_at,
            "status": self.status,
            "answer": self.answer.decode("utf-8", "replace"),
        }


@dataclass(slots=True)
class SentCallback:
    provider: str
    kind: str
    url: str
    headers: dict[str, str]
    body: bytes
    sent_at: float = 0.0
    status: int | None = None  # our service's answer
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "kind": self.kind,
            "url": self.url,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "sent_at": self.sent_at,
            "status": self.status,
            "error": self.error,
        }


@dataclass(slots=True)
class _Window:
    second: int = 0
    count: int = 0


class FakeProvider:
    """The handler and its state, usable in-process."""

    def __init__(
        self,
        public_base_url: str | None = None,
        secrets: Secrets | None = None,
        *,
        record_limit: int = 1_000_000,
        seed: int | None = None,
    ) -> None:
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.secrets = secrets or Secrets()
        self.requests: deque[RecordedRequest] = deque(maxlen=record_limit)
        self.callbacks: deque[SentCallback] = deque(maxlen=record_limit)
        self.behaviours = {name: Behaviour() for name in wire.PROVIDERS}
        self._windows = {name: _Window() for name in wire.PROVIDERS}
        self._random = random.Random(seed)
        self._queue: asyncio.Queue[tuple[float, Callback]] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._client: HttpClient | None = None
        self._callback_done = asyncio.Event()
        self.base_url: str | None = None  # set by whoever serves it

    # -- in-process API --------------------------------------------------------------

    def set_behaviour(self, provider: str, **changes: Any) -> None:
        """`provider` is a sender name (or "whatsapp", or "*" for all); `changes` are
        Behaviour fields; `reset=True` first restores the defaults."""
        reset = bool(changes.pop("reset", False))
        name = ALIASES.get(provider, provider)
        names = wire.PROVIDERS if name == "*" else (name,)
        for one in names:
            if one not in self.behaviours:
                raise ValueError(f"unknown provider {provider!r}")
            if reset:
                self.behaviours[one] = Behaviour()
            self.behaviours[one].update(changes)

    def reset(self) -> None:
        self.set_behaviour("*", reset=True)
        self.requests.clear()
        self.callbacks.clear()

    def received(self, provider: str | None = None) -> list[RecordedRequest]:
        name = ALIASES.get(provider, provider) if provider else None
        return [r for r in self.requests if name is None or r.provider == name]

    async def wait_for_callbacks(self, count: int, within: float = 5.0) -> list[SentCallback]:
        """Wait until `count` callbacks have been answered (or raise TimeoutError)."""
        deadline = time.monotonic() + within
        while sum(1 for c in self.callbacks if c.status or c.error) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{count} callbacks expected, {len(self.callbacks)} sent")
            self._callback_done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._callback_done.wait(), remaining)
        return list(self.callbacks)

    async def send_inbound(
        self, provider: str, from_number: str, to_number: str, text: str
    ) -> SentCallback:
        if not self.public_base_url:
            raise ValueError("no PUBLIC_BASE_URL to send inbound messages to")
        name = ALIASES.get(provider, provider)
        if name not in wire.PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        callback = wire.inbound(
            name, from_number, to_number, text, self.public_base_url, self.secrets
        )
        return await self._deliver(callback)

    async def start(self) -> None:
        if self._client is not None:
            return
        # The adapters' client: a busy run sends a receipt per message, on the same
        # cores as the service it measures. CALLBACK_WORKERS bounds its connections.
        self._client = HttpClient()
        self._queue = asyncio.Queue()
        self._workers = [
            asyncio.create_task(self._callback_worker()) for _ in range(CALLBACK_WORKERS)
        ]

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- callbacks -------------------------------------------------------------------

    def _schedule_receipt(self, sent: Sent, behaviour: Behaviour) -> None:
        if not (behaviour.receipts and self.public_base_url and self._queue is not None):
            return
        delivered = behaviour.delivery_rate >= 1 or self._random.random() < behaviour.delivery_rate
        callback = wire.receipt(sent, delivered, self.public_base_url, self.secrets)
        self._queue.put_nowait((time.monotonic() + behaviour.delivery_delay_ms / 1000, callback))

    async def _callback_worker(self) -> None:
        assert self._queue is not None
        while True:
            due, callback = await self._queue.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._deliver(callback)

    async def _deliver(self, callback: Callback) -> SentCallback:
        if self._client is None:
            await self.start()
        assert self._client is not None
        record = SentCallback(
            callback.provider, callback.kind, callback.url, callback.headers, callback.body
        )
        self.callbacks.append(record)
        for attempt in range(CALLBACK_ATTEMPTS):
            record.sent_at = time.time()
            try:
                async with asyncio.timeout(CALLBACK_TIMEOUT_SECONDS):
                    response = await self._client.request(
                        "POST", callback.url, callback.headers, callback.body
                    )
            except (HttpError, TimeoutError) as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            else:
                record.status, record.error = response.status, None
                if response.status < 500:
                    break
            if attempt + 1 < CALLBACK_ATTEMPTS:
                await asyncio.sleep(0.2 * 2**attempt)
        self._callback_done.set()
        return record

    # -- HTTP ------------------------------------------------------------------------

    async def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> wire.Answer:
        """The answer to one request (`path` decoded, `headers` with lower-case names)."""
        if path.startswith("/_fake/"):
            return await self._control(method, path, query, body)
        provider = wire.provider_for(method, path)
        record = RecordedRequest(provider, method, path, query, headers, body, time.time())
        self.requests.append(record)
        if provider is None:
            answer = wire.Answer(404, b'{"error": "no such endpoint"}')
        else:
            answer = await self._answer_send(provider, record, path, body)
        record.status, record.answer = answer.status, answer.body
        return answer

    async def _answer_send(
        self, provider: str, record: RecordedRequest, path: str, body: bytes
    ) -> wire.Answer:
        behaviour = self.behaviours[provider]
        refused = wire.refuse_unauthenticated(provider, record.headers, body, self.secrets)
        if refused is not None:
            return refused
        if behaviour.rate_limit_per_second:
            now = time.time()
            window = self._windows[provider]
            second = int(now)
            if window.second != second:
                window.second, window.count = second, 0
            window.count += 1
            if window.count > behaviour.rate_limit_per_second:
                return wire.rate_limited(provider, max(1, math.ceil(second + 1 - now)))
        outcome = ProviderOutcome.ACCEPTED
        applies = behaviour.outcome is not ProviderOutcome.ACCEPTED and (
            behaviour.count is None or behaviour.count > 0
        )
        if applies and (behaviour.rate >= 1 or self._random.random() < behaviour.rate):
            outcome = behaviour.outcome
            if behaviour.count is not None:
                behaviour.count -= 1
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        answer, sent = wire.answer_send(provider, outcome, path, body, behaviour.retry_after)
        if sent is not None:
            self._schedule_receipt(sent, behaviour)
        return answer

    async def _control(self, method: str, path: str, query: str, body: bytes) -> wire.Answer:
        params = dict(urllib.parse.parse_qsl(query))
        try:
            status, data = await self._control_answer(method, path, params, body)
        except (ValueError, TypeError, KeyError) as exc:
            status, data = 400, {"error": str(exc)}
        return wire.Answer(status, json.dumps(data).encode())

    async def _control_answer(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if path == "/_fake/health":
            return 200, {"status": "ok"}
        if path == "/_fake/requests":
            if method == "DELETE":
                count = len(self.requests)
                self.requests.clear()
                return 200, {"deleted": count}
            provider = query.get("provider")
            return 200, {"requests": [r.as_json() for r in self.received(provider)]}
        if path == "/_fake/callbacks":
            if method == "DELETE":
                count = len(self.callbacks)
                self.callbacks.clear()
                return 200, {"deleted": count}
            return 200, {"callbacks": [c.as_json() for c in self.callbacks]}
        if path == "/_fake/behaviour":
            if method == "POST":
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("a JSON object is expected")
                self.set_behaviour(str(data.pop("provider", "*")), **data)
            return 200, {name: b.as_json() for name, b in self.behaviours.items()}
        if path == "/_fake/inbound" and method == "POST":
            data = json.loads(body or b"{}")
            record = await self.send_inbound(
                str(data["provider"]), str(data["from"]), str(data["to"]), str(data["text"])
            )
            return 200, {"url": record.url, "status": record.status, "error": record.error}
        return 404, {"error": "no such endpoint"}
