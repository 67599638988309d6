"""Each real adapter through the whole service: a campaign sent over the API, published
by the relay, sent by the worker through the adapter to the fake provider over loopback
HTTP, and the fake's signed delivery receipt posted back to the API served on loopback,
which verifies it, records it and moves the campaign's funnel. Nothing in between is
replaced: the senders and webhook handlers are the ones the settings build."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from campaign_dispatch.config import Settings
from campaign_dispatch.fake_provider import FakeProvider, running_fake_provider
from campaign_dispatch.fake_provider.wire import WEBHOOK_GATEWAY_PATH
from campaign_dispatch.providers.registry import build_senders, build_webhook_handlers
from campaign_dispatch.statuses import Channel
from tests.harness import Process
from tests.pipeline_helpers import eventually
from tests.providers.conftest import (
    AT_TOKEN,
    SECRETS,
    TWILIO_SID,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    WHATSAPP_SECRET,
    serve_asgi,
)

PHONE = "+254711000111"
CONTENT_SID = "HX" + "0f" * 16
TEMPLATE = {
    "name": "order_update",
    "language": "en",
    "body_params": ["{first_name}", "{preferred_product|your order}"],
}


@dataclass(frozen=True)
class Case:
    provider: str  # the sender's name, as messages record it
    channel: str
    settings: dict[str, Any]  # besides the base URL, set from the fake's
    base_url_setting: str
    base_url_suffix: str = ""
    whatsapp_template: dict[str, Any] | None = None


CASES = {
    "africastalking": Case(
        "africastalking",
        "sms",
        {
            "sms_provider": "africastalking",
            "at_username": "sandbox",
            "at_api_key": "at-key",
            "at_callback_token": AT_TOKEN,
        },
        "at_base_url",
    ),
    "twilio-sms": Case(
        "twilio",
        "sms",
        {
            "sms_provider": "twilio",
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": TWILIO_TOKEN,
            "twilio_from": "+14155550999",
        },
        "twilio_base_url",
    ),
    "twilio-whatsapp-template": Case(
        "twilio",
        "whatsapp",
        {
            "whatsapp_provider": "twilio",
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": TWILIO_TOKEN,
            "twilio_from": "+14155550999",
        },
        "twilio_base_url",
        whatsapp_template=TEMPLATE | {"content_sid": CONTENT_SID},
    ),
    "whatsapp-cloud-template": Case(
        "whatsapp_cloud",
        "whatsapp",
        {
            "whatsapp_provider": "whatsapp_cloud",
            "whatsapp_token": "EAAG-token",
            "whatsapp_phone_number_id": "106540352242922",
            "whatsapp_app_secret": WHATSAPP_SECRET,
        },
        "whatsapp_base_url",
        "/v21.0",
        whatsapp_template=TEMPLATE,
    ),
    "gateway": Case(
        "webhook",
        "sms",
        {"sms_provider": "webhook", "webhook_provider_secret": WEBHOOK_SECRET},
        "webhook_provider_url",
        WEBHOOK_GATEWAY_PATH,
    ),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fake provider posts its receipts to the API served on 127.0.0.1.
    return settings.model_copy(update={"allowed_hosts": f"{settings.allowed_hosts},127.0.0.1"})


@pytest.fixture
async def api_url(runtime: Process) -> AsyncIterator[str]:
    async with serve_asgi(create_app(runtime.settings, runtime.resources)) as url:
        yield url


@pytest.fixture
async def provider(api_url: str) -> AsyncIterator[FakeProvider]:
    async with running_fake_provider(api_url, SECRETS, seed=3) as fake:
        fake.set_behaviour("*", delivery_delay_ms=0, delivery_rate=1.0)
        yield fake


def configure(runtime: Process, case: Case, api_url: str, fake: FakeProvider) -> None:
    """As the process would start with these environment variables."""
    runtime.settings = runtime.settings.model_copy(
        update={
            "public_base_url": api_url,
            case.base_url_setting: fake.base_url + case.base_url_suffix,
            **case.settings,
        }
    )
    mock = runtime.resources.senders[Channel.SMS]
    senders = build_senders(runtime.settings, mock)
    runtime.resources.senders.update(senders)  # in place: the worker holds this mapping
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)


def what_the_provider_got(case: Case, fake: FakeProvider) -> dict[str, Any]:
    """The request's recipient and content, as each wire format spells them."""
    [request] = fake.received(case.provider)
    assert request.method == "POST"
    if case.provider == "africastalking":
        form = request.form()
        return {"to": form["to"], "text": form["message"]}
    if case.provider == "twilio":
        form = request.form()
        if "ContentSid" in form:
            return {"to": form["To"], "template": (form["ContentSid"], form["ContentVariables"])}
        return {"to": form["To"], "text": form["Body"]}
    body = request.json()
    if case.provider == "whatsapp_cloud":
        template = body["template"]
        params = [p["text"] for p in template["components"][0]["parameters"]]
        return {"to": body["to"], "template": (template["name"], params)}
    return {"to": body["to"], "text": body["text"]}


EXPECTED = {
    "africastalking": {"to": PHONE, "text": "Hi Wanjiru, your tea is ready"},
    "twilio-sms": {"to": PHONE, "text": "Hi Wanjiru, your tea is ready"},
    "twilio-whatsapp-template": {
        "to": f"whatsapp:{PHONE}",
        "template": (CONTENT_SID, '{"1": "Wanjiru", "2": "tea"}'),
    },
    "whatsapp-cloud-template": {
        "to": PHONE,
        "template": ("order_update", ["Wanjiru", "tea"]),
    },
    "gateway": {"to": PHONE, "text": "Hi Wanjiru, your tea is ready"},
}


@pytest.mark.parametrize("name", list(CASES))
async def test_sent_through_the_adapter_and_delivered_by_its_receipt(
    name: str,
    client: httpx.AsyncClient,
    runtime: Process,
    api_url: str,
    provider: FakeProvider,
    make_customer,
    make_campaign,
):
    case = CASES[name]
    configure(runtime, case, api_url, provider)
    # Recovery too: it applies a receipt that came before the send's answer was recorded
    # (the fake answers receipts at once, so that race is common here).
    await runtime.start({Role.RELAY, Role.WORKER, Role.RECOVERY})
    customer = await make_customer(phone=PHONE, first_name="Wanjiru", preferred_product="tea")
    fields: dict[str, Any] = {"channel": case.channel}
    if case.whatsapp_template is not None:
        fields["whatsapp_template"] = case.whatsapp_template
    campaign = await make_campaign(
        base_template="Hi {first_name}, your {preferred_product} is ready", **fields
    )
    sent = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
    )
    assert sent.status_code == 202, sent.text

    async def delivered() -> dict[str, Any] | bool:
        body = (await client.get(f"/campaigns/{campaign['id']}")).json()
        return body["status"] == "sent" and body["stats"]["delivered"] == 1 and body

    # A receipt that came before the send's answer was recorded waits for the recovery
    # sweep, which runs every few seconds while anything is in flight.
    stats = (await eventually(delivered, timeout=20))["stats"]
    assert (stats["sent"], stats["undelivered"], stats["failed"]) == (1, 0, 0)

    assert what_the_provider_got(case, provider) == EXPECTED[name]
    [callback] = await provider.wait_for_callbacks(1)
    assert callback.status == 200  # the API verified and took it
    page = (await client.get(f"/campaigns/{campaign['id']}/messages")).json()
    [message] = page["data"]
    assert message["provider"] == case.provider
    assert message["status"] == "sent"
    assert message["delivery_status"] == "delivered"
    assert message["delivered_at"] is not None
    [request] = provider.received(case.provider)
    assert message["provider_message_id"]
    assert message["provider_message_id"] in request.answer.decode()  # the id it answered
    assert runtime.resources.senders[Channel(case.channel)].name == case.provider
