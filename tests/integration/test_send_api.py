"""POST /campaigns/{id}/send: validation, state rules, all-or-nothing, idempotency, races."""

import asyncio

import pytest

from tests.pipeline_helpers import messages


async def test_send_queues_one_pending_message_per_customer(
    client, runtime, make_customer, make_campaign
):
    customers = [await make_customer(first_name=f"C{i}") for i in range(3)]
    campaign = await make_campaign()
    ids = [c["id"] for c in customers]

    response = await client.post(f"/campaigns/{campaign['id']}/send", json={"customer_ids": ids})

    assert response.status_code == 202
    assert response.json() == {
        "campaign_id": campaign["id"],
        "messages_queued": 3,
        "status": "sending",
        "skipped_opted_out": 0,
    }
    rows = await messages(runtime, campaign["id"])
    assert sorted(m.customer_id for m in rows) == sorted(ids)
    assert {m.status for m in rows} == {"pending"}
    assert {m.retry_count for m in rows} == {0}
    detail = (await client.get(f"/campaigns/{campaign['id']}")).json()
    assert detail["status"] == "sending"
    assert detail["stats"] == {
        "total": 3,
        "pending": 3,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }


async def test_duplicate_ids_are_sent_once(client, runtime, make_customer, make_campaign):
    customer = await make_customer()
    campaign = await make_campaign()
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]] * 3}
    )
    assert response.status_code == 202
    assert response.json()["messages_queued"] == 1
    assert len(await messages(runtime, campaign["id"])) == 1


async def test_unknown_customers_reject_the_whole_send(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign()
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"], 9991, 9992]}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "CUSTOMERS_NOT_FOUND"
    assert "9991" in error["message"] and "9992" in error["message"]
    assert await messages(runtime, campaign["id"]) == []
    assert (await client.get(f"/campaigns/{campaign['id']}")).json()["status"] == "draft"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"customer_ids": []},
        {"customer_ids": [0]},
        {"customer_ids": [-1]},
        {"customer_ids": ["x"]},
        {"customer_ids": [1], "extra": 1},
    ],
)
async def test_invalid_send_bodies_are_422(client, make_campaign, body):
    campaign = await make_campaign()
    response = await client.post(f"/campaigns/{campaign['id']}/send", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_too_many_ids_is_422(client, make_campaign):
    campaign = await make_campaign()
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": list(range(1, 100_002))}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_campaign_is_404(client, make_customer):
    customer = await make_customer()
    response = await client.post("/campaigns/424242/send", json={"customer_ids": [customer["id"]]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "CAMPAIGN_NOT_FOUND"


async def test_second_send_is_409_and_creates_nothing(
    client, runtime, make_customer, make_campaign
):
    first, second = await make_customer(), await make_customer()
    campaign = await make_campaign()
    url = f"/campaigns/{campaign['id']}/send"
    assert (await client.post(url, json={"customer_ids": [first["id"]]})).status_code == 202

    response = await client.post(url, json={"customer_ids": [second["id"]]})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CAMPAIGN_NOT_SENDABLE"
    assert [m.customer_id for m in await messages(runtime, campaign["id"])] == [first["id"]]


async def test_scheduled_campaign_can_be_sent_at_once(client, make_customer, make_campaign):
    customer = await make_customer()
    campaign = await make_campaign(scheduled_at="2999-01-01T00:00:00Z")
    assert campaign["status"] == "scheduled"
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
    )
    assert response.status_code == 202


async def test_send_without_ids_uses_the_stored_audience(
    client, runtime, make_customer, make_campaign
):
    audience = [await make_customer(), await make_customer()]
    campaign = await make_campaign(customer_ids=[c["id"] for c in audience])
    response = await client.post(f"/campaigns/{campaign['id']}/send", json={})
    assert response.status_code == 202
    assert response.json()["messages_queued"] == 2
    no_audience = await make_campaign()
    response = await client.post(f"/campaigns/{no_audience['id']}/send", json={})
    assert response.status_code == 422


async def test_idempotency_key_replays_the_first_response(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign()
    url = f"/campaigns/{campaign['id']}/send"
    headers = {"Idempotency-Key": "retry-me-1"}
    body = {"customer_ids": [customer["id"]]}

    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert len(await messages(runtime, campaign["id"])) == 1
    other = await client.post(
        url, json={"customer_ids": [customer["id"], customer["id"] + 1]}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    without_key = await client.post(url, json=body)
    assert without_key.status_code == 409


async def test_concurrent_sends_create_each_message_once(
    client, runtime, make_customer, make_campaign
):
    customers = [await make_customer() for _ in range(20)]
    campaign = await make_campaign()
    url = f"/campaigns/{campaign['id']}/send"
    body = {"customer_ids": [c["id"] for c in customers]}

    responses = await asyncio.gather(*(client.post(url, json=body) for _ in range(6)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 409, 409, 409, 409, 409]
    rows = await messages(runtime, campaign["id"])
    assert len(rows) == 20
    assert len({m.customer_id for m in rows}) == 20


async def test_concurrent_retries_with_one_key_all_get_the_same_answer(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign()
    url = f"/campaigns/{campaign['id']}/send"
    responses = await asyncio.gather(
        *(
            client.post(
                url, json={"customer_ids": [customer["id"]]}, headers={"Idempotency-Key": "k"}
            )
            for _ in range(4)
        )
    )
    assert [r.status_code for r in responses] == [202] * 4
    assert len({r.text for r in responses}) == 1
    assert len(await messages(runtime, campaign["id"])) == 1
