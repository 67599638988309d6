"""What schemathesis (tests/contract/) found, each pinned by a focused test.

1. A 405's Allow header named the methods of the first route matching the path only:
   `OPTIONS /campaigns` said `Allow: POST`, hiding GET.
2. `/customers/import` was also matched by `/customers/{customer_id}`: `GET
   /customers/import` was a 422 about a customer id, not the 405 of the import route.
3. A wrong method with a non-JSON body was a 415 (the content-type check ran before
   routing) instead of the router's 405.
4. A JSON body that is not UTF-8 was an undocumented 400 BAD_REQUEST; a multipart body
   without a boundary too.
5. Ids in JSON bodies were parsed leniently: `true` previewed customer 1, "1" and 1.0
   were taken as 1.
6. `scheduled_at` took numbers as Unix times (`0` created a campaign scheduled at 1970).
7. The 413 and 415 that the body limits answer on every operation with a body were
   documented on the CSV import only.
"""

from typing import Any

import httpx
import pytest

from campaign_dispatch.app import create_app
from tests.api_helpers import assert_error

VALID = {"name": "Sale", "channel": "sms", "base_template": "Hi {first_name}"}


def allowed(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize(
    ("method", "path", "methods"),
    [
        ("OPTIONS", "/campaigns", {"GET", "POST"}),
        ("DELETE", "/campaigns", {"GET", "POST"}),
        ("PUT", "/customers", {"GET", "POST"}),
        ("PUT", "/campaigns/1", {"GET", "PATCH", "DELETE"}),
        ("GET", "/campaigns/1/send", {"POST"}),
        ("OPTIONS", "/customers/import", {"POST"}),
    ],
)
async def test_a_405_allows_every_method_of_the_path(client, method, path, methods):
    response = await client.request(method, path)

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert allowed(response) == methods


async def test_customers_import_is_the_import_route_for_every_method(client, make_customer):
    customer = await make_customer()

    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, "/customers/import")

        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert allowed(response) == {"POST"}
    # Every other segment is still a customer id, canonical or not.
    assert (await client.get(f"/customers/{customer['id']}")).status_code == 200
    assert_error(await client.get("/customers/importer"), 422, "VALIDATION_ERROR")
    assert_error(await client.get("/customers/01"), 422, "VALIDATION_ERROR")
    assert_error(await client.get("/customers/import/1"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("PUT", "/customers/import", "multipart/form-data; boundary=x"),
        ("PATCH", "/campaigns", "text/plain"),
        ("PUT", "/campaigns/1/send", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_wrong_method_with_a_body_is_405_whatever_its_type(
    client, method, path, content_type
):
    response = await client.request(
        method, path, content=b"--x--\r\n", headers={"Content-Type": content_type}
    )

    assert_error(response, 405, "METHOD_NOT_ALLOWED")


async def test_the_right_method_with_the_wrong_type_is_still_415(client):
    for path, content_type in (
        ("/campaigns", "text/plain"),
        ("/customers/import", "application/json"),
        ("/campaigns/1/send", "multipart/form-data; boundary=x"),
    ):
        response = await client.post(path, content=b"{}", headers={"Content-Type": content_type})

        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    "content",
    [
        b'{"template": "\xff\xfe\xfa", "customer_id": 1}',  # not UTF-8
        b"\x1e*\xb7\xe8R$\xe8i",
        b"[" * 100_000,  # deeper than the parser recurses
    ],
)
async def test_a_json_body_json_cannot_decode_is_422_malformed_json(client, content):
    response = await client.post(
        "/templates/preview", content=content, headers={"Content-Type": "application/json"}
    )

    error = assert_error(response, 422, "MALFORMED_JSON")
    assert error["message"] == "The request body is not valid JSON"


async def test_a_form_that_cannot_be_parsed_is_422(client):
    response = await client.post(
        "/customers/import", content=b"", headers={"Content-Type": "multipart/form-data"}
    )

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "boundary" in error["message"]
    assert error["details"][0]["field"] == "body"


@pytest.mark.parametrize("bad_id", [True, "1", 1.0, "0x1"])
async def test_ids_in_json_bodies_are_json_integers(client, make_customer, bad_id):
    customer = await make_customer()
    assert customer["id"] == 1
    campaign = (await client.post("/campaigns", json=VALID)).json()

    requests: list[tuple[str, dict[str, Any], str]] = [
        ("/templates/preview", {"template": "Hi", "customer_id": bad_id}, "customer_id"),
        (
            f"/campaigns/{campaign['id']}/personalized-preview",
            {"customer_id": bad_id},
            "customer_id",
        ),
        (f"/campaigns/{campaign['id']}/send", {"customer_ids": [bad_id]}, "customer_ids.0"),
        ("/campaigns", {**VALID, "customer_ids": [bad_id]}, "customer_ids.0"),
    ]
    for path, body, field in requests:
        response = await client.post(path, json=body)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], path
    after = (await client.get(f"/campaigns/{campaign['id']}")).json()
    assert after["status"] == "draft"
    assert after["stats"]["total"] == 0
    assert (await client.get("/campaigns")).json()["pagination"]["total_count"] == 1


@pytest.mark.parametrize(
    "scheduled_at", [0, 1_700_000_000, 1.7e9, True, "1700000000", "2030-01-31", "tomorrow"]
)
async def test_scheduled_at_is_a_date_time_string_only(client, scheduled_at):
    response = await client.post("/campaigns", json={**VALID, "scheduled_at": scheduled_at})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["scheduled_at"]
    assert (await client.get("/campaigns")).json()["pagination"]["total_count"] == 0


@pytest.mark.parametrize(
    ("scheduled_at", "stored"),
    [
        ("2099-01-31T09:00:00Z", "2099-01-31T09:00:00Z"),
        ("2099-01-31 09:00:00", "2099-01-31T09:00:00Z"),
        ("2099-01-31T12:00:00+03:00", "2099-01-31T09:00:00Z"),
        ("2099-01-31T09:00Z", "2099-01-31T09:00:00Z"),
    ],
)
async def test_iso_date_times_are_still_accepted(client, scheduled_at, stored):
    response = await client.post("/campaigns", json={**VALID, "scheduled_at": scheduled_at})

    assert response.status_code == 201, response.text
    assert response.json()["scheduled_at"] == stored
    assert response.json()["status"] == "scheduled"


async def test_every_operation_with_a_body_documents_the_413_and_415_it_answers(client, settings):
    document = create_app(settings).openapi()
    operations = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(operations) == 8  # pause's body is optional, and documented as the others
    for method, path, operation in operations:
        assert {"413", "415"} <= set(operation["responses"]), path
        for status in ("413", "415"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, path
        url = path.replace("{campaign_id}", "1")
        json_route = "application/json" in operation["requestBody"]["content"]
        wrong_type = "text/plain" if json_route else "application/json"

        response = await client.request(
            method, url, content=b"{}", headers={"Content-Type": wrong_type}
        )
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")

        if json_route:  # the import's own limit is 32 MiB; its 413 has its own tests
            too_large = b"[" + b"1," * (settings.max_body_bytes // 2) + b"1]"
            response = await client.request(
                method, url, content=too_large, headers={"Content-Type": "application/json"}
            )
            assert_error(response, 413, "PAYLOAD_TOO_LARGE")
