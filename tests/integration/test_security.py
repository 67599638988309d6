"""API keys on /campaigns*, /customers*, /templates*, and the send endpoint's rate limit."""

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from campaign_dispatch.api.rate_limit import SEND_PATH, TokenBuckets
from campaign_dispatch.app import create_app
from tests.pipeline_helpers import messages

KEYS = "key-one, key-two"

PROTECTED = [
    ("GET", "/campaigns", None),
    ("POST", "/campaigns", {"name": "x", "channel": "sms", "base_template": "Hi"}),
    ("GET", "/campaigns/1", None),
    ("GET", "/campaigns/1/messages", None),
    ("POST", "/campaigns/1/send", {"customer_ids": [1]}),
    ("POST", "/campaigns/1/personalized-preview", {"customer_id": 1}),
    ("GET", "/customers", None),
    ("GET", "/customers/1", None),
    ("POST", "/customers", {"phone": "+254700000001"}),
    ("POST", "/templates/preview", {"template": "Hi", "customer_id": 1}),
]


def client_for(app, address="127.0.0.1", root_path=""):
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=(address, 5000), root_path=root_path
    )
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def keyed(settings, runtime):
    app = create_app(settings.model_copy(update={"api_keys": KEYS}), runtime.resources)
    async with client_for(app) as client:
        yield client


def assert_unauthorized(response, message):
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": {"code": "UNAUTHORIZED", "message": message}}


MISSING = "Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>"


# --- API keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
async def test_protected_routes_need_a_key(keyed, method, path, body):
    response = await keyed.request(method, path, json=body)

    assert_unauthorized(response, MISSING)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-three"},
        {"Authorization": "Bearer key-one-and-more"},
        {"X-API-Key": "key-on"},
        {"X-API-Key": "KEY-ONE"},
        {"Authorization": "Bearer ключ".encode()},  # non-ASCII must not crash the comparison
    ],
)
async def test_a_wrong_key_is_rejected(keyed, headers):
    response = await keyed.get("/campaigns", headers=headers)

    assert_unauthorized(response, "Invalid API key")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic key-one"},  # not the Bearer scheme
        {"Authorization": "key-one"},
        {"Authorization": "Bearer "},
        {"X-API-Key": ""},
    ],
)
async def test_a_key_in_the_wrong_form_counts_as_missing(keyed, headers):
    response = await keyed.get("/campaigns", headers=headers)

    assert_unauthorized(response, MISSING)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-one"},
        {"Authorization": "bearer key-two"},
        {"X-API-Key": "key-one"},
        {"X-API-Key": "key-two"},
        {"Authorization": "Bearer wrong", "X-API-Key": "key-two"},
    ],
)
async def test_either_header_form_is_accepted(keyed, headers):
    created = await keyed.post(
        "/campaigns", json={"name": "x", "channel": "sms", "base_template": "Hi"}, headers=headers
    )
    listed = await keyed.get("/campaigns", headers=headers)

    assert created.status_code == 201
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["data"]] == [created.json()["id"]]


@pytest.mark.parametrize(
    "path", ["/health", "/ready", "/metrics", "/stats", "/docs", "/openapi.json"]
)
async def test_operations_and_docs_stay_open(keyed, path):
    response = await keyed.get(path)

    assert response.status_code == 200


async def test_dashboard_files_stay_open(settings, runtime, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg/>")
    keyed_settings = settings.model_copy(update={"api_keys": KEYS, "web_dist_dir": dist})
    async with client_for(create_app(keyed_settings, runtime.resources)) as client:
        html = {"Accept": "text/html"}
        assert (await client.get("/", headers=html)).text.startswith("<!doctype html>")
        assert (await client.get("/campaigns/3", headers=html)).status_code == 200
        assert (await client.get("/assets/app.js")).text == "console.log(1)"
        assert (await client.get("/favicon.svg")).status_code == 200
        assert (await client.get("/campaigns")).status_code == 401  # the API itself is not


async def test_openapi_declares_both_schemes_on_protected_routes_only(keyed):
    spec = (await keyed.get("/openapi.json")).json()

    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from API_KEYS",
    }
    assert schemes["APIKeyHeader"]["in"] == "header"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    expected = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert spec["paths"]["/campaigns"]["get"]["security"] == expected
    assert spec["paths"]["/campaigns/{campaign_id}/send"]["post"]["security"] == expected
    assert spec["paths"]["/customers"]["post"]["security"] == expected
    assert spec["paths"]["/templates/preview"]["post"]["security"] == expected
    assert "security" not in spec["paths"]["/health"]["get"]
    assert "security" not in spec["paths"]["/stats"]["get"]


async def test_without_keys_everything_is_open(client):
    assert (await client.get("/campaigns")).status_code == 200
    assert (await client.get("/customers")).status_code == 200
    created = await client.post(
        "/campaigns", json={"name": "x", "channel": "sms", "base_template": "Hi"}
    )
    assert created.status_code == 201
    spec = (await client.get("/openapi.json")).json()
    assert "securitySchemes" not in spec.get("components", {})


# --- the send endpoint's rate limit ------------------------------------------------------


@pytest.fixture
def limited_settings(settings):
    return settings.model_copy(update={"send_rate_limit_per_minute": 2})


@pytest.fixture
async def limited(limited_settings, runtime):
    async with client_for(create_app(limited_settings, runtime.resources)) as client:
        yield client


async def send(client, campaign_id, customer_id, headers=None):
    return await client.post(
        f"/campaigns/{campaign_id}/send", json={"customer_ids": [customer_id]}, headers=headers
    )


async def new_campaign(client, headers=None):
    response = await client.post(
        "/campaigns",
        json={"name": "x", "channel": "sms", "base_template": "Hi {first_name}"},
        headers=headers,
    )
    assert response.status_code == 201
    return response.json()["id"]


async def new_customer(client, phone="+254700000001", headers=None):
    response = await client.post("/customers", json={"phone": phone}, headers=headers)
    assert response.status_code == 201
    return response.json()["id"]


async def test_the_third_send_in_a_minute_is_rate_limited(limited, runtime):
    customer = await new_customer(limited)
    campaigns = [await new_campaign(limited) for _ in range(3)]

    first = await send(limited, campaigns[0], customer)
    second = await send(limited, campaigns[1], customer)
    third = await send(limited, campaigns[2], customer)

    assert (first.status_code, second.status_code) == (202, 202)
    assert third.status_code == 429
    assert third.json() == {
        "error": {
            "code": "RATE_LIMITED",
            "message": "At most 2 send requests per minute; retry in "
            f"{third.headers['retry-after']} s",
        }
    }
    # a token comes back every 30 s; two quick calls leave just under 30 s to wait
    assert int(third.headers["retry-after"]) in (29, 30)
    assert await messages(runtime, campaigns[2]) == []
    assert (await limited.get(f"/campaigns/{campaigns[2]}")).json()["status"] == "draft"


async def test_other_routes_are_not_limited(limited):
    customer = await new_customer(limited)
    campaign = await new_campaign(limited)
    for _ in range(2):
        await send(limited, campaign, customer)
    assert (await send(limited, campaign, customer)).status_code == 429

    for _ in range(5):
        assert (await limited.get("/campaigns")).status_code == 200
        assert (await limited.get(f"/campaigns/{campaign}")).status_code == 200
        preview = await limited.post(
            f"/campaigns/{campaign}/personalized-preview", json={"customer_id": customer}
        )
        assert preview.status_code == 200
    assert (await limited.get(f"/campaigns/{campaign}/send")).status_code == 405
    assert (await new_campaign(limited)) > campaign


async def test_each_client_address_has_its_own_bucket(limited_settings, runtime):
    app = create_app(limited_settings, runtime.resources)
    async with client_for(app, "10.0.0.1") as first, client_for(app, "10.0.0.2") as second:
        customer = await new_customer(first)
        campaigns = [await new_campaign(first) for _ in range(4)]
        assert (await send(first, campaigns[0], customer)).status_code == 202
        assert (await send(first, campaigns[1], customer)).status_code == 202
        assert (await send(first, campaigns[2], customer)).status_code == 429

        assert (await send(second, campaigns[2], customer)).status_code == 202
        assert (await send(second, campaigns[3], customer)).status_code == 202


async def test_each_api_key_has_its_own_bucket_and_invented_keys_share_the_address(
    limited_settings, runtime
):
    app = create_app(limited_settings.model_copy(update={"api_keys": KEYS}), runtime.resources)
    one, two = {"X-API-Key": "key-one"}, {"Authorization": "Bearer key-two"}
    async with client_for(app) as client:
        customer = await new_customer(client, headers=one)
        campaigns = [await new_campaign(client, headers=one) for _ in range(4)]
        assert (await send(client, campaigns[0], customer, one)).status_code == 202
        assert (await send(client, campaigns[1], customer, one)).status_code == 202
        assert (await send(client, campaigns[2], customer, one)).status_code == 429
        assert (await send(client, campaigns[2], customer, two)).status_code == 202

        invented = [{"X-API-Key": f"made-up-{i}"} for i in range(3)]
        codes = [(await send(client, campaigns[3], customer, h)).status_code for h in invented]
        assert codes == [401, 401, 429]


async def test_a_zero_limit_turns_it_off(settings, runtime):
    app = create_app(
        settings.model_copy(update={"send_rate_limit_per_minute": 0}), runtime.resources
    )
    async with client_for(app) as client:
        customer = await new_customer(client)
        for _ in range(5):
            campaign = await new_campaign(client)
            assert (await send(client, campaign, customer)).status_code == 202


# --- the token bucket itself --------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_one_token_per_interval():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=6, clock=clock)  # one token per 10 s

    assert [buckets.take("a") for _ in range(6)] == [0.0] * 6
    assert buckets.take("a") == pytest.approx(10.0)
    clock.now += 4
    assert buckets.take("a") == pytest.approx(6.0)
    clock.now += 6
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(10.0)
    assert buckets.take("b") == 0.0  # another client is untouched


def test_bucket_refills_no_further_than_its_capacity():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=2, clock=clock)
    buckets.take("a")
    clock.now += 3600

    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(30.0)]


def test_bucket_forgets_the_least_recently_seen_clients_beyond_its_bound():
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=1, clock=clock, max_clients=2)
    for client in ("a", "b"):
        assert buckets.take(client) == 0.0
    assert buckets.take("a") > 0  # seen again: now the most recent
    assert buckets.take("c") == 0.0  # "b" is forgotten

    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0  # a fresh bucket


# Spellings of "1" that a loose integer parser accepts, and segments that are no id at all:
# each must be rejected at the route and still use up a token, so none is a way round it.
SPELLED_IDS = ["1.0", "+1", "%201", "1%20", "1_0", "01", "%EF%BC%91", "0x1", "abc"]


@pytest.mark.parametrize("spelled", SPELLED_IDS)
async def test_a_send_with_a_differently_spelled_id_is_rejected_and_counted(
    limited, runtime, spelled
):
    customer = await new_customer(limited)
    first, second, third = [await new_campaign(limited) for _ in range(3)]
    assert first == 1

    spelled_send = await limited.post(
        f"/campaigns/{spelled}/send", json={"customer_ids": [customer]}
    )
    granted = await send(limited, second, customer)
    refused = await send(limited, third, customer)

    assert spelled_send.status_code == 422, spelled_send.text
    assert spelled_send.json()["error"]["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in spelled_send.json()["error"]["details"]] == ["campaign_id"]
    assert await messages(runtime, first) == []
    assert granted.status_code == 202
    assert refused.status_code == 429


async def test_sends_under_a_root_path_are_counted(limited_settings, runtime):
    app = create_app(limited_settings, runtime.resources)
    async with client_for(app, root_path="/api") as client:
        customer = await new_customer(client)
        campaigns = [await new_campaign(client) for _ in range(3)]
        codes = [
            (await client.post(f"/api/campaigns/{c}/send", json={"customer_ids": [customer]}))
            for c in campaigns
        ]

    assert [r.status_code for r in codes] == [202, 202, 429]


def test_the_limiter_counts_by_the_send_routes_own_pattern(settings, runtime):
    app = create_app(settings, runtime.resources)
    routes = iter_route_contexts(app.routes)
    send_routes = [r for r in routes if getattr(r, "name", None) == "send_campaign"]

    assert [r.path_regex.pattern for r in send_routes] == [SEND_PATH.pattern]


# --- cross-site form posts ---------------------------------------------------------------

# A page on another site can post these without a CORS preflight; with no API_KEYS set
# nothing else would stop it, so only the CSV import may take a form.
FORM_TARGETS = [
    "/campaigns",
    "/campaigns/1/send",
    "/campaigns/1/personalized-preview",
    "/customers",
    "/templates/preview",
]


@pytest.mark.parametrize("path", FORM_TARGETS)
async def test_a_multipart_form_post_outside_the_import_is_415(client, runtime, path):
    campaign = await new_campaign(client)
    customer = await new_customer(client)
    assert (campaign, customer) == (1, 1)

    response = await client.post(
        path,
        data={"name": "x", "channel": "sms", "base_template": "Hi", "customer_ids": "1"},
        files={"file": ("x.csv", b"phone\n+254700000002\n", "text/csv")},
    )

    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await messages(runtime, campaign) == []
    assert (await client.get("/campaigns")).json()["pagination"]["total_count"] == 1
    assert (await client.get("/customers")).json()["pagination"]["total_count"] == 1


@pytest.mark.parametrize("path", FORM_TARGETS)
async def test_a_urlencoded_form_post_outside_the_import_is_415(client, path):
    response = await client.post(path, data={"name": "x", "channel": "sms"})

    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_the_import_takes_multipart_and_urlencoded_forms_only(client):
    multipart = await client.post(
        "/customers/import", files={"file": ("x.csv", b"phone\n+254700000002\n", "text/csv")}
    )
    urlencoded = await client.post("/customers/import", data={"file": "phone"})
    as_json = await client.post("/customers/import", json={"file": "phone\n+254700000003\n"})
    as_text = await client.post(
        "/customers/import",
        content=b"phone\n+254700000004\n",
        headers={"Content-Type": "text/csv"},
    )

    assert multipart.status_code == 200, multipart.text
    assert urlencoded.status_code == 422  # a form, but the file is not a file
    assert urlencoded.json()["error"]["code"] == "VALIDATION_ERROR"
    for response in (as_json, as_text):
        assert response.status_code == 415, response.text
        assert "multipart/form-data" in response.json()["error"]["message"]
