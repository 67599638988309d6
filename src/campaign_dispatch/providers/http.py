"""What every HTTP provider adapter shares: one pooled client, the timeout, and the
outcome classes that do not depend on the provider.

An adapter (africastalking.py, twilio.py, whatsapp_cloud.py, webhook.py) only builds its
request (`build_request`) and reads its provider's answer (`read_accepted`, `read_error`,
using the one code → ProviderOutcome table in its module). Everything else is here:

- the connection pools of one sender instance, so per provider per process (the
  registry builds a provider chosen for both channels once): WORKER_CONCURRENCY
  connections in all, at most PROVIDER_MAX_CONNECTIONS, in small pools (`POOL_SIZE`)
  that are never asked for more than they hold;
- the timeout: `min(PROVIDER_TIMEOUT_SECONDS, LEASE_SECONDS / 4)`, so an attempt always
  ends well inside the worker's lease;
- transport errors and timeouts → RETRYABLE; HTTP 429 → THROTTLED with `Retry-After`
  (delta-seconds or HTTP-date, RFC 9110 §10.2.3) in `SendResult.retry_after`; 5xx →
  RETRYABLE; 401/403 → ACCOUNT; any other 4xx → TERMINAL — each only where the
  provider's own code (from the adapter's table) did not already say otherwise;
- `send()` never raises for an answer or a transport failure: every one is a SendResult
  with `code` (the provider's code as a string) and `detail` (a short message).
"""

import asyncio
import email.utils
import hashlib
import hmac
import math
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.statuses import ProviderOutcome

DETAIL_LIMIT = 300  # characters of a provider's message kept in `detail`
POOL_SIZE = 8  # connections per httpx client (HttpSender says why)


def send_timeout(settings: Settings) -> float:
    """Seconds one provider call may take: never more than a quarter of the lease."""
    return min(settings.provider_timeout_seconds, settings.lease_seconds / 4)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP-date; None if absent or
    unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # an HTTP-date is always GMT
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def shorten(text: str, limit: int = DETAIL_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ProviderError:
    """What an adapter read from an error answer: the provider's code and message, and
    the class its table gives the code (None: not in the table, the HTTP status decides)."""

    code: str | None
    message: str | None
    outcome: ProviderOutcome | None = None


def outcome_for_status(status: int) -> ProviderOutcome:
    """The class an HTTP status alone implies (no provider code recognised)."""
    if status == 429:
        return ProviderOutcome.THROTTLED
    if status >= 500 or status == 408:
        return ProviderOutcome.RETRYABLE
    if status in (401, 403):
        return ProviderOutcome.ACCOUNT
    return ProviderOutcome.TERMINAL


class HttpSender:
    """Base of the HTTP adapters. Subclasses set `name` and implement `build_request`,
    `read_accepted` and `read_error`."""

    name: str  # the registry name, stored with each message it sends

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float | None = None,
    ) -> None:
        self.timeout = send_timeout(settings) if timeout is None else timeout
        # httpcore's pool rescans every connection and queued request each time one
        # starts or ends: at 256 connections that bookkeeping cost ~14 ms of CPU per
        # send (profiled against the fake provider). Small pools, each never asked for
        # more than it holds, keep it at a fraction of that: WORKER_CONCURRENCY (at most
        # PROVIDER_MAX_CONNECTIONS) is spread over clients of POOL_SIZE connections, each
        # request on the least busy; sends beyond that wait for a connection.
        wanted = min(settings.worker_concurrency, settings.provider_max_connections)
        shards = max(1, math.ceil(max(1, wanted) / POOL_SIZE))
        self._clients = [
            httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
                follow_redirects=False,
            )
            for _ in range(shards)
        ]
        self._busy = [0] * shards
        self._slots = asyncio.Semaphore(shards * POOL_SIZE)

    @property
    def client(self) -> httpx.AsyncClient:
        """The first pool (for callers that need any client of this sender's)."""
        return self._clients[0]

    # -- what an adapter implements -------------------------------------------------

    def build_request(self, request: SendRequest) -> httpx.Request:
        raise NotImplementedError

    def read_accepted(self, response: httpx.Response) -> SendResult:
        """A 2xx answer: usually accepted with the provider's id (Africa's Talking can
        refuse a recipient inside a 2xx answer)."""
        raise NotImplementedError

    def read_error(self, response: httpx.Response) -> ProviderError:
        """A non-2xx answer: the provider's code and message, classed by its table."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------

    async def send(self, request: SendRequest) -> SendResult:
        http_request = self.build_request(request)
        async with self._slots:  # at most POOL_SIZE requests per pool: none queues in it
            shard = self._busy.index(min(self._busy))
            self._busy[shard] += 1
            try:
                return await self._send(self._clients[shard], http_request)
            finally:
                self._busy[shard] -= 1

    async def _send(self, client: httpx.AsyncClient, http_request: httpx.Request) -> SendResult:
        try:
            response = await client.send(http_request)
        except httpx.TimeoutException as exc:
            return SendResult(
                ProviderOutcome.RETRYABLE,
                code="timeout",
                detail=f"no answer within {self.timeout:g}s ({type(exc).__name__})",
            )
        except httpx.HTTPError as exc:  # connection refused or reset, protocol errors
            return SendResult(
                ProviderOutcome.RETRYABLE,
                code="transport",
                detail=shorten(f"{type(exc).__name__}: {exc}"),
            )
        return self.classify(response)

    def classify(self, response: httpx.Response) -> SendResult:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return self.read_accepted(response)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError):
                # Sent (2xx) but unreadable: trying again could deliver it twice.
                return SendResult(
                    ProviderOutcome.ACCEPTED,
                    None,
                    code=str(status),
                    detail=f"HTTP {status} answer without a readable message id",
                )
        try:
            error = self.read_error(response)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            error = ProviderError(None, None)
        outcome = error.outcome or outcome_for_status(status)
        if status == 429 and outcome is not ProviderOutcome.ACCOUNT:
            outcome = ProviderOutcome.THROTTLED
        retry_after = None
        if outcome is ProviderOutcome.THROTTLED:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = error.message or response.reason_phrase or "error"
        return SendResult(
            outcome,
            code=error.code or str(status),
            detail=shorten(f"HTTP {status}: {message}"),
            retry_after=retry_after,
        )

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


# -- what the webhook handlers share ----------------------------------------------


def form_fields(body: bytes) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict (a repeated field keeps its
    last value)."""
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def url_path(url: str) -> str:
    """The path of a request URL, without a trailing slash."""
    return urllib.parse.urlsplit(url).path.rstrip("/")


def signature_matches(secret: str, body: bytes, header_value: str | None) -> bool:
    """`sha256=<hex HMAC-SHA256 of body>`, compared in constant time (WhatsApp Cloud's
    X-Hub-Signature-256 and our webhook gateway's X-Signature)."""
    if not header_value:
        return False
    expected = sign_body(secret, body)
    return hmac.compare_digest(expected.encode(), header_value.strip().encode())


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
