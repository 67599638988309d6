"""Audiences by segment: a send (or a stored, scheduled audience) to every customer or to
those matching fields, set-based, on SQLite and PostgreSQL."""

from sqlalchemy import select

from campaign_dispatch.models import OutboundMessage
from tests.api_helpers import assert_error
from tests.integration.test_scheduler import make_due, scheduler_for, status_of

FUTURE = "2099-01-01T08:00:00Z"


async def people(make_customer):
    rows = [
        ("Nairobi", "Running Shoes"),
        ("nairobi", "running shoes"),
        ("NAIROBI", "Backpack"),
        ("Mombasa", "Running Shoes"),
        (None, None),
    ]
    return [
        await make_customer(location=location, preferred_product=product)
        for location, product in rows
    ]


async def recipients(runtime, campaign_id):
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage.customer_id).where(OutboundMessage.campaign_id == campaign_id)
        )
        return sorted(rows.all())


async def send(client, campaign_id, body):
    return await client.post(f"/campaigns/{campaign_id}/send", json=body)


async def test_an_empty_segment_is_every_customer(client, runtime, make_customer, make_campaign):
    everyone = await people(make_customer)
    campaign = await make_campaign()
    response = await send(client, campaign["id"], {"segment": {}})
    assert response.status_code == 202, response.text
    assert response.json() == {
        "campaign_id": campaign["id"],
        "messages_queued": 5,
        "status": "sending",
        "skipped_opted_out": 0,
    }
    assert await recipients(runtime, campaign["id"]) == sorted(c["id"] for c in everyone)


async def test_every_given_field_must_match_ignoring_case(
    client, runtime, make_customer, make_campaign
):
    a, b, c, _, _ = await people(make_customer)
    by_location = await make_campaign()
    response = await send(client, by_location["id"], {"segment": {"location": "Nairobi"}})
    assert response.json()["messages_queued"] == 3
    assert await recipients(runtime, by_location["id"]) == sorted([a["id"], b["id"], c["id"]])

    both = await make_campaign()
    segment = {"location": "nairobi", "preferred_product": "RUNNING SHOES"}
    assert (await send(client, both["id"], {"segment": segment})).json()["messages_queued"] == 2
    assert await recipients(runtime, both["id"]) == sorted([a["id"], b["id"]])

    nobody = await make_campaign()
    response = await send(client, nobody["id"], {"segment": {"location": "Kisumu"}})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "segment", "message": "matches no customer"}]
    body = (await client.get(f"/campaigns/{nobody['id']}")).json()
    assert (body["status"], body["stats"]["total"]) == ("draft", 0)  # nothing changed


async def test_segment_and_customer_ids_together_are_422(client, make_customer, make_campaign):
    customer = await make_customer()
    campaign = await make_campaign()
    both = {"segment": {}, "customer_ids": [customer["id"]]}
    error = assert_error(await send(client, campaign["id"], both), 422, "VALIDATION_ERROR")
    assert "not both" in str(error["details"])
    create = await client.post(
        "/campaigns",
        json={"name": "x", "channel": "sms", "base_template": "Hi", **both},
    )
    assert_error(create, 422, "VALIDATION_ERROR")
    unknown = await send(client, campaign["id"], {"segment": {"city": "Nairobi"}})
    assert_error(unknown, 422, "VALIDATION_ERROR")
    blank = await send(client, campaign["id"], {"segment": {"location": "  "}})
    assert_error(blank, 422, "VALIDATION_ERROR")


async def test_a_stored_segment_is_resolved_when_sent(
    client, runtime, make_customer, make_campaign
):
    campaign = await make_campaign(segment={"location": "Mombasa"})
    assert campaign["segment"] == {"location": "Mombasa", "preferred_product": None}
    assert campaign["audience_size"] == 0
    joined_later = await make_customer(location="mombasa")
    response = await send(client, campaign["id"], {})
    assert response.status_code == 202, response.text
    assert await recipients(runtime, campaign["id"]) == [joined_later["id"]]


async def test_a_scheduled_segment_campaign_is_released_to_its_segment(
    client, runtime, make_customer, make_campaign
):
    await people(make_customer)
    campaign = await make_campaign(scheduled_at=FUTURE, segment={"preferred_product": "backpack"})
    assert campaign["status"] == "scheduled"
    await make_due(runtime, campaign["id"])
    assert await scheduler_for(runtime.resources.database).release_due() == [campaign["id"]]
    assert await status_of(runtime, campaign["id"]) == "sending"
    assert len(await recipients(runtime, campaign["id"])) == 1


async def test_editing_one_kind_of_audience_replaces_the_other(
    client, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign(customer_ids=[customer["id"]])
    path = f"/campaigns/{campaign['id']}"
    as_segment = (await client.patch(path, json={"segment": {"location": "Nairobi"}})).json()
    assert (as_segment["audience_size"], as_segment["segment"]["location"]) == (0, "Nairobi")
    as_ids = (await client.patch(path, json={"customer_ids": [customer["id"]]})).json()
    assert (as_ids["audience_size"], as_ids["segment"]) == (1, None)
    cleared = (await client.patch(path, json={"customer_ids": None})).json()
    assert (cleared["audience_size"], cleared["segment"]) == (0, None)
    refused = await send(client, campaign["id"], {})
    assert_error(refused, 422, "VALIDATION_ERROR")
