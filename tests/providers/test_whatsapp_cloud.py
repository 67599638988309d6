import hashlib
import hmac
import json

import pytest

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers.base import SendRequest, WhatsAppTemplateMessage
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.providers.whatsapp_cloud import WhatsAppCloudSender, WhatsAppCloudWebhook
from campaign_dispatch.statuses import Channel, DeliveryStatus, ProviderOutcome
from tests.providers.conftest import WHATSAPP_SECRET, Recorder, make_settings

TEXT = SendRequest(message_id=5, channel=Channel.WHATSAPP, to="+254711000111", text="Hi Amina")
TEMPLATE = SendRequest(
    message_id=6,
    channel=Channel.WHATSAPP,
    to="+254711000111",
    text="Hi Amina, check out tea",
    template=WhatsAppTemplateMessage("promo", "en_US", ("Amina", "tea")),
)


def sender_for(base_url: str, **values: object) -> WhatsAppCloudSender:
    defaults: dict[str, object] = {
        "whatsapp_token": "EAAG-token",
        "whatsapp_phone_number_id": "106540352242922",
        "whatsapp_base_url": base_url + "/v21.0",
    }
    return WhatsAppCloudSender(make_settings(**(defaults | values)))


async def send(sender: WhatsAppCloudSender, request: SendRequest = TEXT):
    try:
        return await sender.send(request)
    finally:
        await sender.aclose()


async def test_text_accepted_and_the_exact_request(fake: FakeProvider):
    result = await send(sender_for(fake.base_url))
    [received] = fake.received("whatsapp_cloud")
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert result.provider_message_id == json.loads(received.answer)["messages"][0]["id"]
    assert received.method == "POST"
    assert received.path == "/v21.0/106540352242922/messages"
    assert received.headers["authorization"] == "Bearer EAAG-token"
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+254711000111",
        "type": "text",
        "text": {"body": "Hi Amina"},
    }


async def test_template(fake: FakeProvider):
    result = await send(sender_for(fake.base_url), TEMPLATE)
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert fake.received()[0].json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+254711000111",
        "type": "template",
        "template": {
            "name": "promo",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Amina"},
                        {"type": "text", "text": "tea"},
                    ],
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (ProviderOutcome.RETRYABLE, "131000"),
        (ProviderOutcome.TERMINAL, "131026"),
        (ProviderOutcome.OPTED_OUT, "131050"),
        (ProviderOutcome.ACCOUNT, "190"),
        (ProviderOutcome.THROTTLED, "130429"),
    ],
)
async def test_each_outcome_class(fake: FakeProvider, outcome: ProviderOutcome, code: str):
    fake.set_behaviour("whatsapp", outcome=outcome, retry_after=4)
    result = await send(sender_for(fake.base_url))
    assert (result.outcome, result.code) == (outcome, code)
    assert result.detail and result.detail.startswith("HTTP")
    assert result.retry_after == (4.0 if outcome is ProviderOutcome.THROTTLED else None)


async def test_rate_limit_is_429_with_retry_after(fake: FakeProvider):
    fake.set_behaviour("whatsapp_cloud", rate_limit_per_second=1)
    sender = sender_for(fake.base_url)
    try:
        results = [await sender.send(TEXT) for _ in range(3)]
    finally:
        await sender.aclose()
    throttled = [r for r in results if r.outcome is ProviderOutcome.THROTTLED]
    assert throttled and all(r.retry_after == 1.0 and r.code == "130429" for r in throttled)


async def test_timeout_is_retryable(fake: FakeProvider):
    fake.set_behaviour("whatsapp_cloud", latency_ms=400)
    result = await send(sender_for(fake.base_url, provider_timeout_seconds=0.1))
    assert (result.outcome, result.code) == (ProviderOutcome.RETRYABLE, "timeout")


# -- webhooks ------------------------------------------------------------------------


def payload(value: dict) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()


def sign(body: bytes, secret: str = WHATSAPP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_for(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return WebhookRequest(
        "POST", "https://dispatch.example.com/webhooks/whatsapp", headers, {}, body
    )


STATUSES = payload(
    {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1065"},
        "statuses": [
            {"id": "wamid.1", "status": "sent", "timestamp": "1700000000", "recipient_id": "2547"},
            {"id": "wamid.1", "status": "delivered", "timestamp": "1700000001"},
            {"id": "wamid.2", "status": "read", "timestamp": "1700000002"},
            {
                "id": "wamid.3",
                "status": "failed",
                "timestamp": "1700000003",
                "errors": [{"code": 131026, "title": "Message undeliverable"}],
            },
        ],
    }
)


def test_signature_valid_invalid_missing_modified_and_unconfigured():
    handler = WhatsAppCloudWebhook(WHATSAPP_SECRET)
    assert handler.provider == "whatsapp"
    handler.verify(request_for(STATUSES, sign(STATUSES)))
    for bad in (sign(STATUSES, "other"), "sha256=00", sign(STATUSES)[7:]):
        with pytest.raises(WebhookRejected):
            handler.verify(request_for(STATUSES, bad))
    with pytest.raises(WebhookRejected):
        handler.verify(request_for(STATUSES, None))
    with pytest.raises(WebhookRejected):
        handler.verify(request_for(STATUSES.replace(b"read", b"sent"), sign(STATUSES)))
    with pytest.raises(WebhookRejected):
        WhatsAppCloudWebhook(None).verify(request_for(STATUSES, sign(STATUSES)))


def test_statuses_are_receipts_of_the_sender():
    events = WhatsAppCloudWebhook(WHATSAPP_SECRET).parse(request_for(STATUSES, sign(STATUSES)))
    assert [(e.provider, e.provider_message_id, e.status, e.error) for e in events] == [
        ("whatsapp_cloud", "wamid.1", DeliveryStatus.DELIVERED, None),
        ("whatsapp_cloud", "wamid.2", DeliveryStatus.READ, None),
        ("whatsapp_cloud", "wamid.3", DeliveryStatus.UNDELIVERED, "131026: Message undeliverable"),
    ]
    assert isinstance(events[0], Receipt) and events[0].at is not None
    assert events[0].at.timestamp() == 1700000001


def test_inbound_messages():
    body = payload(
        {
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1065"},
            "messages": [
                {
                    "from": "254711000111",
                    "id": "wamid.in",
                    "timestamp": "1700000005",
                    "type": "text",
                    "text": {"body": "STOP"},
                }
            ],
        }
    )
    [inbound] = WhatsAppCloudWebhook(WHATSAPP_SECRET).parse(request_for(body, sign(body)))
    assert isinstance(inbound, Inbound)
    assert (inbound.provider, inbound.from_number, inbound.to_number, inbound.text) == (
        "whatsapp_cloud",
        "254711000111",
        "15550001111",
        "STOP",
    )
    assert inbound.provider_message_id == "wamid.in"


async def test_fake_receipts_and_inbound_verify(
    fake_calling_back: FakeProvider, recorder: Recorder
):
    fake_calling_back.set_behaviour("whatsapp_cloud", delivery_rate=0.0)
    result = await send(sender_for(fake_calling_back.base_url))
    [callback] = await recorder.wait_for(1)
    assert callback.path == "/webhooks/whatsapp"
    handler = WhatsAppCloudWebhook(WHATSAPP_SECRET)
    request = callback.webhook_request(recorder.base_url)
    handler.verify(request)
    [receipt] = handler.parse(request)
    assert isinstance(receipt, Receipt)
    assert (receipt.provider_message_id, receipt.status) == (
        result.provider_message_id,
        DeliveryStatus.UNDELIVERED,
    )
    sent = await fake_calling_back.send_inbound("whatsapp", "+254711000111", "15550001111", "ok")
    assert sent.status == 200
    request = recorder.requests[1].webhook_request(recorder.base_url)
    handler.verify(request)
    [inbound] = handler.parse(request)
    assert isinstance(inbound, Inbound)
    assert (inbound.from_number, inbound.to_number, inbound.text) == (
        "254711000111",
        "15550001111",
        "ok",
    )
