"""GET /campaigns/{id}/events: progress events through to the final status, one shared
poller per campaign per process, nothing left running after a disconnect, 404 and keys.

httpx's ASGITransport collects the whole body before it returns a response (and tells the
app of no disconnect until then), so the streams here go through a real uvicorn on a
loopback port, in the test's own event loop, serving an app on the test's Resources.
"""

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from campaign_dispatch.api import events as events_api
from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from campaign_dispatch.config import Settings
from campaign_dispatch.errors import DatabaseUnreachable
from campaign_dispatch.services import campaigns
from campaign_dispatch.services.events import ProgressHub
from tests.harness import Process
from tests.pipeline_helpers import eventually, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}
STREAM_TIMEOUT_S = 20.0


@dataclass
class Event:
    name: str
    data: dict[str, Any]


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def hub(self) -> ProgressHub:
        """The app's hub; it makes its own with the first stream, so until then a new one
        (with nothing running) stands in."""
        hub: ProgressHub | None = getattr(self.app.state, "progress_hub", None)
        return hub or ProgressHub(self.app.state.resources.database.sessions)


@asynccontextmanager
async def serving(settings: Settings, runtime: Process) -> AsyncIterator[Served]:
    app = create_app(settings, runtime.resources)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert not task.done(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.01)
        # The Host check knows the fixture's in-process names, not the loopback address.
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Host": "test"}, timeout=10
        ) as client:
            yield Served(app, client)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def served(settings: Settings, runtime: Process) -> AsyncIterator[Served]:
    async with serving(settings, runtime) as served:
        yield served


async def events_of(response: httpx.Response) -> AsyncIterator[Event]:
    """The stream's events, parsed as a browser would: fields to a blank line; a line
    starting with a colon is a comment."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(name, json.loads("\n".join(data)))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def stream(
    served: Served, campaign_id: int, **kwargs: Any
) -> AbstractAsyncContextManager[httpx.Response]:
    return served.client.stream("GET", f"/campaigns/{campaign_id}/events", **kwargs)


async def read_to_the_end(served: Served, campaign_id: int) -> list[Event]:
    """Every event until the server closes the stream (which must happen in time)."""
    async with asyncio.timeout(STREAM_TIMEOUT_S), stream(served, campaign_id) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in events_of(response)]


async def first_event_then_hold(
    served: Served, campaign_id: int, until: Callable[[], Awaitable[Any]]
) -> Event:
    """Open a stream, take its first event, keep it open until `until` returns, close."""
    async with asyncio.timeout(STREAM_TIMEOUT_S), stream(served, campaign_id) as response:
        events = events_of(response)
        first = await anext(events)
        await until()
        return first


async def draft(client: httpx.AsyncClient, make_campaign: Any) -> int:
    return int((await make_campaign())["id"])


async def test_a_client_sees_progress_through_to_sent_and_the_stream_ends(
    client, runtime, served, make_customer, make_campaign
):
    await runtime.start(PIPELINE)
    customers = [await make_customer() for _ in range(3)]
    campaign_id = await draft(client, make_campaign)

    async def send_when_watched() -> None:
        await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 1}))
        response = await client.post(
            f"/campaigns/{campaign_id}/send", json={"customer_ids": [c["id"] for c in customers]}
        )
        assert response.status_code == 202, response.text

    sender = asyncio.create_task(send_when_watched())
    events = await read_to_the_end(served, campaign_id)
    await sender

    assert {e.name for e in events} == {"progress"}
    assert events[0].data["status"] == "draft"
    assert events[-1].data["status"] == "sent"
    assert events[-1].data["stats"]["sent"] == 3
    # Exactly what GET /campaigns/{id} returns, once final.
    assert events[-1].data == (await client.get(f"/campaigns/{campaign_id}")).json()
    # An event is a change: never the same detail twice in a row.
    assert all(a.data != b.data for a, b in itertools.pairwise(events))
    await eventually(lambda: _async(served.hub.subscribers() == {}))


async def test_concurrent_clients_share_one_poller_and_all_see_the_final_state(
    client, runtime, served, make_customer, make_campaign
):
    await runtime.start(PIPELINE)
    customers = [await make_customer() for _ in range(3)]
    campaign_id = await draft(client, make_campaign)
    clients = 4

    watchers = [asyncio.create_task(read_to_the_end(served, campaign_id)) for _ in range(clients)]
    await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: clients}))
    assert served.hub.running_pollers() == 1
    polls_before, started = served.hub.polls, time.monotonic()
    await asyncio.sleep(1.2)  # a few intervals of four clients on one draft
    assert served.hub.running_pollers() == 1
    idle_polls = served.hub.polls - polls_before
    # One poll per interval for all four (not four per interval).
    assert 1 <= idle_polls <= (time.monotonic() - started) / served.hub.interval + 1

    response = await client.post(
        f"/campaigns/{campaign_id}/send", json={"customer_ids": [c["id"] for c in customers]}
    )
    assert response.status_code == 202, response.text
    results = await asyncio.gather(*watchers)

    for events in results:
        assert events[0].data["status"] == "draft"
        assert events[-1].data["status"] == "sent"
        assert events[-1].data["stats"]["sent"] == 3
    await eventually(
        lambda: _async(served.hub.subscribers() == {} and served.hub.running_pollers() == 0)
    )


async def test_a_client_that_disconnects_leaves_nothing_running(
    client, runtime, served, make_campaign
):
    campaign_id = await draft(client, make_campaign)

    async def watched() -> None:
        await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 1}))
        assert served.hub.running_pollers() == 1
        await asyncio.sleep(0.6)  # a poll or so, so that one has run and returned its session

    first = await first_event_then_hold(served, campaign_id, watched)
    assert first.name == "progress" and first.data["id"] == campaign_id

    # The client has gone: its subscription, the campaign's poller and any connection.
    await eventually(
        lambda: _async(served.hub.subscribers() == {} and served.hub.running_pollers() == 0)
    )
    pool = runtime.engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    polls = served.hub.polls
    await asyncio.sleep(1.0)
    assert served.hub.polls == polls, "a poller still runs for a campaign nobody watches"


async def test_a_second_client_joining_gets_the_current_state_at_once(
    client, runtime, served, make_campaign
):
    campaign_id = await draft(client, make_campaign)

    async def second_client() -> None:
        await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 1}))
        started = time.monotonic()
        joined = await first_event_then_hold(
            served,
            campaign_id,
            lambda: eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 2})),
        )
        assert joined.data["status"] == "draft"
        assert time.monotonic() - started < 2.0

    first = await first_event_then_hold(served, campaign_id, second_client)
    assert first.data["status"] == "draft"
    await eventually(lambda: _async(served.hub.subscribers() == {}))


async def test_an_already_finished_campaign_is_one_event_then_the_end(
    client, runtime, served, make_customer, make_campaign
):
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)

    async def sent() -> bool:
        return (await client.get(f"/campaigns/{campaign_id}")).json()["status"] == "sent"

    await eventually(sent)
    events = await read_to_the_end(served, campaign_id)

    assert len(events) == 1
    assert events[0].name == "progress"
    assert events[0].data == (await client.get(f"/campaigns/{campaign_id}")).json()
    assert served.hub.subscribers() == {}
    assert served.hub.running_pollers() == 0


async def test_a_cancelled_campaign_ends_the_stream(client, runtime, served, make_campaign):
    campaign_id = await draft(client, make_campaign)

    async def cancel_when_watched() -> None:
        await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 1}))
        response = await client.post(f"/campaigns/{campaign_id}/cancel")
        assert response.status_code == 200, response.text

    canceller = asyncio.create_task(cancel_when_watched())
    events = await read_to_the_end(served, campaign_id)
    await canceller
    assert [e.data["status"] for e in events] == ["draft", "cancelled"]


async def test_a_quiet_stream_carries_heartbeat_comments(
    client, served, make_campaign, monkeypatch
):
    monkeypatch.setattr(events_api, "PING_INTERVAL_S", 0.2)  # 15 s in service
    campaign_id = await draft(client, make_campaign)
    async with asyncio.timeout(STREAM_TIMEOUT_S), stream(served, campaign_id) as response:
        lines = response.aiter_lines()
        while not (line := await anext(lines)).startswith(":"):
            pass
    assert line.startswith(": ping")


async def test_a_campaign_deleted_while_watched_ends_the_stream(client, served, make_campaign):
    campaign_id = await draft(client, make_campaign)

    async def delete_when_watched() -> None:
        await eventually(lambda: _async(served.hub.subscribers() == {campaign_id: 1}))
        response = await client.delete(f"/campaigns/{campaign_id}")
        assert response.status_code == 204, response.text

    deleter = asyncio.create_task(delete_when_watched())
    events = await read_to_the_end(served, campaign_id)
    await deleter
    assert [e.data["status"] for e in events] == ["draft"]
    await eventually(lambda: _async(served.hub.running_pollers() == 0))


async def test_the_poller_outlasts_a_database_outage(client, runtime, make_campaign):
    campaign_id = await draft(client, make_campaign)
    failures = 3

    def sessions() -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise DatabaseUnreachable("ConnectionRefusedError: the database is away")
        return runtime.sessions()

    hub = ProgressHub(sessions, interval=0.05)  # type: ignore[arg-type]
    async with runtime.sessions() as session:
        first = await campaigns.detail(session, campaign_id)
    seen = []
    details = hub.stream(campaign_id, first)
    async with asyncio.timeout(STREAM_TIMEOUT_S), aclosing(details):
        async for detail in details:
            seen.append(detail.status)
            if len(seen) == 1:
                response = await client.post(f"/campaigns/{campaign_id}/cancel")
                assert response.status_code == 200, response.text
    assert seen == ["draft", "cancelled"]
    assert failures == 0
    assert hub.subscribers() == {}


async def test_an_unknown_campaign_is_a_404_envelope_before_any_stream(served):
    async with stream(served, 999_999) as response:
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        body = json.loads(await response.aread())
    assert body["error"]["code"] == "CAMPAIGN_NOT_FOUND"
    assert served.hub.subscribers() == {}


async def test_the_api_key_goes_in_a_header(settings, runtime, client, make_campaign):
    campaign_id = await draft(client, make_campaign)
    keyed = settings.model_copy(update={"api_keys": "s3cret-key"})
    async with serving(keyed, runtime) as served:
        async with stream(served, campaign_id) as response:
            assert response.status_code == 401
            body = json.loads(await response.aread())
            assert body["error"]["code"] == "UNAUTHORIZED"
        for headers in ({"X-API-Key": "s3cret-key"}, {"Authorization": "Bearer s3cret-key"}):
            async with asyncio.timeout(STREAM_TIMEOUT_S):
                async with stream(served, campaign_id, headers=headers) as response:
                    assert response.status_code == 200
                    first = await anext(events_of(response))
            assert first.name == "progress"
            assert first.data["id"] == campaign_id


async def _async(value: Any) -> Any:
    return value
