"""What every HTTP provider adapter shares: one pooled client, the timeout, and the
outcome classes that do not depend on the provider.

An adapter (africastalking.py, twilio.py, whatsapp_cloud.py, webhook.py) only builds its
request (`build_request`, an `OutboundRequest`) and reads its provider's answer
(`read_accepted`, `read_error`, from a `ProviderResponse`, using the one code →
ProviderOutcome table in its module). Everything else is here:

- one HTTP client per sender instance, so per provider per process (the registry builds
  a provider chosen for both channels once): WORKER_CONCURRENCY connections at most,
  capped at PROVIDER_MAX_CONNECTIONS, kept alive; a send beyond them waits for one
  before its timeout starts;
- the timeout: `min(PROVIDER_TIMEOUT_SECONDS, LEASE_SECONDS / 4)` for the whole
  exchange, so an attempt always ends well inside the worker's lease;
- transport errors and timeouts → RETRYABLE; HTTP 429 → THROTTLED with `Retry-After`
  (delta-seconds or HTTP-date, RFC 9110 §10.2.3) in `SendResult.retry_after`; 5xx →
  RETRYABLE; 401/403 → ACCOUNT; any other 4xx → TERMINAL — each only where the
  provider's own code (from the adapter's table) did not already say otherwise;
- `send()` never raises for an answer or a transport failure: every one is a SendResult
  with `code` (the provider's code as a string) and `detail` (a short message).

The client is our own (providers/client.py: kept-alive connections on asyncio protocols,
answers parsed by httptools) because one send per message makes its cost most of the
provider path's: measured against the fake provider on loopback, 64 sends in flight, an
httpx send cost ~2 000 µs of the worker's CPU (its pool rescans every connection and
waiting request whenever one starts or ends), an aiohttp send ~210 µs, ours ~40 µs
(docs/providers.md).
"""

import asyncio
import email.utils
import hashlib
import hmac
import json
import math
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.providers.client import HttpClient, HttpError
from campaign_dispatch.statuses import ProviderOutcome

DETAIL_LIMIT = 300  # characters of a provider's message kept in `detail`


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


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """One request to a provider, ready to go: its body already encoded."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


# What `urllib.parse.quote_plus` leaves as it is (the space becomes `+` after).
_FORM_UNSAFE = re.compile(rb"[^A-Za-z0-9_.~ -]")


def _percent(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match[0][0]


def _form_part(text: str) -> bytes:
    return _FORM_UNSAFE.sub(_percent, text.encode()).replace(b" ", b"+")


def form_encode(fields: Mapping[str, str]) -> bytes:
    """Byte for byte `urllib.parse.urlencode(fields).encode()`, in about 60 % of its time
    (it quotes character by character in Python; this substitutes only what needs it)."""
    return b"&".join(_form_part(k) + b"=" + _form_part(v) for k, v in fields.items())


def form_request(
    url: str, fields: Mapping[str, str], headers: Mapping[str, str]
) -> OutboundRequest:
    """A POST of `application/x-www-form-urlencoded` fields (spaces as `+`)."""
    body = form_encode(fields)
    return OutboundRequest(
        "POST", url, {**headers, "Content-Type": "application/x-www-form-urlencoded"}, body
    )


def json_request(url: str, payload: Any, headers: Mapping[str, str]) -> OutboundRequest:
    """A POST of a JSON document (compact, UTF-8)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return OutboundRequest("POST", url, {**headers, "Content-Type": "application/json"}, body)


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    """A provider's answer as the adapters read it; `headers` ignore case."""

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


def json_body(response: ProviderResponse) -> Any:
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

    def __init__(self, settings: Settings) -> None:
        self.timeout = send_timeout(settings)
        self.max_connections = max(
            1, min(settings.worker_concurrency, settings.provider_max_connections)
        )
        # Sends beyond the connections wait here, outside the timeout: at most
        # max_connections exchanges run, so the client never opens more connections.
        self._slots = asyncio.Semaphore(self.max_connections)
        self.client = HttpClient()

    # -- what an adapter implements -------------------------------------------------

    def build_request(self, request: SendRequest) -> OutboundRequest:
        raise NotImplementedError

    def read_accepted(self, response: ProviderResponse) -> SendResult:
        """A 2xx answer: usually accepted with the provider's id (Africa's Talking can
        refuse a recipient inside a 2xx answer)."""
        raise NotImplementedError

    def read_error(self, response: ProviderResponse) -> ProviderError:
        """A non-2xx answer: the provider's code and message, classed by its table."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------

    async def send(self, request: SendRequest) -> SendResult:
        outbound = self.build_request(request)
        async with self._slots:
            response = await self._exchange(outbound)
        if isinstance(response, SendResult):
            return response
        return self.classify(response)

    async def _exchange(self, outbound: OutboundRequest) -> ProviderResponse | SendResult:
        """The provider's answer, or the RETRYABLE result of a transport failure."""
        try:
            answer = await self.client.request(
                outbound.method, outbound.url, outbound.headers, outbound.body, self.timeout
            )
            return ProviderResponse(answer.status, answer.reason, answer.headers, answer.content)
        except TimeoutError as exc:
            return SendResult(
                ProviderOutcome.RETRYABLE,
                code="timeout",
                detail=f"no answer within {self.timeout:g}s ({type(exc).__name__})",
            )
        except HttpError as exc:  # connection refused or reset, an answer not HTTP
            return SendResult(
                ProviderOutcome.RETRYABLE,
                code="transport",
                detail=shorten(f"{type(exc).__name__}: {exc}"),
            )

    def classify(self, response: ProviderResponse) -> SendResult:
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
        await self.client.aclose()


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
