import hashlib
import hmac
import json

import pytest

from campaign_dispatch.fake_provider import WEBHOOK_GATEWAY_PATH, FakeProvider
from campaign_dispatch.providers.base import SendRequest
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.providers.webhook import WebhookGatewaySender, WebhookGatewayWebhook
from campaign_dispatch.statuses import Channel, DeliveryStatus, ProviderOutcome
from tests.providers.conftest import WEBHOOK_SECRET, Recorder, make_settings

REQUEST = SendRequest(message_id=99, channel=Channel.SMS, to="+254700000001", text="Jambo ✓")
PUBLIC = "https://dispatch.example.com"


def sender_for(base_url: str, **values: object) -> WebhookGatewaySender:
    defaults: dict[str, object] = {
        "webhook_provider_url": base_url + WEBHOOK_GATEWAY_PATH,
        "webhook_provider_secret": WEBHOOK_SECRET,
        "public_base_url": PUBLIC,
    }
    return WebhookGatewaySender(make_settings(**(defaults | values)))


async def send(sender: WebhookGatewaySender, request: SendRequest = REQUEST):
    try:
        return await sender.send(request)
    finally:
        await sender.aclose()


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_accepted_and_the_exact_request(fake: FakeProvider):
    result = await send(sender_for(fake.base_url))
    [received] = fake.received("webhook")
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert result.provider_message_id == json.loads(received.answer)["provider_message_id"]
    assert received.method == "POST"
    assert received.path == WEBHOOK_GATEWAY_PATH
    assert received.headers["content-type"] == "application/json"
    assert received.headers["idempotency-key"] == "99"
    assert received.headers["x-signature"] == sign(received.body)
    assert received.json() == {
        "message_id": 99,
        "channel": "sms",
        "to": "+254700000001",
        "text": "Jambo ✓",
        "callback_url": f"{PUBLIC}/webhooks/webhook/delivery",
    }


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (ProviderOutcome.RETRYABLE, "503"),
        (ProviderOutcome.TERMINAL, "422"),
        (ProviderOutcome.OPTED_OUT, "422"),
        (ProviderOutcome.ACCOUNT, "401"),
        (ProviderOutcome.THROTTLED, "429"),
    ],
)
async def test_each_outcome_class(fake: FakeProvider, outcome: ProviderOutcome, code: str):
    fake.set_behaviour("webhook", outcome=outcome, retry_after=0.5)
    result = await send(sender_for(fake.base_url))
    assert (result.outcome, result.code) == (outcome, code)
    assert result.retry_after == (0.5 if outcome is ProviderOutcome.THROTTLED else None)


async def test_a_wrong_secret_is_refused_by_the_gateway(fake: FakeProvider):
    result = await send(sender_for(fake.base_url, webhook_provider_secret="not-the-secret"))
    assert (result.outcome, result.code) == (ProviderOutcome.ACCOUNT, "401")


async def test_rate_limit_retry_after(fake: FakeProvider):
    fake.set_behaviour("webhook", rate_limit_per_second=1)
    sender = sender_for(fake.base_url)
    try:
        results = [await sender.send(REQUEST) for _ in range(3)]
    finally:
        await sender.aclose()
    throttled = [r for r in results if r.outcome is ProviderOutcome.THROTTLED]
    assert throttled and all(r.retry_after == 1.0 for r in throttled)


async def test_timeout_is_retryable(fake: FakeProvider):
    fake.set_behaviour("webhook", latency_ms=400)
    result = await send(sender_for(fake.base_url, provider_timeout_seconds=0.1))
    assert (result.outcome, result.code) == (ProviderOutcome.RETRYABLE, "timeout")


# -- webhooks ------------------------------------------------------------------------

BODY = b'{"provider_message_id":"gw_1","status":"delivered","error":null}'


def request_for(body: bytes, signature: str | None, path: str = "/webhooks/webhook/delivery"):
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-signature"] = signature
    return WebhookRequest("POST", PUBLIC + path, headers, {}, body)


def test_signature_valid_invalid_missing_modified_and_unconfigured():
    handler = WebhookGatewayWebhook(WEBHOOK_SECRET)
    handler.verify(request_for(BODY, sign(BODY)))
    for bad in (sign(BODY, "other"), "sha256=", "", sign(BODY)[7:]):
        with pytest.raises(WebhookRejected):
            handler.verify(request_for(BODY, bad))
    with pytest.raises(WebhookRejected):
        handler.verify(request_for(BODY, None))
    with pytest.raises(WebhookRejected):
        handler.verify(request_for(BODY.replace(b"delivered", b"read"), sign(BODY)))
    with pytest.raises(WebhookRejected):
        WebhookGatewayWebhook(None).verify(request_for(BODY, sign(BODY)))


def test_receipts_and_inbound():
    handler = WebhookGatewayWebhook(WEBHOOK_SECRET)
    assert handler.parse(request_for(BODY, sign(BODY))) == [
        Receipt("webhook", "gw_1", DeliveryStatus.DELIVERED, raw=json.loads(BODY))
    ]
    many = b'[{"provider_message_id":"a","status":"undelivered","error":"no route"},'
    many += b'{"provider_message_id":"b","status":"read"},{"provider_message_id":"c","status":"x"}]'
    receipts = handler.parse(request_for(many, sign(many)))
    assert [
        (r.provider_message_id, r.status, r.error) for r in receipts if isinstance(r, Receipt)
    ] == [
        ("a", DeliveryStatus.UNDELIVERED, "no route"),
        ("b", DeliveryStatus.READ, None),
    ]
    inbound = b'{"provider_message_id":"i1","from":"+2547","to":"20880","text":"hi"}'
    [event] = handler.parse(request_for(inbound, sign(inbound), "/webhooks/webhook/inbound"))
    assert event == Inbound("webhook", "+2547", "20880", "hi", "i1", raw=json.loads(inbound))


async def test_fake_receipts_and_inbound_verify(
    fake_calling_back: FakeProvider, recorder: Recorder
):
    result = await send(sender_for(fake_calling_back.base_url, public_base_url=recorder.base_url))
    [callback] = await recorder.wait_for(1)
    assert callback.path == "/webhooks/webhook/delivery"
    handler = WebhookGatewayWebhook(WEBHOOK_SECRET)
    request = callback.webhook_request(recorder.base_url)
    handler.verify(request)
    [receipt] = handler.parse(request)
    assert isinstance(receipt, Receipt)
    assert (receipt.provider, receipt.provider_message_id, receipt.status) == (
        "webhook",
        result.provider_message_id,
        DeliveryStatus.DELIVERED,
    )
    sent = await fake_calling_back.send_inbound("webhook", "+2547", "20880", "yes")
    assert sent.status == 200
    request = recorder.requests[1].webhook_request(recorder.base_url)
    handler.verify(request)
    [inbound] = handler.parse(request)
    assert isinstance(inbound, Inbound) and inbound.text == "yes"
