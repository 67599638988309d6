"""Meta's WhatsApp Cloud API: the sender and its webhook (statuses and inbound messages).

Followed:
- Sending: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages —
  `POST {WHATSAPP_BASE_URL}/{WHATSAPP_PHONE_NUMBER_ID}/messages` (the base carries the
  Graph API version, e.g. https://graph.facebook.com/v21.0), `Authorization: Bearer
  WHATSAPP_TOKEN`, JSON `{"messaging_product": "whatsapp", "recipient_type":
  "individual", "to", "type": "text", "text": {"body"}}`, or for a template `"type":
  "template", "template": {"name", "language": {"code"}, "components": [{"type":
  "body", "parameters": [{"type": "text", "text"}]}]}`; 200 with `messages[0].id`.
- Errors: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes —
  Graph API errors `{"error": {"message", "type", "code", "error_data": {"details"},
  "fbtrace_id"}}`; the table below cites each code's meaning from that page.
- Webhooks: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
  and https://developers.facebook.com/docs/graph-api/webhooks/getting-started —
  `entry[].changes[].value` carries `statuses[]` (`id`, `status` sent | delivered |
  read | failed, `timestamp`, `errors[]`) and `messages[]` (`from`, `id`, `timestamp`,
  `type`, `text.body`) with `metadata.display_phone_number`; every POST is signed
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app
  secret>`.

The Cloud API has no idempotency key: a send is not repeated by us after a 2xx.
"""

import json
from datetime import UTC, datetime
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
    json_request,
    signature_matches,
)
from campaign_dispatch.statuses import Channel, DeliveryStatus, MessageStatus, ProviderOutcome

NAME = "whatsapp_cloud"
ROUTE = Channel.WHATSAPP.value  # the route segment, /webhooks/whatsapp
MESSAGING_PRODUCT = Channel.WHATSAPP.value  # Meta spells it like our channel

# Cloud API error codes → our class; codes not listed fall back to the HTTP status.
ERROR_CODES: dict[int, ProviderOutcome] = {
    # Authorization and the account: every send would fail alike.
    0: ProviderOutcome.ACCOUNT,  # AuthException
    3: ProviderOutcome.ACCOUNT,  # capability or permissions issue
    10: ProviderOutcome.ACCOUNT,  # permission denied
    190: ProviderOutcome.ACCOUNT,  # access token expired
    33: ProviderOutcome.ACCOUNT,  # the business phone number was deleted
    368: ProviderOutcome.ACCOUNT,  # temporarily blocked for policy violations
    131005: ProviderOutcome.ACCOUNT,  # access denied
    131031: ProviderOutcome.ACCOUNT,  # business account locked
    131037: ProviderOutcome.ACCOUNT,  # display name needs approval
    131042: ProviderOutcome.ACCOUNT,  # business eligibility: payment issue
    131045: ProviderOutcome.ACCOUNT,  # incorrect certificate (number not registered)
    # Throughput.
    4: ProviderOutcome.THROTTLED,  # API too many calls
    80007: ProviderOutcome.THROTTLED,  # WhatsApp Business Account rate limit
    130429: ProviderOutcome.THROTTLED,  # Cloud API throughput reached
    131048: ProviderOutcome.THROTTLED,  # spam rate limit
    131056: ProviderOutcome.THROTTLED,  # pair rate limit (same recipient too often)
    # The recipient asked the business to stop.
    131050: ProviderOutcome.OPTED_OUT,  # user stopped marketing messages
    # This message or recipient cannot be sent, whatever we retry.
    100: ProviderOutcome.TERMINAL,  # invalid parameter
    130497: ProviderOutcome.TERMINAL,  # business may not message users in this country
    131008: ProviderOutcome.TERMINAL,  # required parameter missing
    131009: ProviderOutcome.TERMINAL,  # parameter value invalid
    131021: ProviderOutcome.TERMINAL,  # recipient cannot be the sender
    131026: ProviderOutcome.TERMINAL,  # message undeliverable (not on WhatsApp, old app)
    131047: ProviderOutcome.TERMINAL,  # re-engagement: 24 h window closed, use a template
    131049: ProviderOutcome.TERMINAL,  # not delivered to keep ecosystem engagement healthy
    131051: ProviderOutcome.TERMINAL,  # unsupported message type
    132000: ProviderOutcome.TERMINAL,  # template parameter count mismatch
    132001: ProviderOutcome.TERMINAL,  # template does not exist (name or language)
    132005: ProviderOutcome.TERMINAL,  # template hydrated text too long
    132007: ProviderOutcome.TERMINAL,  # template format character policy violated
    132012: ProviderOutcome.TERMINAL,  # template parameter format mismatch
    132015: ProviderOutcome.TERMINAL,  # template paused (low quality)
    132016: ProviderOutcome.TERMINAL,  # template disabled
    135000: ProviderOutcome.TERMINAL,  # generic user error
    # Meta's own failures.
    1: ProviderOutcome.RETRYABLE,  # API unknown
    2: ProviderOutcome.RETRYABLE,  # API service: temporary downtime or overload
    131000: ProviderOutcome.RETRYABLE,  # something went wrong
    131016: ProviderOutcome.RETRYABLE,  # service unavailable
    133004: ProviderOutcome.RETRYABLE,  # server temporarily unavailable
}

# Webhook statuses that are receipts; `sent` is not (Meta's `failed` is spelled like our
# message status: taken from statuses.py).
RECEIPT_STATUSES: dict[str, DeliveryStatus] = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    MessageStatus.FAILED.value: DeliveryStatus.UNDELIVERED,
}


class WhatsAppCloudSender(HttpSender):
    name = NAME

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        base = settings.whatsapp_base_url.rstrip("/")
        self.url = f"{base}/{settings.whatsapp_phone_number_id or ''}/messages"
        self.headers = {
            "Authorization": f"Bearer {settings.whatsapp_token or ''}",
            "Accept": "application/json",
        }

    def build_request(self, request: SendRequest) -> OutboundRequest:
        payload: dict[str, Any] = {
            "messaging_product": MESSAGING_PRODUCT,
            "recipient_type": "individual",
            "to": request.to,
        }
        template = request.template
        if template is not None:
            body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
            if template.body_params:
                parameters = [{"type": "text", "text": p} for p in template.body_params]
                body["components"] = [{"type": "body", "parameters": parameters}]
            payload |= {"type": "template", "template": body}
        else:
            payload |= {"type": "text", "text": {"body": request.text}}
        return json_request(self.url, payload, self.headers)

    def read_accepted(self, response: ProviderResponse) -> SendResult:
        message = response.json()["messages"][0]
        return SendResult.accepted(str(message["id"]), message.get("message_status"))

    def read_error(self, response: ProviderResponse) -> ProviderError:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or error.get("code") is None:
            return ProviderError(None, response.text.strip() or None)
        code = int(error["code"])
        details = (error.get("error_data") or {}).get("details")
        message = str(error.get("message") or "")
        if details and details not in message:
            message = f"{message}: {details}" if message else str(details)
        return ProviderError(str(code), message, ERROR_CODES.get(code))


class WhatsAppCloudWebhook:
    """`/webhooks/whatsapp`: statuses and inbound messages in one payload shape."""

    provider = ROUTE

    def __init__(self, app_secret: str | None) -> None:
        self._secret = app_secret

    def verify(self, request: WebhookRequest) -> None:
        if not self._secret:
            raise WebhookRejected("WHATSAPP_APP_SECRET is not set")
        header = request.headers.get("x-hub-signature-256")
        if not signature_matches(self._secret, request.body, header):
            raise WebhookRejected("missing or wrong X-Hub-Signature-256")

    def parse(self, request: WebhookRequest) -> list[Receipt | Inbound]:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return []
        events: list[Receipt | Inbound] = []
        for value in _values(payload):
            for status in value.get("statuses") or []:
                receipt = _receipt(status)
                if receipt is not None:
                    events.append(receipt)
            to_number = str((value.get("metadata") or {}).get("display_phone_number") or "")
            for message in value.get("messages") or []:
                if isinstance(message, dict):
                    events.append(_inbound(message, to_number))
        return events


def _values(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return []
    values = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict):
                values.append(value)
    return values


def _receipt(status: Any) -> Receipt | None:
    if not isinstance(status, dict):
        return None
    delivery = RECEIPT_STATUSES.get(str(status.get("status")))
    message_id = status.get("id")
    if delivery is None or not message_id:
        return None
    error = None
    errors = status.get("errors") or []
    if errors and isinstance(errors[0], dict):
        first = errors[0]
        error = f"{first.get('code')}: {first.get('title') or first.get('message') or ''}".strip()
    return Receipt(
        provider=NAME,
        provider_message_id=str(message_id),
        status=delivery,
        error=error,
        at=_timestamp(status.get("timestamp")),
        raw=status,
    )


def _inbound(message: dict[str, Any], to_number: str) -> Inbound:
    kind = message.get("type")
    text = ""
    if isinstance(message.get("text"), dict):
        text = str(message["text"].get("body") or "")
    elif isinstance(message.get("button"), dict):
        text = str(message["button"].get("text") or "")
    elif kind and isinstance(message.get(kind), dict):
        text = str(message[kind].get("caption") or "")
    return Inbound(
        provider=NAME,
        from_number=str(message.get("from") or ""),
        to_number=to_number,
        text=text,
        provider_message_id=str(message["id"]) if message.get("id") else None,
        received_at=_timestamp(message.get("timestamp")),
        raw=message,
    )


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
