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


async def _raw_exchange(fake: FakeProvider, raw: bytes, answers: int) -> list[bytes]:
    """Write raw bytes to the fake's socket; read `answers` HTTP answers (heads and
    Content-Length bodies) or until it closes."""
    import asyncio
    from urllib.parse import urlsplit

    assert fake.base_url is not None
    url = urlsplit(fake.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(raw)
    got: list[bytes] = []
    try:
        for _ in range(answers):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            got.append(head + await reader.readexactly(length))
        tail = await asyncio.wait_for(reader.read(), 5) if b"close" in raw.lower() else b""
        assert tail == b""
    finally:
        writer.close()
    return got


async def test_the_server_answers_a_chunked_body_and_pipelined_requests_in_order(
    fake: FakeProvider,
):
    chunked = (
        b"POST /version1/messaging HTTP/1.1\r\nHost: x\r\napiKey: k\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"9\r\nusername=\r\n1b\r\nu&to=%2B2547&message=hi+you\r\n0\r\n\r\n"
    )
    health = b"GET /_fake/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    first, second = await _raw_exchange(fake, chunked + health, 2)
    assert first.startswith(b"HTTP/1.1 201 Created\r\n")
    assert second.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in second
    assert second.endswith(b'{"status": "ok"}')
    (received,) = fake.received()
    assert received.form() == {"username": "u", "to": "+2547", "message": "hi you"}


async def test_the_server_refuses_what_is_not_http(fake: FakeProvider):
    (answer,) = await _raw_exchange(fake, b"HELLO\x00 there\r\n\r\n", 1)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert fake.received() == []
