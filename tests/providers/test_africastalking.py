import json
import socket

import pytest

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers.africastalking import (
    AfricasTalkingSender,
    AfricasTalkingWebhook,
)
from campaign_dispatch.providers.base import SendRequest
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.statuses import Channel, DeliveryStatus, ProviderOutcome
from tests.providers.conftest import AT_TOKEN, Recorder, make_settings

REQUEST = SendRequest(message_id=41, channel=Channel.SMS, to="+254711000111", text="Hi Amina ✓")


def sender_for(base_url: str, **values: object) -> AfricasTalkingSender:
    defaults: dict[str, object] = {
        "at_username": "sandbox",
        "at_api_key": "at-key",
        "at_sender_id": "ACME",
        "at_base_url": base_url,
    }
    settings = make_settings(**(defaults | values))
    return AfricasTalkingSender(settings)


async def test_accepted_and_the_exact_request(fake: FakeProvider):
    sender = sender_for(fake.base_url)
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    [received] = fake.received("africastalking")
    answer = json.loads(received.answer)
    recipient = answer["SMSMessageData"]["Recipients"][0]
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert result.provider_message_id == recipient["messageId"]
    assert result.code == "101"
    assert received.method == "POST"
    assert received.path == "/version1/messaging"
    assert received.query == ""
    headers = received.headers
    assert headers["apikey"] == "at-key"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert received.form() == {
        "username": "sandbox",
        "to": "+254711000111",
        "message": "Hi Amina ✓",
        "from": "ACME",
    }


async def test_no_sender_id_sends_no_from(fake: FakeProvider):
    sender = sender_for(fake.base_url, at_sender_id=None)
    try:
        await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert "from" not in fake.received()[0].form()


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (ProviderOutcome.RETRYABLE, "500"),
        (ProviderOutcome.TERMINAL, "403"),
        (ProviderOutcome.OPTED_OUT, "406"),
        (ProviderOutcome.ACCOUNT, "405"),
        (ProviderOutcome.THROTTLED, "429"),
    ],
)
async def test_each_outcome_class(fake: FakeProvider, outcome: ProviderOutcome, code: str):
    fake.set_behaviour("africastalking", outcome=outcome, retry_after=2.5)
    sender = sender_for(fake.base_url)
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert result.outcome is outcome
    assert result.code == code
    assert result.provider_message_id is None
    assert result.detail and code in result.detail  # the provider's own code, said
    assert result.retry_after == (2.5 if outcome is ProviderOutcome.THROTTLED else None)


async def test_http_401_is_an_account_problem(fake: FakeProvider):
    sender = sender_for(fake.base_url, at_api_key="")  # the fake refuses a missing apiKey
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert result.outcome is ProviderOutcome.ACCOUNT
    assert result.code == "401"
    assert "authentication" in (result.detail or "")


async def test_rate_limit_answers_429_with_retry_after(fake: FakeProvider):
    fake.set_behaviour("africastalking", rate_limit_per_second=2)
    sender = sender_for(fake.base_url)
    try:
        results = [await sender.send(REQUEST) for _ in range(5)]
    finally:
        await sender.aclose()
    throttled = [r for r in results if r.outcome is ProviderOutcome.THROTTLED]
    assert throttled, results
    assert all(r.retry_after == 1.0 for r in throttled)


async def test_outcome_for_a_count_of_sends_then_accepted(fake: FakeProvider):
    fake.set_behaviour("africastalking", outcome="retryable", count=1)
    sender = sender_for(fake.base_url)
    try:
        first, second = await sender.send(REQUEST), await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert first.outcome is ProviderOutcome.RETRYABLE
    assert second.outcome is ProviderOutcome.ACCEPTED
    assert (
        first.provider_message_id != second.provider_message_id or first.provider_message_id is None
    )


async def test_timeout_is_retryable(fake: FakeProvider):
    fake.set_behaviour("africastalking", latency_ms=500)
    settings = make_settings(
        at_username="u", at_api_key="k", at_base_url=fake.base_url, provider_timeout_seconds=0.1
    )
    sender = AfricasTalkingSender(settings)
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert result.outcome is ProviderOutcome.RETRYABLE
    assert result.code == "timeout"
    assert sender.timeout == 0.1


def test_timeout_is_at_most_a_quarter_of_the_lease():
    settings = make_settings(at_username="u", at_api_key="k", lease_seconds=8)
    assert AfricasTalkingSender(settings).timeout == 2.0


async def test_connection_refused_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = sender_for(f"http://127.0.0.1:{port}")
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    assert result.outcome is ProviderOutcome.RETRYABLE
    assert result.code == "transport"


# -- webhooks ------------------------------------------------------------------------


def at_request(path: str, body: bytes, token: str | None = AT_TOKEN) -> WebhookRequest:
    query = {"token": token} if token is not None else {}
    url = f"https://dispatch.example.com{path}" + (f"?token={token}" if token else "")
    return WebhookRequest(
        "POST",
        url,
        {"content-type": "application/x-www-form-urlencoded"},
        query,
        body,
    )


DELIVERED = b"id=ATXid_1&status=Success&phoneNumber=%2B254711000111&networkCode=63902&retryCount=0"


def test_token_valid_wrong_missing_and_unconfigured():
    handler = AfricasTalkingWebhook(AT_TOKEN)
    handler.verify(at_request("/webhooks/africastalking/delivery", DELIVERED))
    with pytest.raises(WebhookRejected):
        handler.verify(at_request("/webhooks/africastalking/delivery", DELIVERED, "wrong"))
    with pytest.raises(WebhookRejected):
        handler.verify(at_request("/webhooks/africastalking/delivery", DELIVERED, None))
    with pytest.raises(WebhookRejected):
        handler.verify(at_request("/webhooks/africastalking/delivery", DELIVERED, ""))
    with pytest.raises(WebhookRejected):
        AfricasTalkingWebhook(None).verify(
            at_request("/webhooks/africastalking/delivery", DELIVERED)
        )


def test_delivery_reports_and_statuses_that_are_not_receipts():
    handler = AfricasTalkingWebhook(AT_TOKEN)
    [receipt] = handler.parse(at_request("/webhooks/africastalking/delivery", DELIVERED))
    assert receipt == Receipt(
        provider="africastalking",
        provider_message_id="ATXid_1",
        status=DeliveryStatus.DELIVERED,
        raw={
            "id": "ATXid_1",
            "status": "Success",
            "phoneNumber": "+254711000111",
            "networkCode": "63902",
            "retryCount": "0",
        },
    )
    failed = b"id=ATXid_2&status=Rejected&failureReason=UserInBlackList"
    [receipt] = handler.parse(at_request("/webhooks/africastalking/delivery", failed))
    assert receipt.status is DeliveryStatus.UNDELIVERED
    assert receipt.error == "UserInBlackList"
    for status in (b"Sent", b"Submitted", b"Buffered"):
        body = b"id=ATXid_3&status=" + status
        assert handler.parse(at_request("/webhooks/africastalking/delivery", body)) == []


def test_inbound_message():
    handler = AfricasTalkingWebhook(AT_TOKEN)
    body = (
        b"from=%2B254711000111&to=20880&text=STOP+please"
        b"&date=2026-03-04+10%3A30%3A00&id=abc&linkId=l1"
    )
    [inbound] = handler.parse(at_request("/webhooks/africastalking/inbound", body))
    assert isinstance(inbound, Inbound)
    assert (inbound.provider, inbound.from_number, inbound.to_number, inbound.text) == (
        "africastalking",
        "+254711000111",
        "20880",
        "STOP please",
    )
    assert inbound.provider_message_id == "abc"
    assert inbound.received_at is not None and inbound.received_at.hour == 10


# -- the fake's callbacks verify with the handler --------------------------------------


@pytest.mark.parametrize(
    ("rate", "status"), [(1.0, DeliveryStatus.DELIVERED), (0.0, DeliveryStatus.UNDELIVERED)]
)
async def test_fake_receipts_verify(
    fake_calling_back: FakeProvider, recorder: Recorder, rate: float, status: DeliveryStatus
):
    fake_calling_back.set_behaviour("africastalking", delivery_rate=rate)
    sender = sender_for(fake_calling_back.base_url)
    try:
        result = await sender.send(REQUEST)
    finally:
        await sender.aclose()
    [callback] = await recorder.wait_for(1)
    assert callback.path == "/webhooks/africastalking/delivery"
    request = callback.webhook_request(recorder.base_url)
    handler = AfricasTalkingWebhook(AT_TOKEN)
    handler.verify(request)
    [receipt] = handler.parse(request)
    assert isinstance(receipt, Receipt)
    assert receipt.provider == sender.name
    assert receipt.provider_message_id == result.provider_message_id
    assert receipt.status is status
    await fake_calling_back.wait_for_callbacks(1)
    assert fake_calling_back.callbacks[0].status == 200


async def test_fake_inbound_verifies(fake_calling_back: FakeProvider, recorder: Recorder):
    sent = await fake_calling_back.send_inbound("africastalking", "+254711000111", "20880", "YES")
    assert sent.status == 200
    [callback] = recorder.requests
    request = callback.webhook_request(recorder.base_url)
    handler = AfricasTalkingWebhook(AT_TOKEN)
    handler.verify(request)
    [inbound] = handler.parse(request)
    assert isinstance(inbound, Inbound)
    assert (inbound.from_number, inbound.to_number, inbound.text) == (
        "+254711000111",
        "20880",
        "YES",
    )
