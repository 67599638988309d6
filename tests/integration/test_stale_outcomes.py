"""A worker that outlived its lease cannot overwrite the attempt that replaced its claim."""

from datetime import timedelta

from campaign_dispatch.clock import utcnow
from campaign_dispatch.queue import Job
from campaign_dispatch.repositories.outcomes import Outcome
from campaign_dispatch.statuses import MessageStatus
from tests.pipeline_helpers import messages


async def test_a_late_outcome_of_an_expired_claim_is_ignored(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign()
    await client.post(f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]})
    [message] = await messages(runtime, campaign["id"])
    lease = timedelta(seconds=60)
    repositories = runtime.resources.repositories

    async with runtime.sessions() as session, session.begin():  # worker A claims attempt 0
        [a] = await repositories.claims.claim(session, [Job(message.id, 0)], utcnow(), lease)
    async with runtime.sessions() as session, session.begin():  # A's lease runs out
        await repositories.recovery.expire_leases(
            session, utcnow(), max_retries=3, expired_before=utcnow() + 2 * lease
        )
    async with runtime.sessions() as session, session.begin():  # worker B claims attempt 1
        [b] = await repositories.claims.claim(session, [Job(message.id, 1)], utcnow(), lease)
    assert (a.attempt, b.attempt) == (0, 1)

    async with runtime.sessions() as session, session.begin():  # A finally reports a failure
        await repositories.outcomes.record(
            session,
            [
                Outcome(
                    message.id,
                    a.attempt,
                    MessageStatus.PENDING,
                    "Hi",
                    "late",
                    1.0,
                )
            ],
            utcnow(),
        )
    [still_b] = await messages(runtime, campaign["id"])
    assert (still_b.status, still_b.retry_count) == ("sending", 1)

    async with runtime.sessions() as session, session.begin():  # B reports success
        await repositories.outcomes.record(
            session, [Outcome(message.id, b.attempt, MessageStatus.SENT, "Hi")], utcnow()
        )
    [done] = await messages(runtime, campaign["id"])
    assert (done.status, done.retry_count, done.rendered_content) == ("sent", 1, "Hi")


async def test_an_outcome_is_written_only_to_the_campaign_its_claim_returned(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    campaign = await make_campaign()
    await client.post(f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]})
    [message] = await messages(runtime, campaign["id"])
    repositories = runtime.resources.repositories
    async with runtime.sessions() as session, session.begin():
        [claim] = await repositories.claims.claim(
            session, [Job(message.id, 0)], utcnow(), timedelta(seconds=60)
        )
    assert claim.campaign_id == campaign["id"]

    for campaign_id, status in ((campaign["id"] + 1, "sending"), (campaign["id"], "sent")):
        async with runtime.sessions() as session, session.begin():
            await repositories.outcomes.record(
                session,
                [Outcome(message.id, 0, MessageStatus.SENT, "Hi", campaign_id=campaign_id)],
                utcnow(),
            )
        [written] = await messages(runtime, campaign["id"])
        assert written.status == status
