"""Inputs that used to reach the database driver and come back as 500s."""

import httpx

from campaign_dispatch.app import create_app
from tests.harness import Process


async def test_nul_characters_are_a_validation_error(client, make_customer):
    response = await client.post(
        "/campaigns", json={"name": "a\x00b", "channel": "sms", "base_template": "Hi {first_name}"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    response = await client.post(
        "/customers", json={"phone": "+254711111111", "first_name": "\x00"}
    )
    assert response.status_code == 422


async def test_an_out_of_range_schedule_is_a_validation_error(client):
    response = await client.post(
        "/campaigns",
        json={
            "name": "x",
            "channel": "sms",
            "base_template": "Hi",
            "scheduled_at": "0001-01-01T00:00:00+05:00",
        },
    )
    assert response.status_code == 422
    assert "out of range" in response.text


async def test_a_non_utf8_header_does_not_break_the_request(client):
    response = await client.post(
        "/campaigns",
        json={"name": "x", "channel": "sms", "base_template": "Hi"},
        headers={"X-Note": "caf\xe9".encode("latin-1")},
    )
    assert response.status_code == 201


async def test_an_unreachable_database_is_a_503(settings):
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/none"})
    runtime = Process.create(down)
    try:
        app = create_app(down, runtime.resources)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/campaigns")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert response.headers["Retry-After"] == "5"
    finally:
        await runtime.close()
