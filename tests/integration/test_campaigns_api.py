"""POST /campaigns and GET /campaigns/{id}: statuses, audience, templates, validation, shape."""

from datetime import UTC, datetime, timedelta

import httpx

from campaign_dispatch.models import Customer, OutboundMessage
from tests.api_helpers import assert_error
from tests.harness import Process

BRIEF_DETAIL_KEYS = {
    "id",
    "name",
    "channel",
    "status",
    "base_template",
    "scheduled_at",
    "created_at",
    "stats",
}
VALID = {"name": "Summer Sale 2025", "channel": "sms", "base_template": "Hi {first_name}!"}


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def campaign_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/campaigns")
    assert response.status_code == 200
    return int(response.json()["pagination"]["total_count"])


async def test_create_returns_201_location_and_a_draft(client):
    response = await client.post("/campaigns", json=VALID)

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/campaigns/{body['id']}"
    assert isinstance(body["id"], int)
    assert set(body) >= BRIEF_DETAIL_KEYS
    assert body["name"] == "Summer Sale 2025"
    assert body["channel"] == "sms"
    assert body["status"] == "draft"
    assert body["base_template"] == "Hi {first_name}!"
    assert body["scheduled_at"] is None
    assert body["audience_size"] == 0
    assert body["stats"] == {
        "total": 0,
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }
    created = datetime.fromisoformat(body["created_at"].removesuffix("Z")).replace(tzinfo=UTC)
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


async def test_get_matches_create_and_has_the_brief_shape(client):
    created = (await client.post("/campaigns", json={**VALID, "channel": "whatsapp"})).json()

    response = await client.get(f"/campaigns/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    assert body == created
    assert set(body) >= BRIEF_DETAIL_KEYS
    assert set(body["stats"]) == {
        "total",
        "pending",
        "sending",
        "sent",
        "failed",
        "cancelled",
        "delivered",
        "undelivered",
    }
    assert body["channel"] == "whatsapp"


async def test_future_scheduled_at_makes_it_scheduled(client):
    when = datetime.now(UTC) + timedelta(days=2)

    response = await client.post("/campaigns", json={**VALID, "scheduled_at": iso_z(when)})

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "scheduled"
    assert response.json()["scheduled_at"] == iso_z(when)


async def test_scheduled_at_with_offset_is_stored_as_utc(client):
    response = await client.post(
        "/campaigns", json={**VALID, "scheduled_at": "2099-06-01T13:00:00+03:00"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["scheduled_at"] == "2099-06-01T10:00:00Z"
    assert response.json()["status"] == "scheduled"


async def test_past_scheduled_at_stays_draft(client):
    response = await client.post(
        "/campaigns", json={**VALID, "scheduled_at": "2020-01-01T08:00:00Z"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["status"] == "draft"
    assert response.json()["scheduled_at"] == "2020-01-01T08:00:00Z"


async def test_audience_is_stored_deduplicated(client, make_customer):
    first = await make_customer()
    second = await make_customer()

    response = await client.post(
        "/campaigns", json={**VALID, "customer_ids": [second["id"], first["id"], second["id"]]}
    )

    assert response.status_code == 201, response.text
    assert response.json()["audience_size"] == 2
    fetched = await client.get(f"/campaigns/{response.json()['id']}")
    assert fetched.json()["audience_size"] == 2


async def test_unknown_audience_ids_are_named_and_nothing_is_created(client, make_customer):
    known = await make_customer()

    response = await client.post(
        "/campaigns", json={**VALID, "customer_ids": [known["id"], 987654, 987655]}
    )

    error = assert_error(response, 422, "CUSTOMERS_NOT_FOUND")
    assert "987654" in error["message"]
    assert "987655" in error["message"]
    assert str(known["id"]) not in error["message"].split(":")[-1].split(", ")
    assert error["details"] == [
        {"field": "customer_ids", "message": "customer 987654 not found"},
        {"field": "customer_ids", "message": "customer 987655 not found"},
    ]
    assert await campaign_count(client) == 0


INVALID_TEMPLATES = [
    ("Hi {frist_name}!", "{frist_name}"),
    ("Hi {first_name.__class__}", "{first_name.__class__}"),
    ("Hi {first_name", "{first_name"),
    ("Hi {0}", "{0}"),
    ("Hi {first_name!r}", "{first_name!r}"),
    ("Hi {first_name:>9}", "{first_name:>9}"),
    ("Hi {}", "{}"),
    ("Hi }", "}"),
]


async def test_invalid_templates_are_rejected_naming_the_placeholder(client):
    for template, placeholder in INVALID_TEMPLATES:
        response = await client.post("/campaigns", json={**VALID, "base_template": template})

        error = assert_error(response, 422, "INVALID_TEMPLATE")
        assert placeholder in error["message"], template
        assert [d["field"] for d in error["details"]] == ["base_template"], template
        assert placeholder in error["details"][0]["message"], template
    assert await campaign_count(client) == 0


async def test_overlong_template_is_rejected(client):
    response = await client.post("/campaigns", json={**VALID, "base_template": "x" * 1601})

    error = assert_error(response, 422, "INVALID_TEMPLATE")
    assert error["details"][0]["field"] == "base_template"


INVALID_FIELDS = [
    ({"name": None}, "name"),
    ({"channel": None}, "channel"),
    ({"base_template": None}, "base_template"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"base_template": ""}, "base_template"),
    ({"channel": "fax"}, "channel"),
    ({"channel": "SMS"}, "channel"),
    ({"channel": ""}, "channel"),
    ({"scheduled_at": "next tuesday"}, "scheduled_at"),
    ({"customer_ids": []}, "customer_ids"),
    ({"customer_ids": [0]}, "customer_ids.0"),
    ({"customer_ids": [-3]}, "customer_ids.0"),
    ({"customer_ids": ["one"]}, "customer_ids.0"),
    ({"customer_ids": 5}, "customer_ids"),
    ({"customer_ids": [2**63]}, "customer_ids.0"),
    ({"status": "sent"}, "status"),
    ({"priority": "high"}, "priority"),
]


async def test_invalid_fields_are_rejected(client):
    for change, field in INVALID_FIELDS:
        body = {k: v for k, v in {**VALID, **change}.items() if v is not None}

        response = await client.post("/campaigns", json=body)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], (change, error)
    assert await campaign_count(client) == 0


async def test_non_object_bodies_are_rejected(client):
    for body in ([], "campaign", 42, None):
        response = await client.post("/campaigns", json=body)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["body"], body


async def test_empty_body_is_rejected(client):
    response = await client.post("/campaigns", json={})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"name", "channel", "base_template"}


async def insert_messages(runtime: Process, campaign_id: int, statuses: list[str]) -> None:
    async with runtime.sessions() as session, session.begin():
        customers = [Customer(phone=f"+2547300{i:05d}") for i in range(len(statuses))]
        session.add_all(customers)
        await session.flush()
        session.add_all(
            OutboundMessage(campaign_id=campaign_id, customer_id=customer.id, status=status)
            for customer, status in zip(customers, statuses, strict=True)
        )


async def test_stats_count_messages_by_status(client, runtime, make_campaign):
    campaign = await make_campaign()
    other = await make_campaign()
    await insert_messages(
        runtime,
        campaign["id"],
        ["pending", "pending", "sending", "sent", "sent", "sent", "failed"],
    )

    body = (await client.get(f"/campaigns/{campaign['id']}")).json()
    other_body = (await client.get(f"/campaigns/{other['id']}")).json()

    assert body["stats"] == {
        "total": 7,
        "pending": 2,
        "sending": 1,
        "sent": 3,
        "failed": 1,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }
    assert other_body["stats"] == {
        "total": 0,
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }


async def test_unknown_campaign_is_404(client):
    for campaign_id in ("999999", str(2**63 - 1)):
        response = await client.get(f"/campaigns/{campaign_id}")

        error = assert_error(response, 404, "CAMPAIGN_NOT_FOUND")
        assert error["message"] == f"Campaign with ID {campaign_id} not found"


async def test_a_campaign_id_that_is_no_positive_64_bit_integer_is_422(client):
    for campaign_id in ("abc", "1.5", "1e3", "0", "-1", str(2**63), str(10**30)):
        response = await client.get(f"/campaigns/{campaign_id}")

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["campaign_id"], campaign_id


async def test_list_shows_created_campaign_summary(client, make_campaign):
    campaign = await make_campaign(name="Listed", channel="whatsapp")

    body = (await client.get("/campaigns")).json()

    assert len(body["data"]) == 1
    item = body["data"][0]
    assert item["id"] == campaign["id"]
    assert item["name"] == "Listed"
    assert item["channel"] == "whatsapp"
    assert item["status"] == "draft"
    assert item["created_at"] == campaign["created_at"]
    assert body["pagination"]["total_count"] == 1
    assert body["pagination"]["total_pages"] == 1
