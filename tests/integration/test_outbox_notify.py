"""On PostgreSQL a send's commit NOTIFYs relays in other processes: no wait for a poll."""

import asyncio
import time

import pytest

from campaign_dispatch.background import Role
from tests.harness import Process
from tests.pipeline_helpers import eventually

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def test_a_relay_in_another_runtime_publishes_on_notify(
    client, settings, make_customer, make_campaign
):
    slow_poll = settings.model_copy(update={"relay_interval_seconds": 30.0})
    worker = Process.create(slow_poll)  # its own relay, queue and worker: "another process"
    await worker.start({Role.RELAY, Role.WORKER})
    try:
        await asyncio.sleep(0.5)  # past the relay's first poll and LISTEN set-up
        customer = await make_customer()
        campaign = await make_campaign()
        started = time.monotonic()
        response = await client.post(
            f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
        )
        assert response.status_code == 202

        async def sent():
            body = (await client.get(f"/campaigns/{campaign['id']}")).json()
            return body["status"] == "sent"

        await eventually(sent, timeout=10)
        assert time.monotonic() - started < 10  # a 30 s poll could not have done it
        assert worker.sender.delivered == 1
    finally:
        await worker.close()
