"""Africa's Talking SMS: the sender and its delivery-report and inbound webhooks.

Followed:
- Sending: http://docs.africastalking.com/sms/sending/python — `POST
  {AT_BASE_URL}/version1/messaging`, form fields `username`, `to`, `message`, optional
  `from`; headers `apiKey` and `Accept: application/json`; the answer is
  `SMSMessageData.Recipients[]`, each with `statusCode`, `status`, `messageId`. The status
  codes and their names (100 Processed … 502 RejectedByGateway) are those of the same
  page's response table.
- Delivery reports: http://docs.africastalking.com/sms/notifications and
  http://docs.africastalking.com/sms/deliveryreports — form posts with `id`, `status`
  (Sent, Submitted, Buffered, Rejected, Success, Failed), `phoneNumber`, `networkCode`,
  `failureReason` (only for Rejected and Failed), `retryCount`.
- Inbound: http://docs.africastalking.com/sms/callback — form posts with `from`, `to`,
  `text`, `date`, `id`, `linkId`.

Why not the official SDK: `africastalking` (PyPI) sends with blocking `requests`, which
would stall the worker's event loop for the whole round trip (or cost a thread per
send); the API is one form POST, so this is a thin client on the shared pooled HTTP
client (providers/http.py).

Africa's Talking does not sign its callbacks. The callback URLs registered in its
dashboard carry a secret instead, `?token=AT_CALLBACK_TOKEN`, which the handler checks
in constant time; without AT_CALLBACK_TOKEN it rejects everything.
"""

import hmac
import json
from datetime import UTC, datetime
from typing import Any

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.providers.events import (
    Inbound,
    Receipt,
    WebhookRejected,
    WebhookRequest,
)
from campaign_dispatch.providers.http import (
    HttpSender,
    OutboundRequest,
    ProviderError,
    ProviderResponse,
    form_fields,
    form_request,
    json_body,
    shorten,
    url_path,
)
from campaign_dispatch.statuses import DeliveryStatus, ProviderOutcome

NAME = "africastalking"
SEND_PATH = "/version1/messaging"

# The per-recipient statusCode of a send answer: (Africa's Talking's name, our class).
STATUS_CODES: dict[int, tuple[str, ProviderOutcome]] = {
    100: ("Processed", ProviderOutcome.ACCEPTED),
    101: ("Sent", ProviderOutcome.ACCEPTED),
    102: ("Queued", ProviderOutcome.ACCEPTED),
    401: ("RiskHold", ProviderOutcome.ACCOUNT),
    402: ("InvalidSenderId", ProviderOutcome.ACCOUNT),
    403: ("InvalidPhoneNumber", ProviderOutcome.TERMINAL),
    404: ("UnsupportedNumberType", ProviderOutcome.TERMINAL),
    405: ("InsufficientBalance", ProviderOutcome.ACCOUNT),
    406: ("UserInBlacklist", ProviderOutcome.OPTED_OUT),
    407: ("CouldNotRoute", ProviderOutcome.TERMINAL),
    409: ("DoNotDisturbRejection", ProviderOutcome.TERMINAL),
    500: ("InternalServerError", ProviderOutcome.RETRYABLE),
    501: ("GatewayError", ProviderOutcome.RETRYABLE),
    502: ("RejectedByGateway", ProviderOutcome.RETRYABLE),
}
UNKNOWN_CODE_OUTCOME = ProviderOutcome.TERMINAL
_CODES_BY_NAME = {name.lower(): code for code, (name, _) in STATUS_CODES.items()}

# Delivery-report statuses that are receipts (Sent, Submitted, Buffered are not final).
DELIVERY_STATUSES: dict[str, DeliveryStatus] = {
    "Success": DeliveryStatus.DELIVERED,
    "Failed": DeliveryStatus.UNDELIVERED,
    "Rejected": DeliveryStatus.UNDELIVERED,
}


class AfricasTalkingSender(HttpSender):
    name = NAME

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.username = settings.at_username or ""
        self.sender_id = settings.at_sender_id
        self.url = settings.at_base_url.rstrip("/") + SEND_PATH
        self.headers = {"apiKey": settings.at_api_key or "", "Accept": "application/json"}

    def build_request(self, request: SendRequest) -> OutboundRequest:
        form = {"username": self.username, "to": request.to, "message": request.text}
        if self.sender_id:
            form["from"] = self.sender_id
        return form_request(self.url, form, self.headers)

    def read_accepted(self, response: ProviderResponse) -> SendResult:
        data = response.json()["SMSMessageData"]
        recipients = data.get("Recipients") or []
        if not recipients:
            # A request refused as a whole (e.g. InvalidSenderId) names the reason in
            # `Message` and lists no recipient.
            message = str(data.get("Message") or "no recipient in the answer")
            code = _CODES_BY_NAME.get(message.strip().lower())
            outcome = STATUS_CODES[code][1] if code is not None else UNKNOWN_CODE_OUTCOME
            return SendResult(
                outcome,
                code=str(code) if code is not None else None,
                detail=shorten(message),
            )
        return _recipient_result(recipients[0])

    def read_error(self, response: ProviderResponse) -> ProviderError:
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("SMSMessageData"), dict):
            recipients = body["SMSMessageData"].get("Recipients") or []
            if recipients:
                result = _recipient_result(recipients[0])
                return ProviderError(result.code, result.detail, result.outcome)
        # Authentication failures and malformed requests are plain text.
        return ProviderError(str(response.status_code), response.text.strip() or None)


def _recipient_result(recipient: dict[str, Any]) -> SendResult:
    code = int(recipient["statusCode"])
    name, outcome = STATUS_CODES.get(code, (str(recipient.get("status")), UNKNOWN_CODE_OUTCOME))
    if outcome is ProviderOutcome.ACCEPTED:
        return SendResult.accepted(str(recipient["messageId"]), str(code))
    status = recipient.get("status") or name
    return SendResult(outcome, code=str(code), detail=shorten(f"{code} {status}"))


class AfricasTalkingWebhook:
    """`/webhooks/africastalking/delivery?token=…` and `…/inbound?token=…`."""

    provider = NAME

    def __init__(self, callback_token: str | None) -> None:
        self._token = callback_token.encode() if callback_token else None

    def verify(self, request: WebhookRequest) -> None:
        if self._token is None:
            raise WebhookRejected("AT_CALLBACK_TOKEN is not set")
        given = request.query.get("token")
        if not given or not hmac.compare_digest(self._token, given.encode()):
            raise WebhookRejected("missing or wrong token")

    def parse(self, request: WebhookRequest) -> list[Receipt | Inbound]:
        fields = _fields(request)
        path = url_path(request.url)
        if path.endswith("/delivery"):
            status = DELIVERY_STATUSES.get(fields.get("status", ""))
            message_id = fields.get("id")
            if status is None or not message_id:
                return []
            return [
                Receipt(
                    provider=NAME,
                    provider_message_id=message_id,
                    status=status,
                    error=fields.get("failureReason") or None,
                    raw=fields,
                )
            ]
        if path.endswith("/inbound"):
            return [
                Inbound(
                    provider=NAME,
                    from_number=fields.get("from", ""),
                    to_number=fields.get("to", ""),
                    text=fields.get("text", ""),
                    provider_message_id=fields.get("id") or None,
                    received_at=_parse_date(fields.get("date")),
                    raw=fields,
                )
            ]
        return []


def _fields(request: WebhookRequest) -> dict[str, str]:
    """Africa's Talking posts forms; a JSON body is read too."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return form_fields(request.body)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
