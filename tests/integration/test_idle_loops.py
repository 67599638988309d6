"""With nothing due, the background loops sleep (on long timers, woken by commits) instead
of polling, yet every piece of work is still done at its time: a held message at its
opening, a scheduled campaign at its time, a lease that runs out while idle."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, select, update

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Campaign, OutboundMessage
from tests.harness import Process
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

ALL_ROLES = {Role.RELAY, Role.WORKER, Role.RECOVERY, Role.SCHEDULER}


@contextmanager
def counted(runtime: Process) -> Iterator[list[str]]:
    """The statements `runtime`'s engine sends while the block runs."""
    seen: list[str] = []

    def capture(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


async def status_of(runtime: Process, campaign_id: int) -> str | None:
    async with runtime.sessions() as session:
        return await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


async def test_idle_roles_send_almost_no_statements(runtime):
    await runtime.start(ALL_ROLES)
    await asyncio.sleep(1)  # every loop's first look, and the reads that follow it
    with counted(runtime) as seen:
        await asyncio.sleep(3)
    # Polling (relay every 0.2 s in two loops, scheduler every second, recovery every
    # 5 s) sends dozens in 3 s; sleeping until a due time or a wake sends none.
    assert len(seen) <= 4, seen


async def test_a_held_message_is_published_at_its_opening(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    opens = utcnow() + timedelta(seconds=2)
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign_id)
            .values(available_at=opens)
        )
    runtime.settings = runtime.settings.model_copy(update={"relay_idle_seconds": 60.0})
    await runtime.start({Role.RELAY, Role.WORKER})
    await asyncio.sleep(0.5)
    with counted(runtime) as seen:
        await asyncio.sleep(1)
    assert len(seen) <= 2, seen  # asleep until the opening, not polling for it

    async def sent():
        return await status_of(runtime, campaign_id) == "sent"

    await eventually(sent, timeout=10)  # long before the 60 s safety timer
    [row] = await messages(runtime, campaign_id)
    assert row.updated_at >= opens


async def test_a_scheduled_campaign_is_released_at_its_time(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    due = utcnow() + timedelta(seconds=2)
    campaign = await make_campaign(
        scheduled_at=due.isoformat() + "Z", customer_ids=[customer["id"]]
    )
    assert campaign["status"] == "scheduled"
    runtime.settings = runtime.settings.model_copy(update={"scheduler_idle_seconds": 60.0})
    await runtime.start({Role.SCHEDULER, Role.RELAY, Role.WORKER})
    await asyncio.sleep(0.5)
    with counted(runtime) as seen:
        await asyncio.sleep(1)
    assert len(seen) <= 2, seen
    assert await status_of(runtime, campaign["id"]) == "scheduled"

    async def sent():
        return await status_of(runtime, campaign["id"]) == "sent"

    await eventually(sent, timeout=10)
    assert utcnow() >= due


async def test_a_lease_that_runs_out_after_an_idle_spell_is_recovered(
    client, settings, runtime, make_customer, make_campaign
):
    """Recovery idles (nothing in flight), then a send commits and a worker claims the
    message and dies: the claim is still taken back within LEASE_SECONDS plus the busy
    interval, not after the idle timer. On PostgreSQL recovery runs in another process,
    woken by the send's NOTIFY; on SQLite in this one, woken in memory."""
    quick = settings.model_copy(update={"lease_seconds": 2.0, "recovery_idle_seconds": 60.0})
    postgres = settings.is_postgres
    host = Process.create(quick) if postgres else runtime
    host.settings = quick
    try:
        await host.start({Role.RECOVERY})
        await asyncio.sleep(1)  # its first sweep found nothing in flight: idle now
        campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
        claimed = utcnow()
        async with runtime.sessions() as session, session.begin():  # a worker's claim
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.campaign_id == campaign_id)
                .values(
                    status="sending",
                    enqueued_at=claimed,
                    lease_expires_at=claimed + timedelta(seconds=2),
                )
            )
        started = time.monotonic()

        async def taken_back():
            [row] = await messages(runtime, campaign_id)
            return row.lease_expiries == 1 and row

        row = await eventually(taken_back, timeout=15)
        assert row.status == "pending"
        # lease 2 s + the busy interval (1 s) + slack; the idle timer is 60 s
        assert time.monotonic() - started < 8
    finally:
        if host is not runtime:
            await host.close()


async def test_a_campaign_scheduled_while_the_scheduler_idles_wakes_it(
    client, runtime, make_customer
):
    """The scheduler went to sleep with nothing scheduled (for up to a minute here);
    scheduling a campaign through the API wakes it to read the new due time."""
    customer = await make_customer()
    runtime.settings = runtime.settings.model_copy(update={"scheduler_idle_seconds": 60.0})
    await runtime.start({Role.SCHEDULER, Role.RELAY, Role.WORKER})
    await asyncio.sleep(1)  # its first look found nothing: asleep for the idle timer
    due = utcnow() + timedelta(seconds=1)
    response = await client.post(
        "/campaigns",
        json={
            "name": "late",
            "channel": "sms",
            "base_template": "Hi {first_name}",
            "scheduled_at": due.isoformat() + "Z",
            "customer_ids": [customer["id"]],
        },
    )
    assert response.status_code == 201, response.text

    async def sent():
        return await status_of(runtime, response.json()["id"]) == "sent"

    await eventually(sent, timeout=15)
