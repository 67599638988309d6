"""On PostgreSQL, leases and due times follow the database's clock, not each process's.

Workers, relays and recovery sweeps run on different machines whose clocks drift. Were a
lease stamped by a worker's clock and judged by a sweeper's, a sweeper an hour ahead
would take back every live claim (and its message would be sent twice); a worker an hour
ahead would postpone every retry it records by an hour.
"""

from datetime import timedelta

import pytest

from campaign_dispatch.clock import utcnow
from campaign_dispatch.queue import Job
from campaign_dispatch.repositories.outcomes import Outcome
from campaign_dispatch.statuses import MessageStatus
from tests.pipeline_helpers import messages, send_to_new_customers

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

SKEW = timedelta(hours=1)


async def test_a_sweeper_whose_clock_runs_ahead_leaves_live_claims_alone(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    [message] = await messages(runtime, campaign_id)
    repositories = runtime.resources.repositories
    lease = timedelta(seconds=60)
    async with runtime.sessions() as session, session.begin():  # a worker an hour behind
        [claim] = await repositories.claims.claim(
            session, [Job(message.id, 0)], utcnow() - SKEW, lease
        )
    async with runtime.sessions() as session, session.begin():  # a sweeper an hour ahead
        expired = await repositories.recovery.expire_leases(session, utcnow() + SKEW, max_retries=3)
    assert expired == []
    [row] = await messages(runtime, campaign_id)
    assert row.status == MessageStatus.SENDING
    assert row.lease_expires_at is not None
    assert abs(row.lease_expires_at - (utcnow() + lease)) < timedelta(seconds=30)
    assert claim.attempt == 0


async def test_a_retry_recorded_by_a_worker_whose_clock_runs_ahead_is_due_on_time(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    [message] = await messages(runtime, campaign_id)
    repositories = runtime.resources.repositories
    async with runtime.sessions() as session, session.begin():
        await repositories.claims.claim(
            session, [Job(message.id, 0)], utcnow(), timedelta(seconds=60)
        )
    async with runtime.sessions() as session, session.begin():
        await repositories.outcomes.record(
            session,
            [Outcome(message.id, 0, MessageStatus.PENDING, "Hi", "busy", retry_in=0.0)],
            utcnow() + SKEW,  # the worker's clock, an hour ahead
        )
    async with runtime.sessions() as session, session.begin():  # a relay on time
        due = await repositories.outbox.take_due(session, utcnow(), 100, timedelta(seconds=30))
    assert [(d.message_id, d.attempt) for d in due.messages] == [(message.id, 1)]
