"""POST /campaigns/{id}/personalized-preview and POST /templates/preview."""

from typing import Any

import httpx
import pytest

from tests.api_helpers import assert_error

BASE = "Hi {first_name}, check out {preferred_product} in {location}!"


async def preview(
    client: httpx.AsyncClient, campaign_id: int, customer_id: int, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/campaigns/{campaign_id}/personalized-preview",
        json={"customer_id": customer_id, **extra},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def alice(make_customer):
    return await make_customer(
        first_name="Alice",
        last_name="Wanjiru",
        location="Nairobi",
        preferred_product="Running Shoes",
    )


@pytest.fixture
async def bob(make_customer):
    return await make_customer(
        first_name="Bob", last_name="Otieno", location="Mombasa", preferred_product="Winter Jacket"
    )


async def test_different_customers_render_differently(client, make_campaign, alice, bob):
    campaign = await make_campaign(base_template=BASE)

    for_alice = await preview(client, campaign["id"], alice["id"])
    for_bob = await preview(client, campaign["id"], bob["id"])

    assert for_alice["rendered_message"] == "Hi Alice, check out Running Shoes in Nairobi!"
    assert for_bob["rendered_message"] == "Hi Bob, check out Winter Jacket in Mombasa!"
    assert for_alice["used_template"] == BASE
    assert for_bob["used_template"] == BASE
    assert for_alice["customer"]["id"] == alice["id"]
    assert for_bob["customer"]["id"] == bob["id"]


async def test_response_shape(client, make_campaign, alice):
    campaign = await make_campaign(base_template=BASE)

    body = await preview(client, campaign["id"], alice["id"])

    assert body == {
        "rendered_message": "Hi Alice, check out Running Shoes in Nairobi!",
        "used_template": BASE,
        "customer": {
            "id": alice["id"],
            "phone": alice["phone"],
            "first_name": "Alice",
            "last_name": "Wanjiru",
            "location": "Nairobi",
            "preferred_product": "Running Shoes",
            "opted_out_at": None,
            "timezone": None,
            "created_at": alice["created_at"],
        },
        "characters": 45,
        "encoding": "GSM-7",
        "segments": 1,
    }


NULL_FIELD_CASES = [
    ("Hi {first_name} {last_name}!", "Hi Sam!"),
    ("Hi {first_name}, enjoy {preferred_product|our deals}!", "Hi Sam, enjoy our deals!"),
    ("{location} sale for {first_name}", "sale for Sam"),
    ("Hello {last_name}, welcome", "Hello, welcome"),
    ("{last_name}\nHi {first_name}", "Hi Sam"),
    ("Price: {{100}} for {first_name}", "Price: {100} for Sam"),
]


async def test_null_fields_render_per_the_engine_rules(client, make_campaign, make_customer):
    sam = await make_customer(first_name="Sam")  # last_name, location, product are null
    campaign = await make_campaign(base_template=BASE)

    for template, expected in NULL_FIELD_CASES:
        body = await preview(client, campaign["id"], sam["id"], override_template=template)

        assert body["rendered_message"] == expected, template
        assert "None" not in body["rendered_message"]
        assert "null" not in body["rendered_message"]
        assert body["customer"]["last_name"] is None
    stored = await preview(client, campaign["id"], sam["id"])
    assert stored["rendered_message"] == "Hi Sam, check out in!"


async def test_customer_values_are_never_substituted_again(client, make_campaign, make_customer):
    sneaky = await make_customer(first_name="{last_name}", last_name="{{secret}}")
    campaign = await make_campaign(base_template="Hi {first_name} {last_name}")

    body = await preview(client, campaign["id"], sneaky["id"])

    assert body["rendered_message"] == "Hi {last_name} {{secret}}"


async def test_override_template_is_used_and_reported(client, make_campaign, alice):
    campaign = await make_campaign(base_template=BASE)
    override = "Hi {first_name}, special offer just for you!"

    body = await preview(client, campaign["id"], alice["id"], override_template=override)

    assert body["rendered_message"] == "Hi Alice, special offer just for you!"
    assert body["used_template"] == override
    stored = (await client.get(f"/campaigns/{campaign['id']}")).json()
    assert stored["base_template"] == BASE


async def test_null_override_falls_back_to_base_template(client, make_campaign, alice):
    campaign = await make_campaign(base_template=BASE)

    body = await preview(client, campaign["id"], alice["id"], override_template=None)

    assert body["used_template"] == BASE
    assert body["rendered_message"] == "Hi Alice, check out Running Shoes in Nairobi!"


async def test_invalid_override_is_422_naming_it(client, make_campaign, alice):
    campaign = await make_campaign(base_template=BASE)

    for override, placeholder in (
        ("Hi {frist_name}", "{frist_name}"),
        ("Hi {first_name.__class__}", "{first_name.__class__}"),
        ("Hi {first_name", "{first_name"),
        ("{first_name[0]}", "{first_name[0]}"),
    ):
        response = await client.post(
            f"/campaigns/{campaign['id']}/personalized-preview",
            json={"customer_id": alice["id"], "override_template": override},
        )

        error = assert_error(response, 422, "INVALID_TEMPLATE")
        assert placeholder in error["message"], override
        assert [d["field"] for d in error["details"]] == ["override_template"], override


async def test_empty_override_is_a_validation_error(client, make_campaign, alice):
    campaign = await make_campaign(base_template=BASE)

    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview",
        json={"customer_id": alice["id"], "override_template": ""},
    )

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["override_template"]


async def test_unknown_customer_is_404(client, make_campaign):
    campaign = await make_campaign(base_template=BASE)

    response = await client.post(
        f"/campaigns/{campaign['id']}/personalized-preview", json={"customer_id": 424242}
    )

    error = assert_error(response, 404, "CUSTOMER_NOT_FOUND")
    assert error["message"] == "Customer with ID 424242 not found"


async def test_unknown_campaign_is_404(client, alice):
    response = await client.post(
        "/campaigns/999999/personalized-preview", json={"customer_id": alice["id"]}
    )

    error = assert_error(response, 404, "CAMPAIGN_NOT_FOUND")
    assert error["message"] == "Campaign with ID 999999 not found"


async def test_invalid_preview_requests(client, make_campaign):
    campaign = await make_campaign(base_template=BASE)

    for body, field in (
        ({}, "customer_id"),
        ({"customer_id": 0}, "customer_id"),
        ({"customer_id": "alice"}, "customer_id"),
        ({"customer_id": 2**63}, "customer_id"),
        ({"customer_id": 1, "template": "Hi"}, "template"),
    ):
        response = await client.post(f"/campaigns/{campaign['id']}/personalized-preview", json=body)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], body


LENGTH_CASES = [
    ("Ann", "Hi {first_name}", 6, "GSM-7", 1),
    ("Zoë", "Hi {first_name}", 6, "UCS-2", 1),
    ("Ann", "Hi {first_name} " + "x" * 154, 161, "GSM-7", 2),
    ("Ann", "Hi {first_name} " + "x" * 153, 160, "GSM-7", 1),
    ("Ann", "Hi {first_name} €" + "x" * 150, 158, "GSM-7", 1),
    ("Ann", "Hi {first_name} 😀" + "x" * 63, 71, "UCS-2", 2),
]


async def test_length_metadata(client, make_campaign, make_customer):
    campaign = await make_campaign(base_template=BASE)
    ann = await make_customer(first_name="Ann")
    zoe = await make_customer(first_name="Zoë")

    for first_name, template, characters, encoding, segments in LENGTH_CASES:
        customer = ann if first_name == "Ann" else zoe
        body = await preview(client, campaign["id"], customer["id"], override_template=template)

        assert (body["characters"], body["encoding"], body["segments"]) == (
            characters,
            encoding,
            segments,
        ), template


async def test_whatsapp_campaign_previews_too(client, make_campaign, alice):
    campaign = await make_campaign(channel="whatsapp", base_template="Hey {first_name} 👋")

    body = await preview(client, campaign["id"], alice["id"])

    assert body["rendered_message"] == "Hey Alice 👋"
    assert body["encoding"] == "UCS-2"


# --- POST /templates/preview ---------------------------------------------------------------


async def test_template_preview_renders_without_a_campaign(client, alice, bob):
    for customer, expected in (
        (alice, "Alice loves Running Shoes"),
        (bob, "Bob loves Winter Jacket"),
    ):
        response = await client.post(
            "/templates/preview",
            json={
                "template": "{first_name} loves {preferred_product}",
                "customer_id": customer["id"],
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rendered_message"] == expected
        assert body["used_template"] == "{first_name} loves {preferred_product}"
        assert body["customer"]["id"] == customer["id"]
        assert body["encoding"] == "GSM-7"
        assert body["segments"] == 1
        assert body["characters"] == len(expected)


async def test_template_preview_errors(client, alice):
    invalid = await client.post(
        "/templates/preview", json={"template": "Hi {frist_name}", "customer_id": alice["id"]}
    )
    unknown = await client.post("/templates/preview", json={"template": "Hi", "customer_id": 77777})
    missing = await client.post("/templates/preview", json={"customer_id": alice["id"]})

    error = assert_error(invalid, 422, "INVALID_TEMPLATE")
    assert "{frist_name}" in error["message"]
    assert [d["field"] for d in error["details"]] == ["template"]
    assert_error(unknown, 404, "CUSTOMER_NOT_FOUND")
    missing_error = assert_error(missing, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in missing_error["details"]] == ["template"]
