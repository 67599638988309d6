"""Phone masking, JSON log lines, and the request id middleware."""

import io
import json
import logging
import re

import httpx
import pytest
import structlog

from campaign_dispatch.app import create_app
from campaign_dispatch.config import Settings
from campaign_dispatch.logging_setup import configure_logging, mask_phone_numbers, mask_phones
from tests.harness import Process

# --- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+254700000001", "+2547******01"),
        ("to +254700000001.", "to +2547******01."),
        ("(+254712345678, +15551234567)", "(+2547******78, +1555*****67)"),
        ("phone=+447911123456", "phone=+4479******56"),
        ("0712345678", "0712****78"),
        ("254700000001", "2547******01"),
        ("+1234567", "+12***67"),  # short: at least half stays hidden
        (
            "Key (phone)=(+254700000001) already exists",
            "Key (phone)=(+2547******01) already exists",
        ),
    ],
)
def test_phone_numbers_are_masked(text, masked):
    assert mask_phones(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "campaign 42 sent 12345678 messages",  # 8 bare digits: a count, not a phone
        "2025-05-20T08:00:00.123456Z",
        "request 1234567890abcdef1234567890abcdef",  # digits inside a hex id
        "id 1234567890123456789012345",  # longer than any phone
        "+12345",
        "order A123456789",
    ],
)
def test_other_numbers_are_left_alone(text):
    assert mask_phones(text) == text


def test_the_processor_masks_every_string_value_nested_ones_too():
    event = {
        "event": "sent to +254700000001",
        "phone": "+254711111111",
        "details": [{"field": "phone", "value": "+254722222222"}, ("+254733333333", 5)],
        "customer_id": 254700000001,  # not a string: left as it is
        "ok": True,
    }

    assert mask_phone_numbers(None, "info", event) == {
        "event": "sent to +2547******01",
        "phone": "+2547******11",
        "details": [{"field": "phone", "value": "+2547******22"}, ["+2547******33", 5]],
        "customer_id": 254700000001,
        "ok": True,
    }


# --- JSON lines ----------------------------------------------------------------------------


@pytest.fixture
def json_logs():
    """configure_logging("INFO", "json") into a buffer; the global logging state restored."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    access, client = logging.getLogger("uvicorn.access"), logging.getLogger("httpx")
    saved_levels = access.level, client.level
    saved_structlog = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("INFO", "json", stream=buffer)
    # Loggers must not keep this configuration after the test.
    structlog.configure(cache_logger_on_first_use=False)
    client.setLevel(logging.WARNING)  # the test client's own request lines

    def lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        access.setLevel(saved_levels[0])
        client.setLevel(saved_levels[1])
        structlog.configure(**saved_structlog)


def test_json_lines_carry_bound_context_and_mask_phones(json_logs):
    log = structlog.get_logger("campaign_dispatch.test")
    with structlog.contextvars.bound_contextvars(request_id="abc123"):
        log.info("customer created", phone="+254700000001", customer_id=7)
    log.debug("below the level")

    [line] = json_logs()
    assert line["event"] == "customer created"
    assert line["request_id"] == "abc123"
    assert line["phone"] == "+2547******01"
    assert line["customer_id"] == 7
    assert line["level"] == "info"
    assert line["logger"] == "campaign_dispatch.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line["timestamp"])


def test_tracebacks_and_library_logs_are_masked_too(json_logs):
    log = structlog.get_logger("campaign_dispatch.test")
    try:
        raise ValueError("duplicate phone +254700000001")
    except ValueError:
        log.exception("import failed")
    logging.getLogger("sqlalchemy.engine").warning("row (%s) rejected", "+254711111111")

    failed, library = json_logs()
    assert "+254700000001" not in failed["exception"]
    assert "ValueError: duplicate phone +2547******01" in failed["exception"]
    assert library["event"] == "row (+2547******11) rejected"
    assert library["logger"] == "sqlalchemy.engine"


def test_uvicorns_access_log_stays_off(json_logs):
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /campaigns" 200')
    logging.getLogger("uvicorn.error").info("Application startup complete.")

    assert [line["event"] for line in json_logs()] == ["Application startup complete."]


# --- the request id ------------------------------------------------------------------------


@pytest.fixture
async def app_client(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        amqp_url=None,
        web_dist_dir=tmp_path / "no-dashboard",
        allowed_hosts="test",  # the client below calls http://test
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = Process.create(settings)
    app = create_app(settings, runtime.resources)
    log = structlog.get_logger("campaign_dispatch.test")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        log.info("inside the handler", phone="+254700000001")
        return {"hello": "world"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await runtime.close()


async def test_each_request_gets_an_id_on_its_logs_and_response(json_logs, app_client):
    response = await app_client.get("/hello?q=+254700000001")

    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    inside, access = json_logs()
    assert inside["event"] == "inside the handler"
    assert inside["request_id"] == request_id
    assert inside["phone"] == "+2547******01"
    assert access["event"] == "request"
    assert access["request_id"] == request_id
    assert (access["method"], access["path"], access["status"]) == ("GET", "/hello", 200)
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert access["level"] == "info"
    assert "q=" not in json.dumps(access)  # the query string (it may hold PII) is not logged


async def test_the_callers_request_id_is_kept(json_logs, app_client):
    response = await app_client.get("/hello", headers={"X-Request-ID": "trace-42.a:b"})

    assert response.headers["x-request-id"] == "trace-42.a:b"
    assert {line["request_id"] for line in json_logs()} == {"trace-42.a:b"}


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "new\\nline", "é"])
async def test_an_unusable_request_id_is_replaced(json_logs, app_client, bad):
    response = await app_client.get("/hello", headers={"X-Request-ID": bad.encode()})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_a_500_carries_the_request_id_in_its_header_and_error_log(json_logs, app_client):
    response = await app_client.get("/boom", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert response.headers["x-request-id"] == "req-500"
    lines = json_logs()
    assert {line["request_id"] for line in lines} == {"req-500"}
    error = next(line for line in lines if line["event"] == "unhandled error")
    assert "RuntimeError: boom" in error["exception"]
    access = next(line for line in lines if line["event"] == "request")
    assert (access["status"], access["level"]) == (500, "error")


async def test_probes_log_at_debug(json_logs, app_client):
    assert (await app_client.get("/health")).status_code == 200
    assert json_logs() == []


async def test_no_request_id_is_left_bound_after_a_request(app_client):
    await app_client.get("/hello")

    assert "request_id" not in structlog.contextvars.get_contextvars()
