import base64
import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers.base import SendRequest, WhatsAppTemplateMessage
from campaign_dispatch.providers.events import Inbound, Receipt, WebhookRejected, WebhookRequest
from campaign_dispatch.providers.twilio import TwilioSender, TwilioWebhook
from campaign_dispatch.statuses import Channel, DeliveryStatus, ProviderOutcome
from tests.providers.conftest import TWILIO_SID, TWILIO_TOKEN, Recorder, make_settings

SMS = SendRequest(message_id=7, channel=Channel.SMS, to="+14155550100", text="Hi Jo, 10% off")
WHATSAPP = SendRequest(message_id=8, channel=Channel.WHATSAPP, to="+14155550100", text="Hi Jo")
PUBLIC = "https://dispatch.example.com"


def sender_for(base_url: str, **values: object) -> TwilioSender:
    defaults: dict[str, object] = {
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": TWILIO_TOKEN,
        "twilio_from": "+14155550999",
        "twilio_base_url": base_url,
        "public_base_url": PUBLIC,
    }
    return TwilioSender(make_settings(**(defaults | values)))


async def send(sender: TwilioSender, request: SendRequest = SMS):
    try:
        return await sender.send(request)
    finally:
        await sender.aclose()


async def test_sms_accepted_and_the_exact_request(fake: FakeProvider):
    result = await send(sender_for(fake.base_url))
    [received] = fake.received("twilio")
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert result.provider_message_id == json.loads(received.answer)["sid"]
    assert result.provider_message_id.startswith("SM")
    assert received.method == "POST"
    assert received.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    credentials = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert received.headers["authorization"] == f"Basic {credentials}"
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert received.form() == {
        "To": "+14155550100",
        "Body": "Hi Jo, 10% off",
        "From": "+14155550999",
        "StatusCallback": f"{PUBLIC}/webhooks/twilio/status",
    }


async def test_whatsapp_addresses_get_the_prefix(fake: FakeProvider):
    result = await send(sender_for(fake.base_url), WHATSAPP)
    assert result.outcome is ProviderOutcome.ACCEPTED
    form = fake.received()[0].form()
    assert form["To"] == "whatsapp:+14155550100"
    assert form["From"] == "whatsapp:+14155550999"


CONTENT_SID = "HX" + "ab" * 16


async def test_a_whatsapp_template_goes_as_content_sid_and_variables(fake: FakeProvider):
    template = WhatsAppTemplateMessage("order_update", "en", ("Amina", "chai ☕"), CONTENT_SID)
    request = SendRequest(8, Channel.WHATSAPP, "+14155550100", "Hi Amina", template)
    result = await send(sender_for(fake.base_url), request)
    assert result.outcome is ProviderOutcome.ACCEPTED
    assert fake.received()[0].form() == {
        "To": "whatsapp:+14155550100",
        "ContentSid": CONTENT_SID,
        "ContentVariables": '{"1": "Amina", "2": "chai ☕"}',
        "From": "whatsapp:+14155550999",
        "StatusCallback": f"{PUBLIC}/webhooks/twilio/status",
    }


async def test_a_template_without_variables_or_content_sid(fake: FakeProvider):
    bare = WhatsAppTemplateMessage("welcome", "en", (), CONTENT_SID)
    await send(sender_for(fake.base_url), SendRequest(8, Channel.WHATSAPP, "+1415555", "Hi", bare))
    form = fake.received()[0].form()
    assert form["ContentSid"] == CONTENT_SID
    assert "ContentVariables" not in form and "Body" not in form
    # Without a Content SID (a template made for the Cloud API), Twilio gets the text.
    meta_only = WhatsAppTemplateMessage("welcome", "en", ("Jo",))
    await send(
        sender_for(fake.base_url), SendRequest(9, Channel.WHATSAPP, "+1", "Hi Jo", meta_only)
    )
    form = fake.received()[1].form()
    assert form["Body"] == "Hi Jo"
    assert "ContentSid" not in form


async def test_messaging_service_instead_of_from(fake: FakeProvider):
    sender = sender_for(fake.base_url, twilio_from=None, twilio_messaging_service_sid="MG123")
    await send(sender)
    form = fake.received()[0].form()
    assert "From" not in form
    assert form["MessagingServiceSid"] == "MG123"


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (ProviderOutcome.RETRYABLE, "20500"),
        (ProviderOutcome.TERMINAL, "21211"),
        (ProviderOutcome.OPTED_OUT, "21610"),
        (ProviderOutcome.ACCOUNT, "20003"),
        (ProviderOutcome.THROTTLED, "20429"),
    ],
)
async def test_each_outcome_class(fake: FakeProvider, outcome: ProviderOutcome, code: str):
    fake.set_behaviour("twilio", outcome=outcome, retry_after=3)
    result = await send(sender_for(fake.base_url))
    assert (result.outcome, result.code) == (outcome, code)
    assert result.provider_message_id is None
    assert result.detail and result.detail.startswith("HTTP")
    assert result.retry_after == (3.0 if outcome is ProviderOutcome.THROTTLED else None)


async def test_wrong_auth_token_is_an_account_problem(fake: FakeProvider):
    result = await send(sender_for(fake.base_url, twilio_auth_token="wrong"))
    assert (result.outcome, result.code) == (ProviderOutcome.ACCOUNT, "20003")


async def test_timeout_is_retryable(fake: FakeProvider):
    fake.set_behaviour("twilio", latency_ms=400)
    result = await send(sender_for(fake.base_url, provider_timeout_seconds=0.1))
    assert (result.outcome, result.code) == (ProviderOutcome.RETRYABLE, "timeout")


# -- webhooks ------------------------------------------------------------------------

STATUS_URL = f"{PUBLIC}/webhooks/twilio/status"


def signed(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> WebhookRequest:
    body = urllib.parse.urlencode(params).encode()
    signature = RequestValidator(token).compute_signature(url, params)
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature}
    return WebhookRequest("POST", url, headers, {}, body)


STATUS = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": TWILIO_SID}


def test_signature_valid_invalid_missing_modified_and_unconfigured():
    handler = TwilioWebhook(TWILIO_TOKEN)
    good = signed(STATUS_URL, STATUS)
    handler.verify(good)
    with pytest.raises(WebhookRejected):
        handler.verify(signed(STATUS_URL, STATUS, token="another"))
    without = WebhookRequest("POST", good.url, {"content-type": "x"}, {}, good.body)
    with pytest.raises(WebhookRejected):
        handler.verify(without)
    modified = WebhookRequest(
        "POST", good.url, good.headers, {}, good.body.replace(b"delivered", b"read")
    )
    with pytest.raises(WebhookRejected):
        handler.verify(modified)
    other_url = WebhookRequest("POST", good.url + "?x=1", good.headers, {}, good.body)
    with pytest.raises(WebhookRejected):
        handler.verify(other_url)
    with pytest.raises(WebhookRejected):
        TwilioWebhook(None).verify(good)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.READ),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.UNDELIVERED),
        ("queued", None),
        ("sending", None),
        ("sent", None),
        ("accepted", None),
    ],
)
def test_status_callbacks(status: str, expected: DeliveryStatus | None):
    params = {"MessageSid": "SM9", "MessageStatus": status}
    if expected is DeliveryStatus.UNDELIVERED:
        params["ErrorCode"] = "30003"
    events = TwilioWebhook(TWILIO_TOKEN).parse(signed(STATUS_URL, params))
    if expected is None:
        assert events == []
        return
    assert events == [
        Receipt(
            "twilio",
            "SM9",
            expected,
            error="30003" if expected is DeliveryStatus.UNDELIVERED else None,
            raw=params,
        )
    ]


def test_inbound_strips_the_whatsapp_prefix():
    params = {
        "MessageSid": "SM5",
        "From": "whatsapp:+14155550100",
        "To": "whatsapp:+14155550999",
        "Body": "STOP",
    }
    [inbound] = TwilioWebhook(TWILIO_TOKEN).parse(
        signed(f"{PUBLIC}/webhooks/twilio/inbound", params)
    )
    assert inbound == Inbound("twilio", "+14155550100", "+14155550999", "STOP", "SM5", raw=params)


# -- the fake's callbacks verify with the handler --------------------------------------


async def test_fake_status_callbacks_verify(fake_calling_back: FakeProvider, recorder: Recorder):
    fake_calling_back.set_behaviour("twilio", delivery_rate=0.0)
    result = await send(sender_for(fake_calling_back.base_url, public_base_url=recorder.base_url))
    [callback] = await recorder.wait_for(1)
    assert callback.path == "/webhooks/twilio/status"
    request = callback.webhook_request(recorder.base_url)
    handler = TwilioWebhook(TWILIO_TOKEN)
    handler.verify(request)
    [receipt] = handler.parse(request)
    assert isinstance(receipt, Receipt)
    assert (receipt.provider, receipt.provider_message_id) == ("twilio", result.provider_message_id)
    assert receipt.status is DeliveryStatus.UNDELIVERED
    assert receipt.error == "30003"


async def test_fake_inbound_verifies(fake_calling_back: FakeProvider, recorder: Recorder):
    sent = await fake_calling_back.send_inbound("twilio", "+14155550100", "+14155550999", "hi")
    assert sent.status == 200
    request = recorder.requests[0].webhook_request(recorder.base_url)
    handler = TwilioWebhook(TWILIO_TOKEN)
    handler.verify(request)
    [inbound] = handler.parse(request)
    assert isinstance(inbound, Inbound)
    assert (inbound.from_number, inbound.text) == ("+14155550100", "hi")
