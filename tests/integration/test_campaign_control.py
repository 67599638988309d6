"""Pause, resume, cancel and retry-failed, on the in-process queue (SQLite and PostgreSQL).

The sender records every call, so "nothing was sent" is checked at the sender, not only
in our own tables.
"""

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Campaign, CampaignMessageCount, MessageAttempt, OutboundMessage
from campaign_dispatch.providers import MockSender, SendRequest, SendResult
from campaign_dispatch.repositories.messages import PARKED_AT
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.statuses import ProviderOutcome
from tests.api_helpers import assert_error
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}


class GatedSender:
    """Every call is recorded, then waits for the gate; `fail` ids get a retryable refusal."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = asyncio.Event()
        self.fail: set[int] = set()

    name = "gated"

    async def send(self, request: SendRequest) -> SendResult:
        self.calls.append(request.message_id)
        await self.gate.wait()
        if request.message_id in self.fail:
            return SendResult(ProviderOutcome.RETRYABLE, detail="gated sender: rejected")
        return SendResult.accepted(f"gated-{request.message_id}")

    async def aclose(self) -> None:
        return None


def narrow(runtime, **changes):
    """Few messages in flight at once, so that a pause lands mid-campaign."""
    runtime.settings = runtime.settings.model_copy(
        update={"worker_concurrency": 2, "worker_batch_size": 1, **changes}
    )


async def detail(client, campaign_id):
    response = await client.get(f"/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def until_status(client, campaign_id, status):
    async def check():
        body = await detail(client, campaign_id)
        return body["status"] == status and body

    return await eventually(check)


async def real_counts(runtime, campaign_id):
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboundMessage.status, func.count())
            .where(OutboundMessage.campaign_id == campaign_id)
            .group_by(OutboundMessage.status)
        )
        return {status: n for status, n in rows.all()}


async def gated_campaign(client, runtime, make_customer, make_campaign, count):
    """A campaign of `count` sent with two provider calls held at the gate."""
    narrow(runtime)
    sender = GatedSender()
    runtime.sender = sender
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count)
    await eventually(lambda: asyncio.sleep(0, len(sender.calls) >= 2))
    return sender, campaign_id


def stats_without_total(body):
    return {k: v for k, v in body["stats"].items() if k != "total" and v}


async def test_pause_stops_claims_and_resume_sends_the_rest_once(
    client, runtime, make_customer, make_campaign
):
    sender, campaign_id = await gated_campaign(client, runtime, make_customer, make_campaign, 12)

    paused = await client.post(f"/campaigns/{campaign_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["pause_reason"] == "paused by an operator"
    in_flight = len(sender.calls)
    assert in_flight <= 2
    sender.gate.set()  # the attempts in flight finish and are recorded
    await eventually(lambda: _sent_count(runtime, campaign_id, in_flight))
    await asyncio.sleep(1.0)  # paused: the queued jobs are acknowledged, none is sent
    assert len(sender.calls) == in_flight
    body = await detail(client, campaign_id)
    assert body["status"] == "paused"
    assert body["stats"]["sent"] == in_flight
    assert body["stats"]["pending"] == 12 - in_flight

    resumed = await client.post(f"/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["pause_reason"] is None
    body = await until_status(client, campaign_id, "sent")
    assert body["stats"]["sent"] == 12
    assert Counter(sender.calls).most_common(1)[0][1] == 1  # nobody got two
    assert len(sender.calls) == 12
    assert stats_without_total(body) == await real_counts(runtime, campaign_id)


async def _sent_count(runtime, campaign_id, expected):
    rows = await messages(runtime, campaign_id)
    return sum(m.status == "sent" for m in rows) == expected


async def test_cancel_mid_campaign_sends_nothing_more_and_counts_reconcile(
    client, runtime, make_customer, make_campaign
):
    sender, campaign_id = await gated_campaign(client, runtime, make_customer, make_campaign, 10)

    cancelled = await client.post(f"/campaigns/{campaign_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    in_flight = len(sender.calls)
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert body["stats"]["cancelled"] == 10 - in_flight
    sender.gate.set()
    await eventually(lambda: _sent_count(runtime, campaign_id, in_flight))
    await asyncio.sleep(0.5)
    assert len(sender.calls) == in_flight
    body = await detail(client, campaign_id)
    stats = body["stats"]
    assert body["status"] == "cancelled"
    assert stats["sent"] + stats["failed"] + stats["cancelled"] == stats["total"] == 10
    assert stats_without_total(body) == await real_counts(runtime, campaign_id)


async def test_a_retry_in_flight_when_the_campaign_is_cancelled_fails_instead(
    client, runtime, make_customer, make_campaign
):
    sender, campaign_id = await gated_campaign(client, runtime, make_customer, make_campaign, 4)
    sender.fail = set(sender.calls)  # the two in flight fail, and would be retried
    await client.post(f"/campaigns/{campaign_id}/cancel")
    sender.gate.set()

    async def settled():
        counts = await real_counts(runtime, campaign_id)
        return counts.get("failed") == 2 and counts

    counts = await eventually(settled)
    assert counts == {"failed": 2, "cancelled": 2}  # nothing left pending for ever


async def test_control_answers_409_in_the_wrong_status(client, make_campaign):
    campaign = await make_campaign()
    path = f"/campaigns/{campaign['id']}"
    assert_error(await client.post(f"{path}/pause"), 409, "CAMPAIGN_NOT_PAUSABLE")
    assert_error(await client.post(f"{path}/resume"), 409, "CAMPAIGN_NOT_RESUMABLE")
    assert_error(await client.post(f"{path}/retry-failed"), 409, "CAMPAIGN_NOT_RETRYABLE")
    cancelled = await client.post(f"{path}/cancel")  # a draft can be cancelled
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert_error(await client.post(f"{path}/cancel"), 409, "CAMPAIGN_NOT_CANCELLABLE")
    assert_error(await client.post("/campaigns/999999/pause"), 404, "CAMPAIGN_NOT_FOUND")
    sent = await client.post(f"{path}/send", json={"customer_ids": [1]})
    assert_error(sent, 409, "CAMPAIGN_NOT_SENDABLE")


async def test_a_pause_reason_is_shown(client, runtime, make_customer, make_campaign):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)
    paused = await client.post(
        f"/campaigns/{campaign_id}/pause", json={"reason": "waiting for the new price list"}
    )
    assert paused.json()["pause_reason"] == "waiting for the new price list"
    assert (await detail(client, campaign_id))["pause_reason"] == "waiting for the new price list"


async def test_retry_failed_requeues_only_transient_failures_once_per_key(
    client, runtime, make_customer, make_campaign
):
    runtime.sender = MockSender(failure_rate=1.0)
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    await until_status(client, campaign_id, "failed")
    rows = await messages(runtime, campaign_id)
    terminal = rows[0].id
    async with runtime.sessions.begin() as session:  # as a template error leaves one
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == terminal)
            .values(error_code="TEMPLATE_ERROR")
        )
    runtime.sender = MockSender()
    headers = {"Idempotency-Key": "retry-1"}
    path = f"/campaigns/{campaign_id}/retry-failed"
    first = await client.post(path, headers=headers)
    again = await client.post(path, headers=headers)
    assert first.status_code == again.status_code == 202, first.text
    assert (
        first.json()
        == again.json()
        == {
            "campaign_id": campaign_id,
            "messages_queued": 2,
            "status": "sending",
        }
    )
    body = await until_status(client, campaign_id, "sent")
    assert body["stats"]["sent"] == 2
    assert body["stats"]["failed"] == 1
    after = {m.id: m for m in await messages(runtime, campaign_id)}
    assert after[terminal].status == "failed"
    retried = [m for m in after.values() if m.id != terminal]
    assert all(m.retry_count == 4 and m.series_start == 4 for m in retried)
    assert runtime.sender.delivered == 2  # queued once, though asked twice

    history = await client.get(f"/campaigns/{campaign_id}/messages/{retried[0].id}")
    assert history.status_code == 200, history.text
    attempts = history.json()["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5]
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "retry", "failed", "sent"]
    assert attempts[0]["error_code"] == "PROVIDER_ERROR"
    assert attempts[0]["error"].startswith("mock provider:")
    assert attempts[-1]["error_code"] is None


async def test_a_message_of_another_campaign_is_404(client, runtime, make_customer, make_campaign):
    first = await send_to_new_customers(client, make_customer, make_campaign, 1)
    other = await send_to_new_customers(client, make_customer, make_campaign, 1)
    message = (await messages(runtime, first))[0]
    assert (await client.get(f"/campaigns/{first}/messages/{message.id}")).status_code == 200
    response = await client.get(f"/campaigns/{other}/messages/{message.id}")
    assert_error(response, 404, "MESSAGE_NOT_FOUND")


async def test_a_campaign_failing_too_often_pauses_itself(
    client, runtime, make_customer, make_campaign
):
    narrow(runtime, auto_pause_window=10, auto_pause_failure_rate=0.5, max_retries=0)
    runtime.sender = MockSender(failure_rate=1.0)
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 40)
    body = await until_status(client, campaign_id, "paused")
    assert body["pause_reason"].startswith("automatic: more than 50% of the last 10 attempts")
    await asyncio.sleep(0.5)
    sent_while_paused = runtime.sender.failures
    await asyncio.sleep(0.5)
    assert runtime.sender.failures == sent_while_paused
    assert (await detail(client, campaign_id))["stats"]["pending"] > 0

    runtime.sender = MockSender()  # the provider is fixed: resume finishes the campaign
    await client.post(f"/campaigns/{campaign_id}/resume")
    body = await until_status(client, campaign_id, "sent")
    assert stats_without_total(body) == await real_counts(runtime, campaign_id)
    async with runtime.sessions() as session:
        attempts = await session.scalar(
            select(func.count()).where(MessageAttempt.campaign_id == campaign_id)
        )
    assert attempts == 40


async def test_the_counters_equal_a_real_count_after_every_kind_of_change(
    client, runtime, make_customer, make_campaign
):
    runtime.sender = MockSender(failure_rate=0.5, seed=7)
    ids = [await send_to_new_customers(client, make_customer, make_campaign, 15) for _ in range(3)]
    assert (await client.post(f"/campaigns/{ids[1]}/pause")).status_code == 200
    assert (await client.post(f"/campaigns/{ids[2]}/cancel")).status_code == 200
    await runtime.start(PIPELINE)  # after the pause and cancel: neither can come too late
    await eventually(lambda: _done(client, ids[0]))
    assert (await client.post(f"/campaigns/{ids[1]}/resume")).status_code == 200
    await eventually(lambda: _done(client, ids[1]))
    assert (await client.post(f"/campaigns/{ids[0]}/retry-failed")).status_code == 202
    await eventually(lambda: _done(client, ids[0]))
    async with runtime.sessions() as session:
        kept = await session.execute(
            select(
                CampaignMessageCount.campaign_id,
                CampaignMessageCount.status,
                CampaignMessageCount.n,
            ).where(CampaignMessageCount.n != 0)
        )
        counted = await session.execute(
            select(OutboundMessage.campaign_id, OutboundMessage.status, func.count()).group_by(
                OutboundMessage.campaign_id, OutboundMessage.status
            )
        )
        assert sorted(kept.all()) == sorted(counted.all())


async def _done(client, campaign_id):
    return (await detail(client, campaign_id))["status"] in ("sent", "failed", "cancelled")


async def test_resuming_a_campaign_with_nothing_left_completes_it(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)
    await client.post(f"/campaigns/{campaign_id}/pause")
    async with runtime.sessions.begin() as session:  # its last attempts finished while paused
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign_id)
            .values(status="sent")
        )
    resumed = await client.post(f"/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "sent"
    assert (await detail(client, campaign_id))["status"] == "sent"


async def test_the_automatic_pause_parks_the_rest_and_spares_a_finished_campaign(
    client, runtime, make_customer, make_campaign
):
    outcomes = PipelineRepositories.for_dialect(runtime.engine.dialect.name).outcomes
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    rows = await messages(runtime, campaign_id)
    now = utcnow()
    async with runtime.sessions.begin() as session:  # 10 failed attempts of the first two
        await session.execute(
            insert(MessageAttempt),
            [
                {
                    "message_id": rows[i % 2].id,
                    "campaign_id": campaign_id,
                    "attempt": i + 1,
                    "at": now,
                    "outcome": "retry",
                    "error_code": "PROVIDER_ERROR",
                }
                for i in range(10)
            ],
        )
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_([rows[0].id, rows[1].id]))
            .values(status="failed")
        )
    async with runtime.sessions.begin() as session:
        assert await outcomes.pause_failing(session, [campaign_id], 10, 0.5, now) == [campaign_id]
    after = {m.id: m for m in await messages(runtime, campaign_id)}
    assert after[rows[2].id].enqueued_at is not None  # parked: the relay passes it by
    assert (await detail(client, campaign_id))["status"] == "paused"

    async with runtime.sessions.begin() as session:  # its last message fails too
        await session.execute(
            update(OutboundMessage).where(OutboundMessage.id == rows[2].id).values(status="failed")
        )
    resumed = await client.post(f"/campaigns/{campaign_id}/resume")
    assert resumed.json()["status"] == "failed"  # nothing left: it ends, not sending
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(status="sending")
        )
        assert await outcomes.pause_failing(session, [campaign_id], 10, 0.5, now) == []


async def test_a_paused_campaign_is_left_alone_by_the_lost_job_recovery(
    client, runtime, make_customer, make_campaign
):
    repositories = PipelineRepositories.for_dialect(runtime.engine.dialect.name)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    async with runtime.sessions.begin() as session:  # one was published before the pause
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.campaign_id == campaign_id)
            .values(enqueued_at=utcnow() - timedelta(hours=1))
        )
    await client.post(f"/campaigns/{campaign_id}/pause")
    async with runtime.sessions.begin() as session:
        requeued = await repositories.recovery.requeue_lost(session, utcnow(), timedelta(0))
    assert requeued == 0
    assert all(m.enqueued_at == PARKED_AT for m in await messages(runtime, campaign_id))
    await client.post(f"/campaigns/{campaign_id}/resume")
    assert all(m.enqueued_at is None for m in await messages(runtime, campaign_id))
