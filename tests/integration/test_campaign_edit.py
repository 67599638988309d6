"""PATCH and DELETE /campaigns/{id}: a draft or scheduled campaign can be changed or
deleted; once it has been sent, neither (409)."""

from datetime import UTC, datetime, timedelta

FUTURE = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _total(client, **filters):
    response = await client.get("/campaigns", params=filters)
    return response.json()["pagination"]["total_count"]


async def test_a_draft_changes_only_the_fields_given(client, make_campaign):
    campaign = await make_campaign(name="Old", base_template="Hi {first_name}")
    response = await client.patch(
        f"/campaigns/{campaign['id']}", json={"base_template": "Hello {first_name|there}!"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["base_template"], body["status"]) == (
        "Old",
        "Hello {first_name|there}!",
        "draft",
    )
    again = (await client.get(f"/campaigns/{campaign['id']}")).json()
    assert again["base_template"] == "Hello {first_name|there}!"


async def test_scheduling_and_unscheduling_move_between_draft_and_scheduled(client, make_campaign):
    campaign = await make_campaign()
    path = f"/campaigns/{campaign['id']}"
    scheduled = (await client.patch(path, json={"scheduled_at": FUTURE})).json()
    assert scheduled["status"] == "scheduled"
    assert scheduled["scheduled_at"] == FUTURE
    assert await _total(client, status="scheduled") == 1
    unscheduled = (await client.patch(path, json={"scheduled_at": None})).json()
    assert (unscheduled["status"], unscheduled["scheduled_at"]) == ("draft", None)
    assert await _total(client, status="scheduled") == 0


async def test_the_channel_change_moves_the_list_counts(client, make_campaign):
    campaign = await make_campaign(channel="sms")
    await client.patch(f"/campaigns/{campaign['id']}", json={"channel": "whatsapp"})
    assert await _total(client, channel="whatsapp") == 1
    assert await _total(client, channel="sms") == 0


async def test_the_audience_is_replaced_or_cleared(client, make_campaign, make_customer):
    a, b, c = [await make_customer() for _ in range(3)]
    campaign = await make_campaign(customer_ids=[a["id"], b["id"]])
    path = f"/campaigns/{campaign['id']}"
    replaced = (await client.patch(path, json={"customer_ids": [c["id"]]})).json()
    assert replaced["audience_size"] == 1
    missing = await client.patch(path, json={"customer_ids": [c["id"], 999_999]})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "CUSTOMERS_NOT_FOUND"
    assert (await client.get(path)).json()["audience_size"] == 1  # nothing changed
    cleared = (await client.patch(path, json={"customer_ids": None})).json()
    assert cleared["audience_size"] == 0


async def test_bad_changes_are_422_and_change_nothing(client, make_campaign):
    campaign = await make_campaign(name="Keep")
    path = f"/campaigns/{campaign['id']}"
    for body, code in [
        ({"base_template": "Hi {nope}"}, "INVALID_TEMPLATE"),
        ({"name": None}, "VALIDATION_ERROR"),
        ({"name": ""}, "VALIDATION_ERROR"),
        ({"channel": "fax"}, "VALIDATION_ERROR"),
        ({"status": "sent"}, "VALIDATION_ERROR"),  # not a field: status moves by actions
    ]:
        response = await client.patch(path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    assert (await client.get(path)).json()["name"] == "Keep"


async def test_a_sent_campaign_can_be_neither_changed_nor_deleted(
    client, make_campaign, make_customer
):
    customer = await make_customer()
    campaign = await make_campaign()
    path = f"/campaigns/{campaign['id']}"
    sent = await client.post(f"{path}/send", json={"customer_ids": [customer["id"]]})
    assert sent.status_code == 202
    patched = await client.patch(path, json={"name": "Too late"})
    assert patched.status_code == 409
    assert patched.json()["error"]["code"] == "CAMPAIGN_NOT_EDITABLE"
    deleted = await client.delete(path)
    assert deleted.status_code == 409
    assert deleted.json()["error"]["code"] == "CAMPAIGN_NOT_DELETABLE"
    assert (await client.get(path)).json()["name"] == "Campaign"


async def test_a_draft_or_scheduled_campaign_is_deleted(client, make_campaign, make_customer):
    customer = await make_customer()
    draft = await make_campaign(customer_ids=[customer["id"]])
    scheduled = await make_campaign(scheduled_at=FUTURE)
    before = await _total(client)
    for campaign in (draft, scheduled):
        response = await client.delete(f"/campaigns/{campaign['id']}")
        assert response.status_code == 204, response.text
        assert response.content == b""
        gone = await client.get(f"/campaigns/{campaign['id']}")
        assert gone.status_code == 404
    assert await _total(client) == before - 2
    # The customer in the deleted audience is still there.
    assert (await client.get(f"/customers/{customer['id']}")).status_code == 200


async def test_an_unknown_campaign_is_404(client):
    assert (await client.patch("/campaigns/999999", json={"name": "x"})).status_code == 404
    assert (await client.delete("/campaigns/999999")).status_code == 404
