"""The worker on the in-process queue: success, retries, redelivery, crashes, poison jobs."""

from collections import deque
from datetime import timedelta

from sqlalchemy import update

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import OutboundMessage
from campaign_dispatch.providers import MockSender
from campaign_dispatch.queue import Job
from campaign_dispatch.queue.memory import InProcessQueue
from campaign_dispatch.scheduler.recovery import Recovery
from tests.pipeline_helpers import eventually, messages

PIPELINE = {Role.RELAY, Role.WORKER}


async def campaign_status(client, campaign_id):
    return (await client.get(f"/campaigns/{campaign_id}")).json()


async def send(client, make_customer, make_campaign, count=3, **campaign_fields):
    customers = [await make_customer(first_name=f"Ann{i}", last_name=None) for i in range(count)]
    campaign = await make_campaign(base_template="Hi {first_name} {last_name}!", **campaign_fields)
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [c["id"] for c in customers]}
    )
    assert response.status_code == 202
    return campaign


async def test_a_queued_job_ends_sent_with_rendered_content(
    client, runtime, make_customer, make_campaign
):
    await runtime.start(PIPELINE)
    campaign = await send(client, make_customer, make_campaign)

    async def done():
        body = await campaign_status(client, campaign["id"])
        return body["status"] == "sent" and body

    body = await eventually(done)
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
    rows = await messages(runtime, campaign["id"])
    assert sorted(m.rendered_content for m in rows) == ["Hi Ann0!", "Hi Ann1!", "Hi Ann2!"]
    assert all(m.retry_count == 0 and m.last_error is None for m in rows)
    assert runtime.sender.delivered == 3


async def test_always_failing_sender_retries_three_times_then_fails(
    client, runtime, make_customer, make_campaign
):
    runtime.sender = MockSender(failure_rate=1.0)
    await runtime.start(PIPELINE)
    campaign = await send(client, make_customer, make_campaign, count=2)

    async def done():
        body = await campaign_status(client, campaign["id"])
        return body["status"] == "failed" and body

    body = await eventually(done)
    assert body["stats"]["failed"] == 2
    rows = await messages(runtime, campaign["id"])
    assert {m.status for m in rows} == {"failed"}
    assert {m.retry_count for m in rows} == {3}
    assert all(m.last_error and m.last_error.startswith("mock provider:") for m in rows)
    assert runtime.sender.failures == 8  # 1 attempt + 3 retries, per message
    queue = runtime.queue
    assert isinstance(queue, InProcessQueue)
    dead = sorted(Job.decode(body).message_id for body, _ in queue.dead_letters)
    assert dead == sorted(m.id for m in rows)
    assert all("failed after 3 retries" in reason for _, reason in queue.dead_letters)


async def test_a_flaky_message_is_retried_and_then_sent(
    client, runtime, make_customer, make_campaign
):
    class FailTwice(MockSender):
        async def send(self, request):
            if self.failures < 2:
                self.failures += 1
                from campaign_dispatch.providers import SendResult
                from campaign_dispatch.statuses import ProviderOutcome

                return SendResult(ProviderOutcome.RETRYABLE, detail="timeout")
            return await super().send(request)

    runtime.sender = FailTwice()
    await runtime.start(PIPELINE)
    campaign = await send(client, make_customer, make_campaign, count=1)

    await eventually(lambda: _status_is(client, campaign["id"], "sent"))
    [row] = await messages(runtime, campaign["id"])
    assert (row.status, row.retry_count, row.last_error) == ("sent", 2, "mock provider: timeout")


async def _status_is(client, campaign_id, status):
    return (await campaign_status(client, campaign_id))["status"] == status


async def test_redelivered_job_of_a_sent_message_is_ignored(
    client, runtime, make_customer, make_campaign
):
    await runtime.start(PIPELINE)
    campaign = await send(client, make_customer, make_campaign, count=1)
    await eventually(lambda: _status_is(client, campaign["id"], "sent"))
    [row] = await messages(runtime, campaign["id"])
    calls_before = runtime.sender.delivered + runtime.sender.duplicates

    await runtime.queue.publish([Job(row.id, 0), Job(row.id, 0)])

    await eventually(lambda: _queue_drained(runtime))
    assert runtime.sender.delivered + runtime.sender.duplicates == calls_before
    [again] = await messages(runtime, campaign["id"])
    assert (again.status, again.updated_at) == ("sent", row.updated_at)


def recovery_for(runtime):
    resources = runtime.resources
    return Recovery(
        resources.database,
        resources.repositories,
        resources.queue,
        max_retries=3,
        requeue_after_seconds=600,
        interval=1,
    )


async def _queue_drained(runtime):
    return runtime.queue.idle


async def test_unknown_and_malformed_jobs_are_acked_not_looped(client, runtime):
    await runtime.start(PIPELINE)
    queue = runtime.queue
    await queue.publish([Job(987654, 0)])
    queue.put(b"not json")
    queue.put(b'{"outbound_message_id": "1"}')

    await eventually(lambda: _queue_drained(runtime))
    assert runtime.sender.delivered == 0
    reasons = [reason for _, reason in queue.dead_letters]
    assert len(reasons) == 2 and all(r.startswith("malformed job") for r in reasons)


async def test_a_claim_left_by_a_crashed_worker_is_reclaimed_and_finished(
    client, runtime, make_customer, make_campaign
):
    campaign = await send(client, make_customer, make_campaign, count=2)
    rows = await messages(runtime, campaign["id"])
    crashed = rows[0]
    async with runtime.sessions() as session, session.begin():
        await session.execute(  # a worker claimed it, then died before recording anything
            update(OutboundMessage)
            .where(OutboundMessage.id == crashed.id)
            .values(
                status="sending",
                enqueued_at=utcnow(),
                lease_expires_at=utcnow() - timedelta(seconds=1),
            )
        )

    recovery = recovery_for(runtime)
    await recovery.sweep()
    await runtime.start(PIPELINE)

    await eventually(lambda: _status_is(client, campaign["id"], "sent"))
    by_id = {m.id: m for m in await messages(runtime, campaign["id"])}
    assert by_id[crashed.id].status == "sent"
    assert by_id[crashed.id].retry_count == 1
    assert "lease expired" in by_id[crashed.id].last_error
    assert runtime.sender.delivered == 2


async def test_work_queued_before_a_restart_is_finished_after_it(
    client, runtime, make_customer, make_campaign
):
    """The embedded queue is memory only: a restart republishes from the database."""
    campaign = await send(client, make_customer, make_campaign, count=3)
    async with runtime.sessions() as session, session.begin():
        await session.execute(  # published to a queue that died with its process
            update(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign["id"])
            .values(enqueued_at=utcnow())
        )
    await runtime.start(PIPELINE)
    await eventually(lambda: _status_is(client, campaign["id"], "sent"))
    assert runtime.sender.delivered == 3


async def test_a_claim_expiring_at_the_retry_limit_gets_one_more_attempt_then_fails(
    client, runtime, make_customer, make_campaign
):
    """An expiry is not a failure: on the last attempt it still earns one more, once."""
    campaign = await send(client, make_customer, make_campaign, count=1)
    [row] = await messages(runtime, campaign["id"])

    async def claim_expired(attempt):
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == row.id)
                .values(
                    status="sending",
                    retry_count=attempt,
                    lease_expires_at=utcnow() - timedelta(seconds=1),
                )
            )

    recovery = recovery_for(runtime)
    await claim_expired(3)  # the last attempt MAX_RETRIES allows
    await recovery.sweep()
    [again] = await messages(runtime, campaign["id"])
    assert (again.status, again.retry_count, again.lease_expiries) == ("pending", 4, 1)
    assert runtime.queue.dead_letters == deque()

    await claim_expired(4)  # the extra attempt's claim runs out too
    await recovery.sweep()
    [failed] = await messages(runtime, campaign["id"])
    assert (failed.status, failed.retry_count, failed.lease_expiries) == ("failed", 4, 2)
    assert [Job.decode(body) for body, _ in runtime.queue.dead_letters] == [Job(row.id, 4)]
    assert "lease expired" in runtime.queue.dead_letters[0][1]
    assert (await campaign_status(client, campaign["id"]))["status"] == "failed"


async def test_a_lost_job_is_republished_by_age_while_the_queue_never_empties(
    client, runtime, make_customer, make_campaign
):
    campaign = await send(client, make_customer, make_campaign, count=2)
    [lost, recent] = await messages(runtime, campaign["id"])
    long_ago = utcnow() - timedelta(hours=1)
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == lost.id)
            .values(enqueued_at=long_ago)
        )
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == recent.id)
            .values(enqueued_at=utcnow())
        )
    recovery = recovery_for(runtime)
    runtime.queue.put(b'{"outbound_message_id": 999999, "attempt": 0}')  # the queue is busy

    await recovery.sweep()
    by_id = {m.id: m.enqueued_at for m in await messages(runtime, campaign["id"])}
    assert by_id[lost.id] is None  # handed back to the relay, to be published again
    assert by_id[recent.id] is not None  # published recently: not lost, left alone
    assert await runtime.queue.waiting() == 1  # whatever waited is still there
