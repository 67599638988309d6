"""Previews report a rendering past its channel's bound as they report any template
problem: 422 INVALID_TEMPLATE naming the template field, the length and the bound; the
worker fails such a message for good on its first attempt."""

import pytest

from campaign_dispatch.background import Role
from campaign_dispatch.providers import MockSender
from tests.api_helpers import assert_error
from tests.pipeline_helpers import eventually, messages

LONG = "x" * 200  # the longest location a customer may have
NINE = "{location}" * 9  # renders to 1 800 characters: past an SMS, within a WhatsApp message


@pytest.fixture
async def wordy(make_customer):
    return await make_customer(location=LONG)


async def test_a_campaign_preview_past_the_sms_bound_is_invalid_template(
    client, make_campaign, wordy
):
    campaign = await make_campaign(channel="sms", base_template=NINE)
    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview", json={"customer_id": wordy["id"]}
    )
    error = assert_error(response, 422, "INVALID_TEMPLATE")
    assert "1800 characters" in error["message"]
    assert "at most 1600" in error["message"]
    assert error["details"] == [{"field": "base_template", "message": error["message"]}]


async def test_an_override_past_the_bound_names_the_override(client, make_campaign, wordy):
    campaign = await make_campaign(channel="sms", base_template="Hi")
    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview",
        json={"customer_id": wordy["id"], "override_template": NINE},
    )
    error = assert_error(response, 422, "INVALID_TEMPLATE")
    assert error["details"][0]["field"] == "override_template"


async def test_the_same_rendering_previews_on_whatsapp(client, make_campaign, wordy):
    campaign = await make_campaign(channel="whatsapp", base_template=NINE)
    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview", json={"customer_id": wordy["id"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["characters"] == 1800


async def test_whatsapp_has_its_own_bound(client, make_campaign, wordy):
    campaign = await make_campaign(channel="whatsapp", base_template="{location}" * 21)
    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview", json={"customer_id": wordy["id"]}
    )
    error = assert_error(response, 422, "INVALID_TEMPLATE")
    assert "4200 characters" in error["message"]
    assert "at most 4096" in error["message"]


async def test_a_template_preview_is_bounded_for_the_channel_it_names(client, wordy):
    body = {"template": NINE, "customer_id": wordy["id"]}
    as_sms = await client.post("/templates/preview", json=body)  # SMS unless told
    error = assert_error(as_sms, 422, "INVALID_TEMPLATE")
    assert error["details"] == [{"field": "template", "message": error["message"]}]
    assert "at most 1600" in error["message"]

    as_whatsapp = await client.post("/templates/preview", json={**body, "channel": "whatsapp"})
    assert as_whatsapp.status_code == 200, as_whatsapp.text
    assert len(as_whatsapp.json()["rendered_message"]) == 1800


async def test_the_worker_fails_an_over_long_message_at_once(
    client, runtime, make_campaign, make_customer, wordy
):
    """Past the bound a message fails on its first attempt (retrying cannot shorten it),
    while its campaign's other messages go out."""
    runtime.sender = MockSender(failure_rate=0.0)
    await runtime.start({Role.RELAY, Role.WORKER})
    short = await make_customer(location="Nairobi")
    campaign = await make_campaign(channel="sms", base_template=NINE)
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [wordy["id"], short["id"]]}
    )
    assert response.status_code == 202

    async def done():
        body = (await client.get(f"/campaigns/{campaign['id']}")).json()
        return body["status"] == "sent" and body

    body = await eventually(done)
    assert body["stats"] == {
        "total": 2,
        "pending": 0,
        "sending": 0,
        "sent": 1,
        "failed": 1,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }
    rows = {m.customer_id: m for m in await messages(runtime, campaign["id"])}
    failed = rows[wordy["id"]]
    assert failed.status == "failed"
    assert failed.retry_count == 0
    assert failed.last_error.startswith("template error: The rendered message is 1800 characters")
    assert failed.last_error.endswith("an SMS may be at most 1600")
    assert rows[short["id"]].rendered_content == "Nairobi" * 9
    assert runtime.sender.delivered == 1
