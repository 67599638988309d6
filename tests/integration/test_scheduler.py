"""Scheduled dispatch: due campaigns are released once, by racing schedulers and after a crash."""

import asyncio
from datetime import timedelta

from sqlalchemy import select, update
from structlog.testing import capture_logs

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.models import Campaign
from campaign_dispatch.repositories import messages as messages_repo
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.scheduler.dispatch import Scheduler
from tests.pipeline_helpers import eventually, messages

FUTURE = "2099-01-01T08:00:00Z"


async def scheduled(make_campaign, audience=None):
    fields = {"scheduled_at": FUTURE}
    if audience:
        fields["customer_ids"] = [c["id"] for c in audience]
    campaign = await make_campaign(**fields)
    assert campaign["status"] == "scheduled"
    return campaign["id"]


async def make_due(runtime, campaign_id, ago=timedelta(seconds=1)):
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(scheduled_at=utcnow() - ago)
        )


async def status_of(runtime, campaign_id):
    async with runtime.sessions() as session:
        return await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


def scheduler_for(database):
    return Scheduler(database, PipelineRepositories.for_dialect(database.dialect).outbox)


def release_errors(logs):
    return [e for e in logs if e["event"] == "scheduled release failed"]


async def test_a_due_campaign_is_released_once_to_its_audience(
    runtime, make_customer, make_campaign
):
    audience = [await make_customer() for _ in range(3)]
    campaign_id = await scheduled(make_campaign, audience)
    await make_due(runtime, campaign_id)
    scheduler = scheduler_for(runtime.resources.database)

    assert await scheduler.release_due() == [campaign_id]

    rows = await messages(runtime, campaign_id)
    assert sorted(m.customer_id for m in rows) == sorted(c["id"] for c in audience)
    assert {m.status for m in rows} == {"pending"}
    assert await status_of(runtime, campaign_id) == "sending"
    assert await scheduler.release_due() == []
    assert len(await messages(runtime, campaign_id)) == 3


async def test_running_roles_release_and_send_a_due_campaign(
    client, runtime, make_customer, make_campaign
):
    runtime.settings = runtime.settings.model_copy(update={"scheduler_interval_seconds": 0.05})
    await runtime.start({Role.SCHEDULER, Role.RELAY, Role.WORKER})
    audience = [await make_customer(first_name=f"N{i}") for i in range(3)]
    campaign_id = await scheduled(make_campaign, audience)
    await asyncio.sleep(0.2)  # a few scheduler passes: not due yet
    assert await status_of(runtime, campaign_id) == "scheduled"

    await make_due(runtime, campaign_id)
    # A row changed by hand wakes nobody; the API's schedule change would (its commit
    # signals this process, and NOTIFYs others).
    runtime.wake_relay()

    async def sent():
        body = (await client.get(f"/campaigns/{campaign_id}")).json()
        return body["status"] == "sent" and body

    body = await eventually(sent)
    assert body["stats"] == {
        "total": 3,
        "pending": 0,
        "sending": 0,
        "sent": 3,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }
    rows = await messages(runtime, campaign_id)
    assert sorted(m.rendered_content for m in rows) == ["Hi N0", "Hi N1", "Hi N2"]
    assert runtime.sender.delivered == 3


async def test_a_future_campaign_is_not_released_early(runtime, make_customer, make_campaign):
    campaign_id = await scheduled(make_campaign, [await make_customer()])
    await make_due(runtime, campaign_id, ago=-timedelta(minutes=1))

    assert await scheduler_for(runtime.resources.database).release_due() == []

    assert await status_of(runtime, campaign_id) == "scheduled"
    assert await messages(runtime, campaign_id) == []


async def test_a_scheduled_campaign_without_audience_is_left_alone(
    runtime, make_customer, make_campaign
):
    no_audience = await scheduled(make_campaign)
    with_audience = await scheduled(make_campaign, [await make_customer()])
    await make_due(runtime, no_audience, ago=timedelta(minutes=2))
    await make_due(runtime, with_audience)

    assert await scheduler_for(runtime.resources.database).release_due() == [with_audience]

    assert await status_of(runtime, no_audience) == "scheduled"
    assert await messages(runtime, no_audience) == []


async def test_racing_schedulers_release_each_campaign_exactly_once(
    settings, runtime, make_customer, make_campaign
):
    """Four schedulers on two engines (as if two processes each ran two), twelve rounds."""
    audience = [await make_customer() for _ in range(4)]
    other = Database.connect(settings.database_url)
    try:
        schedulers = [
            scheduler_for(runtime.resources.database),
            scheduler_for(runtime.resources.database),
            scheduler_for(other),
            scheduler_for(other),
        ]
        for _ in range(12):
            ids = [await scheduled(make_campaign, audience) for _ in range(3)]
            for campaign_id in ids:
                await make_due(runtime, campaign_id)

            with capture_logs() as logs:
                results = await asyncio.gather(*(s.release_due() for s in schedulers))

            released = [cid for result in results for cid in result]
            assert sorted(released) == sorted(ids)
            assert release_errors(logs) == []
            for campaign_id in ids:
                assert len(await messages(runtime, campaign_id)) == len(audience)
                assert await status_of(runtime, campaign_id) == "sending"
    finally:
        await other.dispose()


async def test_a_release_that_fails_midway_is_rolled_back_and_redone_once(
    settings, runtime, make_customer, make_campaign, monkeypatch
):
    audience = [await make_customer() for _ in range(2)]
    campaign_id = await scheduled(make_campaign, audience)
    await make_due(runtime, campaign_id)
    seen = []

    async def crash(session, released_id, customer_ids, now, segment=None, stamp=None):
        seen.append(await session.scalar(select(Campaign.status).where(Campaign.id == released_id)))
        raise RuntimeError("process died")

    monkeypatch.setattr(messages_repo, "create_pending", crash)
    with capture_logs() as logs:
        assert await scheduler_for(runtime.resources.database).release_due() == []

    assert seen == ["scheduled"]  # it failed mid-release: messages go in before the status changes
    assert [e["campaign_id"] for e in release_errors(logs)] == [campaign_id]
    assert await status_of(runtime, campaign_id) == "scheduled"
    assert await messages(runtime, campaign_id) == []

    monkeypatch.undo()
    restarted_database = Database.connect(settings.database_url)
    try:
        restarted = scheduler_for(restarted_database)
        assert await restarted.release_due() == [campaign_id]
        assert await restarted.release_due() == []
    finally:
        await restarted_database.dispose()
    rows = await messages(runtime, campaign_id)
    assert sorted(m.customer_id for m in rows) == sorted(c["id"] for c in audience)
    assert await status_of(runtime, campaign_id) == "sending"


async def test_a_campaign_that_cannot_be_released_does_not_hold_up_later_ones(
    runtime, make_customer, make_campaign, monkeypatch
):
    customer = await make_customer()
    broken = await scheduled(make_campaign, [customer])
    healthy = await scheduled(make_campaign, [customer])
    await make_due(runtime, broken, ago=timedelta(minutes=5))
    await make_due(runtime, healthy)
    real_create_messages = messages_repo.create_pending

    async def fail_for_broken(session, campaign_id, customer_ids, now, segment=None, stamp=None):
        if campaign_id == broken:
            raise RuntimeError("poison campaign")
        return await real_create_messages(session, campaign_id, customer_ids, now, segment, stamp)

    monkeypatch.setattr(messages_repo, "create_pending", fail_for_broken)
    with capture_logs() as logs:
        assert await scheduler_for(runtime.resources.database).release_due() == [healthy]

    assert [e["campaign_id"] for e in release_errors(logs)] == [broken]
    assert await status_of(runtime, broken) == "scheduled"
    assert len(await messages(runtime, healthy)) == 1
