"""The fake provider's own HTTP control API, as a benchmark or a shell script uses it."""

import httpx

from campaign_dispatch.fake_provider import FakeProvider
from tests.providers.conftest import Recorder


async def test_requests_are_listed_filtered_and_cleared(fake: FakeProvider):
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        sent = await client.post(
            "/version1/messaging",
            data={"username": "u", "to": "+2547", "message": "hi"},
            headers={"apiKey": "k"},
        )
        assert sent.status_code == 201
        await client.post("/v21.0/123/messages", json={"to": "1"})  # no bearer: refused
        listed = (await client.get("/_fake/requests")).json()["requests"]
        assert [(r["provider"], r["status"]) for r in listed] == [
            ("africastalking", 201),
            ("whatsapp_cloud", 401),
        ]
        first = listed[0]
        assert first["method"] == "POST"
        assert first["path"] == "/version1/messaging"
        assert first["headers"]["apikey"] == "k"
        assert first["body"] == "username=u&to=%2B2547&message=hi"
        assert first["received_at"] > 0
        only = (await client.get("/_fake/requests", params={"provider": "whatsapp"})).json()
        assert [r["provider"] for r in only["requests"]] == ["whatsapp_cloud"]
        assert (await client.delete("/_fake/requests")).json() == {"deleted": 2}
        assert (await client.get("/_fake/requests")).json() == {"requests": []}


async def test_behaviour_over_http(fake: FakeProvider):
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        answer = await client.post(
            "/_fake/behaviour", json={"provider": "twilio", "outcome": "opted_out", "latency_ms": 5}
        )
        assert answer.status_code == 200
        assert answer.json()["twilio"]["outcome"] == "opted_out"
        assert answer.json()["africastalking"]["outcome"] == "accepted"
        refused = await client.post("/_fake/behaviour", json={"provider": "twilio", "nope": 1})
        assert refused.status_code == 400
        unknown = await client.post("/_fake/behaviour", json={"provider": "nobody"})
        assert unknown.status_code == 400
        reset = await client.post("/_fake/behaviour", json={"provider": "*", "reset": True})
        assert reset.json()["twilio"]["outcome"] == "accepted"


async def test_a_share_of_sends_fail(fake: FakeProvider):
    fake.set_behaviour("africastalking", outcome="retryable", rate=0.5)
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        for _ in range(40):
            await client.post(
                "/version1/messaging",
                data={"username": "u", "to": "+2547", "message": "hi"},
                headers={"apiKey": "k"},
            )
    failed = sum(b'"statusCode": 500' in r.answer for r in fake.received())
    assert 5 < failed < 35


async def test_inbound_over_http(fake_calling_back: FakeProvider, recorder: Recorder):
    async with httpx.AsyncClient(base_url=fake_calling_back.base_url) as client:
        answer = await client.post(
            "/_fake/inbound",
            json={"provider": "africastalking", "from": "+2547", "to": "20880", "text": "hi"},
        )
    assert answer.json()["status"] == 200
    assert answer.json()["url"].startswith(recorder.base_url + "/webhooks/africastalking/inbound")
    [request] = recorder.requests
    assert request.query == "token=at-callback-token"
