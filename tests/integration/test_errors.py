"""Every error class leaves in the brief's envelope; operational endpoints answer."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.app import create_app
from campaign_dispatch.errors import ValidationFailed
from campaign_dispatch.services import campaigns as campaigns_service

VALID = {"name": "Sale", "channel": "sms", "base_template": "Hi {first_name}"}
MIB = 1024 * 1024


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    assert "detail" not in json.dumps(body).replace('"details"', "")
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    for detail in error.get("details", []):
        assert set(detail) <= {"field", "message"}
        assert isinstance(detail["message"], str)
    return dict(error)


async def test_unknown_route_is_404_not_found(client):
    for method, path in (
        ("GET", "/nope"),
        ("GET", "/campaigns/1/nope"),
        ("POST", "/nope"),
        ("DELETE", "/x/y"),
    ):
        response = await client.request(method, path)

        error = assert_envelope(response, 404, "NOT_FOUND")
        assert error["message"] == "No such route"


async def test_unknown_route_asked_for_html_is_still_the_envelope(client):
    response = await client.get("/nope", headers={"Accept": "text/html"})

    assert_envelope(response, 404, "NOT_FOUND")


WRONG_METHODS = [
    ("DELETE", "/campaigns", {"GET", "POST"}),
    ("PUT", "/campaigns/1", {"GET", "PATCH", "DELETE"}),
    ("GET", "/campaigns/1/personalized-preview", {"POST"}),
    ("PATCH", "/customers/1", {"GET"}),
    ("GET", "/templates/preview", {"POST"}),
]


async def test_wrong_method_is_405(client):
    for method, path, allowed in WRONG_METHODS:
        response = await client.request(method, path)

        assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
        # Starlette names the methods of the first route matching the path only.
        named = set(response.headers["allow"].replace(" ", "").split(","))
        assert named, path
        assert named <= allowed, path


async def test_malformed_json_is_422_malformed_json(client):
    for content in (b'{"name": ', b"{'name': 'x'}", b"not json", b'{"name": "x",}', b"\xff\xfe"):
        response = await client.post(
            "/campaigns", content=content, headers={"Content-Type": "application/json"}
        )

        error = assert_envelope(response, 422, "MALFORMED_JSON")
        assert error["message"] == "The request body is not valid JSON"


async def test_wrong_content_type_is_415(client):
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        None,
    ):
        headers = {"Content-Type": content_type} if content_type else {}

        response = await client.post("/campaigns", content=json.dumps(VALID), headers=headers)

        assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert (await client.get("/campaigns")).json()["pagination"]["total_count"] == 0


async def test_json_with_charset_and_json_suffix_are_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/campaigns", content=json.dumps(VALID), headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, (content_type, response.text)


async def test_chunked_body_with_wrong_content_type_is_415(client):
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(VALID).encode()

    response = await client.post(
        "/campaigns", content=body(), headers={"Content-Type": "text/plain"}
    )

    assert "content-length" not in response.request.headers
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_validation_error_lists_fields(client):
    response = await client.post("/campaigns", json={"name": "", "channel": "fax"})

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["name", "channel", "base_template"]
    assert error["message"].startswith("Invalid request: name: ")


async def test_validation_details_stop_at_100_and_the_message_names_the_total(client):
    for path in ("/campaigns", "/campaigns/1/send"):
        body = {**VALID, "customer_ids": [0] * 100_000}
        if path.endswith("/send"):
            body = {"customer_ids": [0] * 100_000}

        response = await client.post(path, json=body)

        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert len(error["details"]) == 100
        assert error["details"][0] == {
            "field": "customer_ids.0",
            "message": "Input should be greater than 0",
        }
        assert "100000 errors" in error["message"]
        assert "and 99900 more" in error["message"]
        assert len(response.content) < 50_000


async def test_all_details_are_shown_up_to_100_without_a_note(client):
    response = await client.post("/campaigns", json={**VALID, "customer_ids": [0] * 99})

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert len(error["details"]) == 99
    assert "more" not in error["message"]


async def test_unknown_customer_ids_list_100_details_and_name_the_total(client):
    unknown = list(range(1000, 1150))

    response = await client.post("/campaigns", json={**VALID, "customer_ids": unknown})

    error = assert_envelope(response, 422, "CUSTOMERS_NOT_FOUND")
    assert len(error["details"]) == 100
    assert error["details"][-1] == {"field": "customer_ids", "message": "customer 1099 not found"}
    assert error["message"] == (
        "150 customer id(s) do not exist: " + ", ".join(map(str, unknown[:20])) + " …and 130 more"
    )


def test_any_error_with_more_than_100_details_is_cut_to_100_with_a_note():
    details = [{"field": f"f{i}", "message": "bad"} for i in range(250)]

    response = error_response(ValidationFailed("Invalid", details=details))

    error = json.loads(bytes(response.body))["error"]
    assert error["details"] == details[:100]
    assert error["message"] == "Invalid …and 150 more"


async def test_huge_field_names_in_validation_errors_are_shortened(client):
    body = {**VALID, "x" * (1024 * 1024): 1}

    response = await client.post("/campaigns", json=body)

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"].startswith("xxx")
    assert len(response.content) < 5_000


async def test_query_validation_error_names_the_parameter(client):
    response = await client.get("/customers", params={"page_size": 500})

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["page_size"]


async def test_unknown_ids_are_404(client):
    for path, code, message in (
        ("/campaigns/424242", "CAMPAIGN_NOT_FOUND", "Campaign with ID 424242 not found"),
        ("/campaigns/424242/messages", "CAMPAIGN_NOT_FOUND", "Campaign with ID 424242 not found"),
        ("/customers/424242", "CUSTOMER_NOT_FOUND", "Customer with ID 424242 not found"),
    ):
        error = assert_envelope(await client.get(path), 404, code)

        assert error["message"] == message


# Every way to write an id other than its canonical decimal form, including spellings a
# loose integer parser reads as 1 ("1.0", "+1", " 1", "1_0", "01", a full-width digit).
NON_CANONICAL_IDS = [
    "abc",
    "1.5",
    "1.0",
    "+1",
    "%201",
    "1%20",
    "1_0",
    "01",
    "00",
    "%EF%BC%91",
    "0x1",
    "1e0",
    "-1",
    "0",
    str(2**63),
    "9" * 40,
]
ID_ROUTES = [
    ("GET", "/campaigns/{}", None, "campaign_id"),
    ("GET", "/campaigns/{}/messages", None, "campaign_id"),
    ("POST", "/campaigns/{}/personalized-preview", {"customer_id": 1}, "campaign_id"),
    ("POST", "/campaigns/{}/send", {"customer_ids": [1]}, "campaign_id"),
    ("GET", "/customers/{}", None, "customer_id"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), ID_ROUTES)
async def test_a_path_id_not_in_canonical_form_is_422_naming_the_parameter(
    client, make_customer, make_campaign, method, path, body, field
):
    assert (await make_customer())["id"] == 1
    assert (await make_campaign())["id"] == 1

    for spelled in NON_CANONICAL_IDS:
        response = await client.request(method, path.format(spelled), json=body)

        error = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], spelled
        assert error["message"].startswith(f"Invalid request: {field}: "), spelled
    assert (await client.get("/campaigns/1")).json()["status"] == "draft"
    canonical = await client.request(method, path.format(1), json=body)
    assert canonical.status_code < 300, canonical.text


async def test_the_largest_id_is_well_formed_and_simply_not_found(client):
    for path, code in (
        ("/campaigns/{}", "CAMPAIGN_NOT_FOUND"),
        ("/customers/{}", "CUSTOMER_NOT_FOUND"),
    ):
        assert_envelope(await client.get(path.format(2**63 - 1)), 404, code)


async def test_oversized_body_is_413(client, settings):
    assert settings.max_body_bytes == 5 * MIB
    body = {**VALID, "base_template": "x" * (6 * MIB)}

    response = await client.post("/campaigns", json=body)

    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(5 * MIB) in error["message"]
    assert (await client.get("/campaigns")).json()["pagination"]["total_count"] == 0


async def test_oversized_chunked_body_without_length_is_413(client):
    async def body() -> AsyncIterator[bytes]:
        yield b'{"name": "Sale", "channel": "sms", "base_template": "'
        for _ in range(6):
            yield b"x" * MIB
        yield b'"}'

    response = await client.post(
        "/campaigns", content=body(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


@pytest.fixture
async def small_limits(settings, runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Bodies up to 64 KiB, the CSV import up to 1 MiB."""
    limits = {"max_body_bytes": 64 * 1024, "max_import_bytes": MIB}
    app = create_app(settings.model_copy(update=limits), runtime.resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def csv_upload(size: int) -> dict[str, Any]:
    rows = b"".join(b"+2547%08d,Name\n" % i for i in range(size // 19 + 1))
    content = (b"phone,first_name\n" + rows)[:size]
    assert len(content) == size
    return {"file": ("customers.csv", content, "text/csv")}


async def test_the_import_may_exceed_the_body_limit_up_to_the_import_limit(small_limits):
    response = await small_limits.post("/customers/import", files=csv_upload(MIB - 4096))

    assert response.status_code == 200, response.text
    assert response.json()["created"] > 50_000


async def test_an_upload_over_the_import_limit_is_413(small_limits):
    response = await small_limits.post("/customers/import", files=csv_upload(MIB + 1))

    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(MIB) in error["message"]


async def test_the_import_limit_applies_to_the_import_only(small_limits):
    body = {**VALID, "base_template": "x" * (100 * 1024)}
    for path in ("/campaigns", "/templates/preview", "/customers/import/x", "/customers"):
        response = await small_limits.post(path, json=body)

        error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
        assert str(64 * 1024) in error["message"], path


async def test_the_import_limit_defaults_to_32_mib(client, settings):
    assert settings.max_import_bytes == 32 * MIB
    files = {"file": ("big.csv", b"phone\n" + b"+254700000000\n" * (2_500_000), "text/csv")}

    response = await client.post("/customers/import", files=files)

    error = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(32 * MIB) in error["message"]


async def test_body_just_under_the_limit_is_accepted_by_the_limiter(client):
    body = {**VALID, "name": "n" * (4 * MIB)}

    response = await client.post("/campaigns", json=body)

    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["name"]


async def test_unexpected_exception_is_500_without_leaking(client, make_campaign, monkeypatch):
    campaign = await make_campaign()

    async def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret database password in traceback")

    monkeypatch.setattr(campaigns_service, "detail", explode)
    response = await client.get(f"/campaigns/{campaign['id']}")

    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert error == {"code": "INTERNAL_ERROR", "message": "An unexpected error occurred"}
    assert "secret" not in response.text


async def test_openapi_documents_the_envelope_free_of_default_shapes(client):
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "Campaign Dispatch"
    for path in (
        "/campaigns",
        "/campaigns/{campaign_id}",
        "/campaigns/{campaign_id}/personalized-preview",
        "/campaigns/{campaign_id}/messages",
        "/customers",
        "/customers/{customer_id}",
        "/customers/import",
        "/templates/preview",
        "/health",
        "/ready",
    ):
        assert path in spec["paths"], path


async def test_docs_are_served(client):
    response = await client.get("/docs", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


async def test_health(client):
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_its_checks(client):
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}


# --- with a built dashboard ------------------------------------------------------------------


@pytest.fixture
async def dashboard_client(settings, runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>dashboard</title>")
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    (dist / "favicon.svg").write_text("<svg/>")
    app = create_app(settings.model_copy(update={"web_dist_dir": dist}), runtime.resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_dashboard_serves_pages_and_assets_beside_the_api(dashboard_client):
    page = await dashboard_client.get("/campaigns/3", headers={"Accept": "text/html"})
    api = await dashboard_client.get("/campaigns", headers={"Accept": "application/json"})
    asset = await dashboard_client.get("/assets/app.js")
    icon = await dashboard_client.get("/favicon.svg")

    assert page.status_code == 200
    assert "<title>dashboard</title>" in page.text
    assert api.status_code == 200
    assert api.json()["data"] == []
    assert asset.text == "console.log('hi')"
    assert icon.text == "<svg/>"


async def test_operator_endpoints_answer_json_to_a_browser(dashboard_client):
    for path in ("/health", "/ready", "/openapi.json"):
        response = await dashboard_client.get(path, headers={"Accept": "text/html,*/*"})

        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json", path
    docs = await dashboard_client.get("/docs", headers={"Accept": "text/html"})
    assert "<title>dashboard</title>" not in docs.text


async def test_missing_dashboard_asset_is_404_envelope(dashboard_client):
    for path in ("/assets/missing.js", "/assets/../index.html", "/assets/"):
        response = await dashboard_client.get(path)

        assert_envelope(response, 404, "NOT_FOUND")
