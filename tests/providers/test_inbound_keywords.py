"""STOP and START through each provider's inbound webhook, as the fake provider sends them
(signed, in each provider's own format), replayed into the API: the sender is opted out or
back in, a provider's retry of the same message is not applied twice."""

from typing import Any

import httpx
import pytest

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers.registry import build_webhook_handlers
from tests.providers.conftest import AT_TOKEN, TWILIO_TOKEN, WEBHOOK_SECRET, WHATSAPP_SECRET

PHONE = "+254711000111"
# provider, the sender as the test hands it to the fake (each provider writes it its way:
# the fake's WhatsApp Cloud drops the '+'; Twilio's WhatsApp has 'whatsapp:')
SENDERS = [
    ("africastalking", PHONE, "20880"),
    ("twilio", PHONE, "+14155550999"),
    ("twilio", f"whatsapp:{PHONE}", "whatsapp:+14155550999"),
    ("whatsapp", PHONE, "15550001111"),
    ("webhook", PHONE, "20880"),
    ("webhook", "0711 000 111", "20880"),  # a gateway writing the national format
]
IDS = ["africastalking", "twilio-sms", "twilio-whatsapp", "whatsapp-cloud", "gateway", "national"]


@pytest.fixture
def configured(runtime, recorder):
    """The API's handlers for every provider, at the URL the fake signs for."""
    runtime.settings = runtime.settings.model_copy(
        update={
            "public_base_url": recorder.base_url,
            "at_callback_token": AT_TOKEN,
            "twilio_auth_token": TWILIO_TOKEN,
            "whatsapp_app_secret": WHATSAPP_SECRET,
            "webhook_provider_secret": WEBHOOK_SECRET,
        }
    )
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)
    return runtime


async def inbound(
    fake: FakeProvider,
    recorder,
    client: httpx.AsyncClient,
    provider: str,
    sender: str,
    to: str,
    text: str,
) -> Any:
    """Have the fake send an inbound message, then deliver what it sent to the API."""
    before = len(recorder.requests)
    sent = await fake.send_inbound(provider, sender, to, text)
    assert sent.status == 200, sent
    request = (await recorder.wait_for(before + 1))[before]
    return await replay(client, request)


async def replay(client: httpx.AsyncClient, request) -> httpx.Response:
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    url = request.path + (f"?{request.query}" if request.query else "")
    response = await client.post(url, content=request.body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def customer(client, customer_id: int) -> dict[str, Any]:
    response = await client.get(f"/customers/{customer_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(("provider", "sender", "to"), SENDERS, ids=IDS)
async def test_stop_opts_the_sender_out_and_start_back_in(
    client, configured, fake_calling_back, recorder, make_customer, provider, sender, to
):
    alice = await make_customer(phone=PHONE)
    bob = await make_customer(phone="+254722000222")

    await inbound(fake_calling_back, recorder, client, provider, sender, to, "  Stop ")

    out = await customer(client, alice["id"])
    assert out["opted_out_at"] is not None
    (event,) = out["consent_history"]
    expected_provider = "whatsapp_cloud" if provider == "whatsapp" else provider
    assert (event["opted_out"], event["source"]) == (True, "inbound")
    assert "stop" in event["detail"] and expected_provider in event["detail"], event
    assert (await customer(client, bob["id"]))["opted_out_at"] is None

    await inbound(fake_calling_back, recorder, client, provider, sender, to, "START")

    back = await customer(client, alice["id"])
    assert back["opted_out_at"] is None
    assert [(e["opted_out"], e["source"]) for e in back["consent_history"]] == [
        (False, "inbound"),
        (True, "inbound"),
    ]


async def test_a_providers_retry_of_a_stop_is_not_applied_twice(
    client, configured, fake_calling_back, recorder, make_customer
):
    alice = await make_customer(phone=PHONE)
    await inbound(fake_calling_back, recorder, client, "africastalking", PHONE, "20880", "STOP")
    stop = recorder.requests[-1]
    await inbound(fake_calling_back, recorder, client, "africastalking", PHONE, "20880", "start")
    assert (await customer(client, alice["id"]))["opted_out_at"] is None

    await replay(client, stop)  # Africa's Talking retries the STOP's webhook

    after = await customer(client, alice["id"])
    assert after["opted_out_at"] is None
    assert [e["opted_out"] for e in after["consent_history"]] == [False, True]


@pytest.mark.parametrize("text", ["stop please", "hello", "STOP STOP", "s t o p", ""])
async def test_other_texts_change_nothing(
    client, configured, fake_calling_back, recorder, make_customer, text
):
    alice = await make_customer(phone=PHONE)

    await inbound(fake_calling_back, recorder, client, "africastalking", PHONE, "20880", text)

    after = await customer(client, alice["id"])
    assert (after["opted_out_at"], after["consent_history"]) == (None, [])


@pytest.mark.parametrize(
    "keyword", ["stop", "STOPALL", "Unsubscribe", "cancel", "END", "quit", "\tstop\n"]
)
async def test_every_opt_out_keyword(
    client, configured, fake_calling_back, recorder, make_customer, keyword
):
    alice = await make_customer(phone=PHONE)

    await inbound(fake_calling_back, recorder, client, "webhook", PHONE, "20880", keyword)

    assert (await customer(client, alice["id"]))["opted_out_at"] is not None


@pytest.mark.parametrize("keyword", ["start", "UNSTOP", "Yes"])
async def test_every_opt_in_keyword(
    client, configured, fake_calling_back, recorder, make_customer, keyword
):
    alice = await make_customer(phone=PHONE)
    assert (await client.post(f"/customers/{alice['id']}/opt-out")).status_code == 200

    await inbound(fake_calling_back, recorder, client, "webhook", PHONE, "20880", keyword)

    after = await customer(client, alice["id"])
    assert after["opted_out_at"] is None
    assert [(e["opted_out"], e["source"]) for e in after["consent_history"]] == [
        (False, "inbound"),
        (True, "api"),
    ]


async def test_a_stop_from_an_unknown_number_is_stored_and_changes_no_one(
    client, configured, fake_calling_back, recorder, make_customer
):
    alice = await make_customer(phone=PHONE)

    await inbound(
        fake_calling_back, recorder, client, "africastalking", "+254733000333", "20880", "STOP"
    )

    assert (await customer(client, alice["id"]))["opted_out_at"] is None
