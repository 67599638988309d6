"""Twilio Programmable Messaging (SMS, and WhatsApp through Twilio): the sender and its
status-callback and inbound webhooks.

Followed:
- Sending: https://www.twilio.com/docs/messaging/api/message-resource — `POST
  {TWILIO_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth
  (Account SID, Auth Token; https://twilio.com/docs/iam/api), form fields `To`, `From` or
  `MessagingServiceSid`, `Body`, `StatusCallback`; 201 with the Message's `sid`. WhatsApp
  addresses are `whatsapp:+E164` on both `To` and `From`.
- WhatsApp templates: https://www.twilio.com/docs/content/send-templates-created-with-the-content-template-builder
  — `ContentSid` (the approved template, HX…) instead of `Body`, and `ContentVariables`,
  a JSON string of the placeholders by name (`{"1": "Amina"}`); a Messaging Service is
  optional since https://twilio.com/en-us/changelog/content-templates-messaging-services-optional.
- Errors: the JSON `{code, message, more_info, status}`, codes from
  https://www.twilio.com/docs/api/errors — 21610 (unsubscribed recipient, replied STOP),
  21211, 21408, 21612, 21614, 21655, 21656, 63016, 20003, 20429, 21606, 21611, 63018 (each
  cited in the table below).
- Status callbacks: the StatusCallback parameter on the same Message resource page —
  Twilio POSTs `MessageSid`, `MessageStatus` (queued, sent, delivered, undelivered,
  failed, and read for WhatsApp) and `ErrorCode`.
- Signatures: https://www.twilio.com/docs/usage/webhooks/webhooks-security — every
  request carries `X-Twilio-Signature`, HMAC-SHA1 of the full URL followed by the
  sorted POST parameters, keyed with the Auth Token; checked with the SDK's
  `twilio.request_validator.RequestValidator`.

The SDK's REST client is not used for sending: it is synchronous (`requests`); the send
is one form POST on the shared pooled async client.
"""

import base64
import json
import urllib.parse

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.providers.http import (
    HttpSender,
    OutboundRequest,
    ProviderError,
    ProviderResponse,
    form_request,
    json_body,
    url_path,
)
from campaign_dispatch.statuses import Channel, DeliveryStatus, MessageStatus, ProviderOutcome

NAME = "twilio"
API_VERSION = "2010-04-01"
WHATSAPP_PREFIX = "whatsapp:"
STATUS_PATH = "/webhooks/twilio/status"

# Twilio error codes (https://www.twilio.com/docs/api/errors/<code>) → our class. Codes
# not listed fall back to the HTTP status (providers/http.py).
ERROR_CODES: dict[int, ProviderOutcome] = {
    # The recipient replied STOP (or another opt-out keyword).
    21610: ProviderOutcome.OPTED_OUT,
    # This recipient or this message cannot be sent, whatever we retry.
    21211: ProviderOutcome.TERMINAL,  # invalid 'To' number
    21265: ProviderOutcome.TERMINAL,  # 'To' cannot be a short code
    21408: ProviderOutcome.TERMINAL,  # region not enabled (Geo Permissions) for this 'To'
    21602: ProviderOutcome.TERMINAL,  # Body required
    21612: ProviderOutcome.TERMINAL,  # 'To' not reachable through this channel or sender
    21614: ProviderOutcome.TERMINAL,  # 'To' is not a mobile number
    21617: ProviderOutcome.TERMINAL,  # Body exceeds 1600 characters
    21635: ProviderOutcome.TERMINAL,  # 'To' cannot be a landline
    21655: ProviderOutcome.TERMINAL,  # ContentSid is not a template of this account
    21656: ProviderOutcome.TERMINAL,  # ContentVariables invalid (e.g. a variable empty)
    63003: ProviderOutcome.TERMINAL,  # channel could not find the 'To' address
    63016: ProviderOutcome.TERMINAL,  # WhatsApp free-form message outside the 24 h window
    63024: ProviderOutcome.TERMINAL,  # invalid message recipient
    # The account or its sender is the problem: every message would fail alike.
    20003: ProviderOutcome.ACCOUNT,  # authentication failed
    20005: ProviderOutcome.ACCOUNT,  # account not active
    10001: ProviderOutcome.ACCOUNT,  # account not active
    20404: ProviderOutcome.ACCOUNT,  # resource not found (wrong Account SID)
    21212: ProviderOutcome.ACCOUNT,  # invalid 'From' number
    21606: ProviderOutcome.ACCOUNT,  # 'From' is not an SMS-capable number of this account
    21659: ProviderOutcome.ACCOUNT,  # 'From' is not a Twilio number of this account
    63007: ProviderOutcome.ACCOUNT,  # no WhatsApp channel for the 'From' address
    # Slow down.
    20429: ProviderOutcome.THROTTLED,  # too many requests
    21611: ProviderOutcome.THROTTLED,  # the 'From' sender's queue is full
    63018: ProviderOutcome.THROTTLED,  # channel rate limit
    # Twilio's own failures.
    20500: ProviderOutcome.RETRYABLE,  # internal server error
    20503: ProviderOutcome.RETRYABLE,  # service unavailable
}

# Twilio spells its failed status like our message status: taken from statuses.py.
RECEIPT_STATUSES: dict[str, DeliveryStatus] = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.UNDELIVERED,
    MessageStatus.FAILED.value: DeliveryStatus.UNDELIVERED,
}


class TwilioSender(HttpSender):
    name = NAME

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        sid = settings.twilio_account_sid or ""
        self.url = (
            f"{settings.twilio_base_url.rstrip('/')}/{API_VERSION}/Accounts/"
            f"{urllib.parse.quote(sid, safe='')}/Messages.json"
        )
        credentials = f"{sid}:{settings.twilio_auth_token or ''}".encode()
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Accept": "application/json",
        }
        self.sender = settings.twilio_from
        self.messaging_service_sid = settings.twilio_messaging_service_sid
        self.status_callback = settings.public_base_url.rstrip("/") + STATUS_PATH

    def build_request(self, request: SendRequest) -> OutboundRequest:
        whatsapp = request.channel is Channel.WHATSAPP
        form = {"To": _address(request.to, whatsapp)}
        template = request.template
        if whatsapp and template is not None and template.content_sid:
            # An approved template, which reaches a customer outside the 24-hour window;
            # its variables are named "1", "2", … as the template's {{1}}, {{2}}.
            form["ContentSid"] = template.content_sid
            if template.body_params:
                variables = {str(i): p for i, p in enumerate(template.body_params, 1)}
                form["ContentVariables"] = json.dumps(variables, ensure_ascii=False)
        else:
            form["Body"] = request.text
        if self.sender:
            form["From"] = _address(self.sender, whatsapp)
        elif self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        form["StatusCallback"] = self.status_callback
        return form_request(self.url, form, self.headers)

    def read_accepted(self, response: ProviderResponse) -> SendResult:
        body = response.json()
        return SendResult.accepted(str(body["sid"]), str(body.get("status") or "") or None)

    def read_error(self, response: ProviderResponse) -> ProviderError:
        body = json_body(response)
        if not isinstance(body, dict) or body.get("code") is None:
            return ProviderError(None, response.text.strip() or None)
        code = int(body["code"])
        return ProviderError(str(code), str(body.get("message") or ""), ERROR_CODES.get(code))


def _address(number: str, whatsapp: bool) -> str:
    if whatsapp and not number.startswith(WHATSAPP_PREFIX):
        return WHATSAPP_PREFIX + number
    return number


def _number(address: str) -> str:
    return address.removeprefix(WHATSAPP_PREFIX)


class _Params(dict[str, list[str]]):
    """Form parameters with every value of a repeated name, as RequestValidator reads
    them (`getall`, as Flask's MultiDict)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _params(body: bytes) -> _Params:
    params = _Params()
    text = body.decode("utf-8", "replace")
    for name, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params


class TwilioWebhook:
    """`/webhooks/twilio/status` (status callbacks) and `/webhooks/twilio/inbound`."""

    provider = NAME

    def __init__(self, auth_token: str | None) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None

    def verify(self, request: WebhookRequest) -> None:
        if self._validator is None:
            raise WebhookRejected("TWILIO_AUTH_TOKEN is not set")
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            raise WebhookRejected("no X-Twilio-Signature")
        if not self._validator.validate(request.url, _params(request.body), signature):
            raise WebhookRejected("X-Twilio-Signature does not match")

    def parse(self, request: WebhookRequest) -> list[Receipt | Inbound]:
        params = _params(request.body)
        fields = {name: values[-1] for name, values in params.items()}
        path = url_path(request.url)
        if path.endswith("/status"):
            status = RECEIPT_STATUSES.get(fields.get("MessageStatus", ""))
            sid = fields.get("MessageSid") or fields.get("SmsSid")
            if status is None or not sid:
                return []
            error = fields.get("ErrorCode") or None
            if error and fields.get("ErrorMessage"):
                error = f"{error}: {fields['ErrorMessage']}"
            return [Receipt(NAME, sid, status, error=error, raw=fields)]
        if path.endswith("/inbound"):
            return [
                Inbound(
                    provider=NAME,
                    from_number=_number(fields.get("From", "")),
                    to_number=_number(fields.get("To", "")),
                    text=fields.get("Body", ""),
                    provider_message_id=fields.get("MessageSid") or None,
                    received_at=None,
                    raw=fields,
                )
            ]
        return []
