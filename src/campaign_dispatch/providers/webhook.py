"""The webhook gateway: any HTTP gateway that implements our own small spec (there is no
third-party page to follow; docs/providers.md is the spec).

Send: `POST WEBHOOK_PROVIDER_URL`, JSON `{message_id, channel, to, text, callback_url}`
(`callback_url` = `{PUBLIC_BASE_URL}/webhooks/webhook/delivery`), headers
`Idempotency-Key: <message_id>` (a gateway accepts one message id once) and
`X-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed with
WEBHOOK_PROVIDER_SECRET>`.

Answers: 2xx `{provider_message_id}` → accepted; 429 (+ `Retry-After`) → throttled;
401/403 → account; a 4xx whose JSON `error` is `opted_out` → opted out; any other 4xx →
terminal; 5xx and timeouts → retryable.

Receipts: `POST {PUBLIC_BASE_URL}/webhooks/webhook/delivery`, signed the same way, JSON
`{provider_message_id, status: delivered|undelivered|read, error}` (or a JSON array of
them). Inbound messages (an extension for two-way gateways): `POST
/webhooks/webhook/inbound`, signed the same way, `{provider_message_id, from, to, text}`.
"""

import json
from typing import Any

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.providers.http import (
    HttpSender,
    OutboundRequest,
    ProviderError,
    ProviderResponse,
    json_body,
    sign_body,
    signature_matches,
    url_path,
)
from campaign_dispatch.statuses import DeliveryStatus, ProviderOutcome

NAME = "webhook"
DELIVERY_PATH = "/webhooks/webhook/delivery"

# HTTP status → class (the gateway's "code" is its HTTP status); others by providers/http.py.
STATUS_CODES: dict[int, ProviderOutcome] = {
    429: ProviderOutcome.THROTTLED,
    401: ProviderOutcome.ACCOUNT,
    403: ProviderOutcome.ACCOUNT,
}
# A 4xx answer's JSON `error` that names a class of its own.
ERROR_NAMES: dict[str, ProviderOutcome] = {"opted_out": ProviderOutcome.OPTED_OUT}

RECEIPT_STATUSES = {status.value: status for status in DeliveryStatus}


class WebhookGatewaySender(HttpSender):
    name = NAME

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.url = settings.webhook_provider_url or ""
        self.secret = settings.webhook_provider_secret or ""
        self.callback_url = settings.public_base_url.rstrip("/") + DELIVERY_PATH

    def build_request(self, request: SendRequest) -> OutboundRequest:
        body = json.dumps(
            {
                "message_id": request.message_id,
                "channel": request.channel.value,
                "to": request.to,
                "text": request.text,
                "callback_url": self.callback_url,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": str(request.message_id),
            "X-Signature": sign_body(self.secret, body),
        }
        return OutboundRequest("POST", self.url, headers, body)

    def read_accepted(self, response: ProviderResponse) -> SendResult:
        body = response.json()
        return SendResult.accepted(str(body["provider_message_id"]), str(response.status_code))

    def read_error(self, response: ProviderResponse) -> ProviderError:
        status = response.status_code
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        message = str(error) if error else (response.text.strip() or None)
        outcome = STATUS_CODES.get(status)
        if outcome is None and 400 <= status < 500 and isinstance(error, str):
            outcome = ERROR_NAMES.get(error)
        return ProviderError(str(status), message, outcome)


class WebhookGatewayWebhook:
    """`/webhooks/webhook/delivery` (receipts) and `/webhooks/webhook/inbound`."""

    provider = NAME

    def __init__(self, secret: str | None) -> None:
        self._secret = secret

    def verify(self, request: WebhookRequest) -> None:
        if not self._secret:
            raise WebhookRejected("WEBHOOK_PROVIDER_SECRET is not set")
        if not signature_matches(self._secret, request.body, request.headers.get("x-signature")):
            raise WebhookRejected("missing or wrong X-Signature")

    def parse(self, request: WebhookRequest) -> list[Receipt | Inbound]:
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            return []
        items: list[Any] = data if isinstance(data, list) else [data]
        path = url_path(request.url)
        events: list[Receipt | Inbound] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            if path.endswith("/delivery"):
                status = RECEIPT_STATUSES.get(str(item.get("status")))
                message_id = item.get("provider_message_id")
                if status is None or not message_id:
                    continue
                error = item.get("error")
                events.append(
                    Receipt(NAME, str(message_id), status, str(error) if error else None, raw=item)
                )
            elif path.endswith("/inbound"):
                message_id = item.get("provider_message_id")
                events.append(
                    Inbound(
                        provider=NAME,
                        from_number=str(item.get("from") or ""),
                        to_number=str(item.get("to") or ""),
                        text=str(item.get("text") or ""),
                        provider_message_id=str(message_id) if message_id else None,
                        raw=item,
                    )
                )
        return events
