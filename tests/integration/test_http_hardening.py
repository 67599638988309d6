"""What keeps a browser from being turned against the API: security headers on every
response, the Host check (ALLOWED_HOSTS) and the refusal of cross-site writes."""

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign_dispatch.api.hosts import host_name
from campaign_dispatch.app import create_app
from campaign_dispatch.config import Settings
from tests.api_helpers import assert_error

KEY = "k-test-0123456789"
CSV = b"phone,first_name\n+254700000001,Amina\n"

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
CSP_DIRECTIVES = (
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def directives(response: httpx.Response) -> set[str]:
    policy = response.headers.get("content-security-policy", "")
    return {d.strip() for d in policy.split(";") if d.strip()}


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert set(CSP_DIRECTIVES) <= directives(response), response.status_code


Client = Callable[..., Any]


@pytest.fixture
def app_client(runtime) -> Client:
    """`app_client(settings, host=…)`: a client of a fresh app, calling that Host."""

    @asynccontextmanager
    async def make(
        settings: Settings, host: str = "test", **app_setup: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings, runtime.resources)
        for path, handler in app_setup.items():
            app.get("/" + path.replace("_", "-"))(handler)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            yield client

    return make


def with_(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


# --- 1. security headers -------------------------------------------------------------------


async def test_api_answers_carry_the_security_headers(client):
    assert_secured(await client.get("/templates/placeholders"))
    assert_secured(await client.get("/health"))
    assert_secured(await client.get("/openapi.json"))
    created = await client.post("/customers", json={"phone": "+254700000009"})
    assert created.status_code == 201
    assert_secured(created)


async def test_every_kind_of_error_carries_them(settings, app_client):
    async def boom() -> None:
        raise RuntimeError("boom")

    limited = with_(settings, max_body_bytes=1024, send_rate_limit_per_minute=1)
    async with app_client(limited, boom=boom) as client:
        answers = {
            404: await client.get("/no/such/route"),
            405: await client.delete("/templates/placeholders"),
            413: await client.post(
                "/customers",
                content=b"{" + b" " * 4096 + b"}",
                headers={"Content-Type": "application/json"},
            ),
            415: await client.post(
                "/customers", content=b"x", headers={"Content-Type": "text/plain"}
            ),
            422: await client.post("/customers", json={"phone": "no"}),
            500: await client.get("/boom"),
        }
        await client.post("/campaigns/1/send", json={})  # the one token of the minute
        answers[429] = await client.post("/campaigns/1/send", json={})
        answers[403] = await client.post(
            "/customers", json={"phone": "+254700000010"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
    async with app_client(with_(settings, api_keys=KEY)) as client:
        answers[401] = await client.get("/customers")
    async with app_client(settings, host="evil.example") as client:
        answers[421] = await client.get("/customers")
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        assert "error" in response.json()
        assert_secured(response)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A dashboard build as Vite lays it out, and Swagger UI's files."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "swagger").mkdir()
    (dist / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/app.js"></script>'
    )
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    (dist / "swagger" / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = {}")
    return dist


async def test_the_dashboard_and_its_files_carry_them(settings, app_client, dist):
    async with app_client(with_(settings, web_dist_dir=dist)) as client:
        page = await client.get("/campaigns/3", headers={"Accept": "text/html"})
        asset = await client.get("/assets/app.js")
        missing = await client.get("/assets/nope.js")
        swagger = await client.get("/swagger/swagger-ui-bundle.js")
    assert page.headers["content-type"].startswith("text/html")
    for response in (page, asset, missing, swagger):
        assert_secured(response)
    # The dashboard's policy allows no inline script at all.
    assert not any(d.startswith("script-src") for d in directives(page))
    assert "img-src 'self' data:" in directives(page)  # its icon is a data: SVG


async def test_the_docs_page_allows_exactly_its_own_inline_script(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert_secured(response)
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    script_src = [d for d in directives(response) if d.startswith("script-src ")]
    assert script_src == [f"script-src 'self' 'sha256-{digest}'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


# --- 2. the Host check ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST:8000"]
)
async def test_without_keys_loopback_names_are_served(settings, app_client, host):
    async with app_client(with_(settings, allowed_hosts=None), host=host) as client:
        response = await client.get("/customers")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.2"]
)
async def test_without_keys_another_host_is_refused(settings, app_client, host):
    """A page whose name was rebound to 127.0.0.1 still sends its own name as Host."""
    async with app_client(with_(settings, allowed_hosts=None), host=host) as client:
        listed = await client.get("/customers")
        imported = await client.post("/customers/import", files={"file": ("c.csv", CSV)})
        dashboard = await client.get("/", headers={"Accept": "text/html"})
    for response in (listed, imported, dashboard):
        error = assert_error(response, 421, "HOST_NOT_ALLOWED")
        assert "ALLOWED_HOSTS" in error["message"]
    async with app_client(with_(settings, allowed_hosts=None), host="localhost") as client:
        assert (await client.get("/customers")).json()["data"] == []  # nothing imported


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8000", "localhost"),
        ("LocalHost.", "localhost"),
        ("[::1]:8000", "[::1]"),
        ("::1", "[::1]"),  # as an ALLOWED_HOSTS entry may write it
        ("[::1]evil", "[::1]evil"),  # never taken for [::1]
        ("localhost:http", "localhost:http"),  # nor a port that is not a number
    ],
)
def test_host_names_drop_only_a_numeric_port(header, name):
    assert host_name(header) == name


async def test_probes_answer_whatever_the_host(settings, app_client):
    async with app_client(with_(settings, allowed_hosts=None), host="10.0.0.7:8000") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert_error(await client.get("/stats"), 421, "HOST_NOT_ALLOWED")


async def test_with_keys_any_host_is_served(settings, app_client):
    keyed = with_(settings, allowed_hosts=None, api_keys=KEY)
    async with app_client(keyed, host="dispatch.example.com") as client:
        assert_error(await client.get("/customers"), 401, "UNAUTHORIZED")
        response = await client.get("/customers", headers={"X-API-Key": KEY})
    assert response.status_code == 200


async def test_an_explicit_list_replaces_the_default(settings, app_client):
    listed = with_(settings, allowed_hosts=" dispatch.example.com , *.corp.example,::1")
    for host in ("dispatch.example.com", "DISPATCH.example.com:443", "eu.corp.example", "[::1]"):
        async with app_client(listed, host=host) as client:
            assert (await client.get("/customers")).status_code == 200, host
    for host in ("localhost", "corp.example", "evil.example", "dispatch.example.com.evil"):
        async with app_client(listed, host=host) as client:
            assert_error(await client.get("/customers"), 421, "HOST_NOT_ALLOWED")


async def test_an_explicit_list_applies_with_keys_too(settings, app_client):
    listed = with_(settings, allowed_hosts="dispatch.example.com", api_keys=KEY)
    async with app_client(listed, host="evil.example") as client:
        response = await client.get("/customers", headers={"X-API-Key": KEY})
    assert_error(response, 421, "HOST_NOT_ALLOWED")


async def test_a_star_allows_any_host(settings, app_client):
    async with app_client(with_(settings, allowed_hosts="*"), host="anything.example") as client:
        assert (await client.get("/customers")).status_code == 200


# --- 3. cross-site writes ------------------------------------------------------------------


async def import_csv(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/customers/import", files={"file": ("c.csv", CSV)}, headers=headers)


async def customer_count(client: httpx.AsyncClient) -> int:
    return int((await client.get("/customers")).json()["pagination"]["total_count"])


async def test_a_cross_site_form_post_to_the_import_is_refused(client):
    response = await import_csv(
        client, **{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    )
    error = assert_error(response, 403, "CROSS_SITE_REQUEST")
    assert "Sec-Fetch-Site" in error["message"]
    assert await customer_count(client) == 0


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none"])
async def test_requests_the_browser_calls_ours_pass(client, site):
    response = await import_csv(client, **{"Sec-Fetch-Site": site, "Origin": "http://test"})
    assert response.status_code == 200, response.text
    assert await customer_count(client) == 1


async def test_a_same_site_page_on_another_port_is_refused(settings, app_client):
    """A site ignores the port: another local program's page is `same-site` to this one."""
    async with app_client(with_(settings, allowed_hosts=None), host="127.0.0.1:8000") as client:
        response = await import_csv(
            client, **{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:3000"}
        )
        assert_error(response, 403, "CROSS_SITE_REQUEST")
        assert await customer_count(client) == 0


async def test_without_sec_fetch_site_a_foreign_origin_is_refused(client):
    for origin in ("https://evil.example", "http://test:9000", "null", "http://test.evil"):
        response = await import_csv(client, Origin=origin)
        assert_error(response, 403, "CROSS_SITE_REQUEST")
    assert await customer_count(client) == 0


async def test_without_sec_fetch_site_our_own_origin_passes(settings, app_client):
    async with app_client(settings, host="test:8000") as client:
        response = await import_csv(client, Origin="http://test:8000")
        assert response.status_code == 200, response.text
    async with app_client(settings, host="test:443") as client:  # the default port, spelt out
        response = await import_csv(client, Origin="https://test")
        assert response.status_code == 200, response.text


async def test_clients_that_are_not_browsers_are_not_affected(client):
    response = await import_csv(client)  # neither Sec-Fetch-Site nor Origin
    assert response.status_code == 200, response.text


async def test_every_state_changing_method_is_checked_and_reads_are_not(client):
    cross = {"Sec-Fetch-Site": "cross-site"}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, "/campaigns", json={}, headers=cross)
        assert_error(response, 403, "CROSS_SITE_REQUEST")
    assert (await client.get("/campaigns", headers=cross)).status_code == 200


async def test_keys_do_not_lift_the_refusal(settings, app_client):
    async with app_client(with_(settings, api_keys=KEY)) as client:
        response = await import_csv(client, **{"Sec-Fetch-Site": "cross-site", "X-API-Key": KEY})
    assert_error(response, 403, "CROSS_SITE_REQUEST")


async def test_the_openapi_document_lists_the_new_refusals(client):
    document = (await client.get("/openapi.json")).json()
    imported = document["paths"]["/customers/import"]["post"]["responses"]
    assert "403" in imported
    assert "421" in imported
    assert "403" not in document["paths"]["/customers"]["get"]["responses"]
    assert "421" in document["paths"]["/customers"]["get"]["responses"]
    assert "421" not in document["paths"]["/health"]["get"]["responses"]
