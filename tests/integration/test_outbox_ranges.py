"""A send's messages published from an outbox range on PostgreSQL: each one once, in
pieces, and whatever happens to them meanwhile (a pause, the recovery of lost jobs)
neither loses one nor publishes one twice."""

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import OutboundMessage, OutboxRange, RelayBatch
from campaign_dispatch.queue import Job
from campaign_dispatch.relay import Relay
from campaign_dispatch.scheduler.recovery import Recovery
from tests.pipeline_helpers import eventually, messages, send_to_new_customers, take, unpublished

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _published(runtime) -> Counter[int]:
    return Counter(Job.decode(body).message_id for body in runtime.queue._items)


async def _count(runtime, model) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _relay_until_idle(runtime, batch_size: int) -> None:
    resources = runtime.resources
    relay = Relay(resources.database, resources.repositories.outbox, runtime.queue, batch_size)
    while await relay.publish_due():
        pass


async def test_a_send_is_born_covered_and_published_once_in_pieces(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 10)
    rows = await messages(runtime, campaign_id)
    assert all(m.enqueued_at is not None for m in rows)  # nothing for the relay to mark
    assert await unpublished(runtime, campaign_id) == {m.id for m in rows}
    assert await _count(runtime, OutboxRange) == 1

    first = await take(runtime, 4, 60)
    assert [d.message_id for d in first.messages] == [m.id for m in rows[:4]]
    assert first.piece is not None and first.piece.last_id == rows[3].id

    await _relay_until_idle(runtime, batch_size=4)  # the rest: 4, then 2
    assert _published(runtime) == Counter(m.id for m in rows[4:])
    assert await _count(runtime, OutboxRange) == 0
    assert await _count(runtime, RelayBatch) == 1  # the first piece, never confirmed
    assert await unpublished(runtime, campaign_id) == set()


async def test_a_paused_campaigns_range_publishes_nothing_and_resume_everything_once(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 6)
    assert (await client.post(f"/campaigns/{campaign_id}/pause")).status_code == 200
    await _relay_until_idle(runtime, batch_size=4)
    assert len(runtime.queue) == 0  # parked: passed by, and the range is done
    assert await _count(runtime, OutboxRange) == 0

    assert (await client.post(f"/campaigns/{campaign_id}/resume")).status_code == 200
    await _relay_until_idle(runtime, batch_size=4)
    assert _published(runtime) == Counter(m.id for m in await messages(runtime, campaign_id))


async def test_a_piece_abandoned_mid_range_is_published_again_from_its_start(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 5)
    rows = await messages(runtime, campaign_id)
    await take(runtime, 2, hold_seconds=0)  # the relay dies holding the first two
    await _relay_until_idle(runtime, batch_size=2)  # another publishes the other three
    assert _published(runtime) == Counter(m.id for m in rows[2:])

    recovery = Recovery(
        runtime.resources.database,
        runtime.resources.repositories,
        runtime.queue,
        max_retries=3,
        requeue_after_seconds=600,
        interval=1,
    )
    await recovery.sweep()  # the abandoned piece becomes a range again
    assert await unpublished(runtime, campaign_id) == {rows[0].id, rows[1].id}
    await _relay_until_idle(runtime, batch_size=2)
    assert _published(runtime) == Counter(m.id for m in rows)


async def test_messages_the_lost_job_recovery_takes_over_leave_the_range(
    client, runtime, make_customer, make_campaign
):
    """A range waiting longer than REQUEUE_AFTER_SECONDS (a relay far behind): the
    recovery makes its messages ordinary unpublished ones, and the range passes them by,
    so each is still published once."""
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 4)
    rows = await messages(runtime, campaign_id)
    long_ago = utcnow() - timedelta(hours=1)
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_([m.id for m in rows[:2]]))
            .values(enqueued_at=long_ago)
        )
        await session.execute(update(OutboxRange).values(stamp=long_ago))
    async with runtime.sessions() as session, session.begin():
        recovery = runtime.resources.repositories.recovery
        assert await recovery.requeue_lost(session, utcnow(), timedelta(seconds=600)) == 2
    await _relay_until_idle(runtime, batch_size=10)
    assert _published(runtime) == Counter(m.id for m in rows[:2])  # the others lost the stamp
    assert await unpublished(runtime, campaign_id) == set()


async def test_the_relay_loop_publishes_a_range_end_to_end(
    client, runtime, make_customer, make_campaign
):
    await runtime.start({Role.RELAY})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 7)
    runtime.wake_relay()

    async def all_queued():
        return len(runtime.queue) == 7

    await eventually(all_queued, timeout=10)
    assert _published(runtime) == Counter(m.id for m in await messages(runtime, campaign_id))
    assert await _count(runtime, RelayBatch) == 0
    assert await _count(runtime, OutboxRange) == 0


async def test_a_range_spans_the_campaigns_messages_and_none_covers_no_message(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    rows = await messages(runtime, campaign_id)
    empty = await make_campaign()
    outbox = runtime.resources.repositories.outbox
    async with runtime.sessions() as session, session.begin():
        await outbox.cover(session, empty["id"], utcnow())  # no messages: no range
        spans = (
            await session.execute(
                select(OutboxRange.campaign_id, OutboxRange.next_id, OutboxRange.last_id)
            )
        ).all()
    assert [tuple(s) for s in spans] == [(campaign_id, rows[0].id, rows[-1].id)]
