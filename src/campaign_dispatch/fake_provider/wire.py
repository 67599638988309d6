"""The four wire formats the fake provider speaks: how each provider answers a send for
each outcome class (with that provider's real code for it), and how it calls back —
delivery receipts and inbound messages, signed exactly as the real provider signs.

The formats follow the pages cited in providers/africastalking.py, twilio.py,
whatsapp_cloud.py and webhook.py.
"""

import base64
import json
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from campaign_dispatch.providers.http import sign_body
from campaign_dispatch.statuses import Channel, MessageStatus, ProviderOutcome

# Meta's `messaging_product` and the route segment are spelled like our channel, and
# Meta's and Twilio's failed status like our message status: the code rules keep those
# strings in statuses.py, so they are taken from there.
WHATSAPP = Channel.WHATSAPP.value
FAILED = MessageStatus.FAILED.value

AFRICASTALKING = "africastalking"
TWILIO = "twilio"
WHATSAPP_CLOUD = "whatsapp_cloud"
WEBHOOK = "webhook"
PROVIDERS = (AFRICASTALKING, TWILIO, WHATSAPP_CLOUD, WEBHOOK)

WEBHOOK_GATEWAY_PATH = "/webhook/messages"  # WEBHOOK_PROVIDER_URL=http://host:port/webhook/messages

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Secrets:
    """What the fake signs its callbacks with (and checks where the provider checks)."""

    at_callback_token: str | None = None
    twilio_auth_token: str | None = None
    whatsapp_app_secret: str | None = None
    webhook_secret: str | None = None


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a receipt for an accepted send needs to know."""

    provider: str
    provider_message_id: str
    to: str
    sender: str = ""
    callback_url: str | None = None  # where the provider was told to report
    phone_number_id: str = ""


@dataclass(frozen=True, slots=True)
class Callback:
    provider: str
    kind: str  # "receipt" or "inbound"
    url: str
    headers: dict[str, str]
    body: bytes


def _json(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(status, json.dumps(data).encode(), JSON, headers or [])


def _hex(n: int = 16) -> str:
    return os.urandom(n).hex()


def provider_for(method: str, path: str) -> str | None:
    """Which provider's send endpoint a request is for (None: not a send endpoint)."""
    if method != "POST":
        return None
    if path.endswith("/version1/messaging"):
        return AFRICASTALKING
    if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
        return TWILIO
    if path.endswith("/messages") and path != WEBHOOK_GATEWAY_PATH:
        return WHATSAPP_CLOUD
    if path == WEBHOOK_GATEWAY_PATH:
        return WEBHOOK
    return None


def _form(body: bytes) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- authentication: refused as the real provider refuses ---------------------------


def refuse_unauthenticated(
    provider: str, headers: dict[str, str], body: bytes, secrets: Secrets
) -> Answer | None:
    if provider == AFRICASTALKING:
        if not headers.get("apikey"):
            return Answer(401, b"The supplied authentication is invalid", "text/plain")
    elif provider == TWILIO:
        auth = headers.get("authorization", "")
        ok = auth.startswith("Basic ")
        if ok and secrets.twilio_auth_token:
            try:
                _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                password = ""
            ok = password == secrets.twilio_auth_token
        if not ok:
            return twilio_answer(ProviderOutcome.ACCOUNT, {}, "")
    elif provider == WHATSAPP_CLOUD:
        if not headers.get("authorization", "").startswith("Bearer "):
            return whatsapp_answer(ProviderOutcome.ACCOUNT, {}, "")
    elif (
        provider == WEBHOOK
        and secrets.webhook_secret
        and headers.get("x-signature") != sign_body(secrets.webhook_secret, body)
    ):
        return _json(401, {"error": "bad_signature"})
    return None


# -- answers to a send -------------------------------------------------------------


def answer_send(
    provider: str,
    outcome: ProviderOutcome,
    path: str,
    body: bytes,
    retry_after: float,
) -> tuple[Answer, Sent | None]:
    """The provider's answer for `outcome`, and what was sent when it was accepted."""
    header = [("Retry-After", f"{retry_after:g}")] if outcome is ProviderOutcome.THROTTLED else []
    if provider == AFRICASTALKING:
        form = _form(body)
        message_id = "ATXid_" + _hex()
        answer = at_answer(outcome, form.get("to", ""), message_id)
        sent = Sent(provider, message_id, form.get("to", ""), form.get("from", ""))
    elif provider == TWILIO:
        form = _form(body)
        sid = "SM" + _hex()
        answer = twilio_answer(outcome, form, sid, path)
        sender = form.get("From") or form.get("MessagingServiceSid", "")
        sent = Sent(provider, sid, form.get("To", ""), sender, form.get("StatusCallback"))
    elif provider == WHATSAPP_CLOUD:
        data = _load(body)
        wamid = "wamid." + base64.b64encode(os.urandom(24)).decode()
        answer = whatsapp_answer(outcome, data, wamid)
        phone_number_id = path.rstrip("/").split("/")[-2]
        sent = Sent(provider, wamid, str(data.get("to", "")), phone_number_id=phone_number_id)
    else:
        data = _load(body)
        gateway_id = "gw_" + _hex()
        answer = webhook_answer(outcome, gateway_id)
        sent = Sent(
            provider, gateway_id, str(data.get("to", "")), callback_url=data.get("callback_url")
        )
    answer.headers.extend(header)
    return answer, sent if outcome is ProviderOutcome.ACCEPTED else None


# Africa's Talking: per-recipient statusCode inside a 201; throttling is HTTP 429.
AT_CODES = {
    ProviderOutcome.ACCEPTED: (101, "Success"),
    ProviderOutcome.RETRYABLE: (500, "InternalServerError"),
    ProviderOutcome.TERMINAL: (403, "InvalidPhoneNumber"),
    ProviderOutcome.OPTED_OUT: (406, "UserInBlacklist"),
    ProviderOutcome.ACCOUNT: (405, "InsufficientBalance"),
}


def at_answer(outcome: ProviderOutcome, to: str, message_id: str) -> Answer:
    if outcome is ProviderOutcome.THROTTLED:
        return Answer(429, b"Too Many Requests", "text/plain")
    code, status = AT_CODES[outcome]
    accepted = outcome is ProviderOutcome.ACCEPTED
    recipient = {
        "statusCode": code,
        "number": to,
        "status": status,
        "cost": "KES 0.8000" if accepted else "0",
        "messageId": message_id if accepted else "None",
    }
    summary = f"Sent to {int(accepted)}/1 Total Cost: {'KES 0.8000' if accepted else '0'}"
    return _json(201, {"SMSMessageData": {"Message": summary, "Recipients": [recipient]}})


# Twilio: the error JSON {code, message, more_info, status}.
TWILIO_ERRORS = {
    ProviderOutcome.RETRYABLE: (500, 20500, "Internal Server Error"),
    ProviderOutcome.THROTTLED: (429, 20429, "Too Many Requests"),
    ProviderOutcome.TERMINAL: (400, 21211, "The 'To' number is not a valid phone number."),
    ProviderOutcome.OPTED_OUT: (400, 21610, "Attempt to send to unsubscribed recipient"),
    ProviderOutcome.ACCOUNT: (401, 20003, "Authenticate"),
}


def twilio_answer(
    outcome: ProviderOutcome, form: dict[str, str], sid: str, path: str = ""
) -> Answer:
    if outcome is ProviderOutcome.ACCEPTED:
        account = path.split("/")[3] if path.count("/") >= 4 else ""
        return _json(
            201,
            {
                "sid": sid,
                "account_sid": account,
                "to": form.get("To"),
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form.get("Body"),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
        )
    status, code, message = TWILIO_ERRORS[outcome]
    return _json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


# WhatsApp Cloud API: Graph API errors {"error": {message, type, code, error_data, fbtrace_id}}.
WHATSAPP_ERRORS = {
    ProviderOutcome.RETRYABLE: (500, 131000, "Something went wrong"),
    ProviderOutcome.THROTTLED: (400, 130429, "Rate limit hit"),
    ProviderOutcome.TERMINAL: (400, 131026, "Message undeliverable"),
    ProviderOutcome.OPTED_OUT: (400, 131050, "User has stopped marketing messages"),
    ProviderOutcome.ACCOUNT: (401, 190, "Access token has expired"),
}


def whatsapp_answer(outcome: ProviderOutcome, data: dict[str, Any], wamid: str) -> Answer:
    if outcome is ProviderOutcome.ACCEPTED:
        to = str(data.get("to", ""))
        return _json(
            200,
            {
                "messaging_product": WHATSAPP,
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": wamid}],
            },
        )
    status, code, title = WHATSAPP_ERRORS[outcome]
    return _json(
        status,
        {
            "error": {
                "message": f"(#{code}) {title}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": WHATSAPP, "details": title},
                "fbtrace_id": "A" + _hex(8),
            }
        },
    )


# Our own webhook gateway spec (providers/webhook.py).
WEBHOOK_ERRORS = {
    ProviderOutcome.RETRYABLE: (503, "unavailable"),
    ProviderOutcome.THROTTLED: (429, "rate_limited"),
    ProviderOutcome.TERMINAL: (422, "invalid_number"),
    ProviderOutcome.OPTED_OUT: (422, "opted_out"),
    ProviderOutcome.ACCOUNT: (401, "unauthorized"),
}


def webhook_answer(outcome: ProviderOutcome, gateway_id: str) -> Answer:
    if outcome is ProviderOutcome.ACCEPTED:
        return _json(202, {"provider_message_id": gateway_id})
    status, error = WEBHOOK_ERRORS[outcome]
    return _json(status, {"error": error})


def rate_limited(provider: str, retry_after: int) -> Answer:
    """Beyond the configured requests per second: HTTP 429 with Retry-After."""
    if provider == AFRICASTALKING:
        answer = at_answer(ProviderOutcome.THROTTLED, "", "")
    elif provider == TWILIO:
        answer = twilio_answer(ProviderOutcome.THROTTLED, {}, "")
    elif provider == WHATSAPP_CLOUD:
        answer = whatsapp_answer(ProviderOutcome.THROTTLED, {}, "")
        answer.status = 429
    else:
        answer = webhook_answer(ProviderOutcome.THROTTLED, "")
    answer.headers.append(("Retry-After", str(retry_after)))
    return answer


# -- callbacks: receipts and inbound messages, signed as each provider signs ----------


def _twilio_signed(url: str, params: dict[str, str], secrets: Secrets) -> dict[str, str]:
    headers = {"content-type": FORM}
    if secrets.twilio_auth_token:
        validator = RequestValidator(secrets.twilio_auth_token)
        headers["x-twilio-signature"] = validator.compute_signature(url, params)
    return headers


def _hub_signed(body: bytes, secret: str | None, header: str) -> dict[str, str]:
    headers = {"content-type": JSON}
    if secret:
        headers[header] = sign_body(secret, body)
    return headers


def _at_url(public_base_url: str, kind: str, secrets: Secrets) -> str:
    url = f"{public_base_url}/webhooks/africastalking/{kind}"
    if secrets.at_callback_token:
        url += "?" + urllib.parse.urlencode({"token": secrets.at_callback_token})
    return url


def _whatsapp_envelope(phone_number_id: str, display: str, value: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": WHATSAPP,
        "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id},
        **value,
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def receipt(sent: Sent, delivered: bool, public_base_url: str, secrets: Secrets) -> Callback:
    provider = sent.provider
    if provider == AFRICASTALKING:
        params = {
            "id": sent.provider_message_id,
            "status": "Success" if delivered else "Failed",
            "phoneNumber": sent.to,
            "networkCode": "63902",
            "retryCount": "0",
        }
        if not delivered:
            params["failureReason"] = "DeliveryFailure"
        url = _at_url(public_base_url, "delivery", secrets)
        return Callback(
            provider,
            "receipt",
            url,
            {"content-type": FORM},
            urllib.parse.urlencode(params).encode(),
        )
    if provider == TWILIO:
        url = sent.callback_url or f"{public_base_url}/webhooks/twilio/status"
        status = "delivered" if delivered else "undelivered"
        params = {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "From": sent.sender,
            "MessageSid": sent.provider_message_id,
            "MessageStatus": status,
            "SmsSid": sent.provider_message_id,
            "SmsStatus": status,
            "To": sent.to,
        }
        if not delivered:
            params["ErrorCode"] = "30003"
        body = urllib.parse.urlencode(params).encode()
        return Callback(provider, "receipt", url, _twilio_signed(url, params, secrets), body)
    if provider == WHATSAPP_CLOUD:
        status_object: dict[str, Any] = {
            "id": sent.provider_message_id,
            "status": "delivered" if delivered else FAILED,
            "timestamp": str(int(time.time())),
            "recipient_id": sent.to.lstrip("+"),
        }
        if not delivered:
            status_object["errors"] = [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ]
        body = _whatsapp_envelope(
            sent.phone_number_id, "15550000000", {"statuses": [status_object]}
        )
        url = f"{public_base_url}/webhooks/{WHATSAPP}"
        headers = _hub_signed(body, secrets.whatsapp_app_secret, "x-hub-signature-256")
        return Callback(provider, "receipt", url, headers, body)
    url = sent.callback_url or f"{public_base_url}/webhooks/webhook/delivery"
    data = {
        "provider_message_id": sent.provider_message_id,
        "status": "delivered" if delivered else "undelivered",
        "error": None if delivered else "carrier_rejected",
    }
    body = json.dumps(data).encode()
    headers = _hub_signed(body, secrets.webhook_secret, "x-signature")
    return Callback(provider, "receipt", url, headers, body)


def inbound(
    provider: str,
    from_number: str,
    to_number: str,
    text: str,
    public_base_url: str,
    secrets: Secrets,
) -> Callback:
    if provider == AFRICASTALKING:
        params = {
            "from": from_number,
            "to": to_number,
            "text": text,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "id": _hex(),
            "linkId": _hex(8),
        }
        url = _at_url(public_base_url, "inbound", secrets)
        body = urllib.parse.urlencode(params).encode()
        return Callback(provider, "inbound", url, {"content-type": FORM}, body)
    if provider == TWILIO:
        url = f"{public_base_url}/webhooks/twilio/inbound"
        sid = "SM" + _hex()
        params = {
            "AccountSid": "AC" + "0" * 32,
            "ApiVersion": "2010-04-01",
            "Body": text,
            "From": from_number,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to_number,
        }
        body = urllib.parse.urlencode(params).encode()
        return Callback(provider, "inbound", url, _twilio_signed(url, params, secrets), body)
    if provider == WHATSAPP_CLOUD:
        message = {
            "from": from_number.lstrip("+"),
            "id": "wamid." + base64.b64encode(os.urandom(24)).decode(),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        contacts = [{"profile": {"name": "Fake Customer"}, "wa_id": from_number.lstrip("+")}]
        body = _whatsapp_envelope(
            "fake-phone-number-id", to_number, {"contacts": contacts, "messages": [message]}
        )
        url = f"{public_base_url}/webhooks/{WHATSAPP}"
        headers = _hub_signed(body, secrets.whatsapp_app_secret, "x-hub-signature-256")
        return Callback(provider, "inbound", url, headers, body)
    data = {
        "provider_message_id": "gw_" + _hex(),
        "from": from_number,
        "to": to_number,
        "text": text,
    }
    body = json.dumps(data).encode()
    url = f"{public_base_url}/webhooks/webhook/inbound"
    return Callback(
        provider, "inbound", url, _hub_signed(body, secrets.webhook_secret, "x-signature"), body
    )
