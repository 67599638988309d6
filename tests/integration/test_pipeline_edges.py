"""Edges of the pipeline that once crashed or misled it: hostile job bodies, a stale
publish mark, a shared template cache emptied mid-batch, a personalizer that hangs."""

import asyncio

from sqlalchemy import update

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import OutboundMessage
from campaign_dispatch.providers.mock import MockSender
from campaign_dispatch.queue import Job
from campaign_dispatch.repositories.outbox import DueMessage
from campaign_dispatch.statuses import MessageStatus
from campaign_dispatch.templating import TemplatePersonalizer
from campaign_dispatch.worker.processor import BatchProcessor
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

DEEP = b"[" * 100_000


async def test_a_deeply_nested_job_body_is_dead_lettered_not_looped(runtime):
    await runtime.start({Role.WORKER})
    runtime.queue.put(DEEP)
    await eventually(lambda: asyncio.sleep(0, runtime.queue.idle and runtime.queue.dead_letters))
    [(body, reason)] = runtime.queue.dead_letters
    assert body == DEEP
    assert reason.startswith("malformed job")


async def test_a_stale_publish_mark_leaves_a_newer_attempt_unpublished(
    client, runtime, make_customer, make_campaign
):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    [message] = await messages(runtime, campaign_id)
    async with runtime.sessions() as session, session.begin():  # a retry: attempt 2, unpublished
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message.id)
            .values(retry_count=2, enqueued_at=None)
        )
    outbox = runtime.resources.repositories.outbox
    async with runtime.sessions() as session, session.begin():  # attempt 1's job is marked late
        await outbox.mark_enqueued(session, [DueMessage(message.id, 1)], utcnow())
    [still] = await messages(runtime, campaign_id)
    assert still.enqueued_at is None  # attempt 2's own job will still be published

    async with runtime.sessions() as session, session.begin():
        await outbox.mark_enqueued(session, [DueMessage(message.id, 2)], utcnow())
    [marked] = await messages(runtime, campaign_id)
    assert marked.enqueued_at is not None


class SlowPersonalizer(TemplatePersonalizer):
    async def personalize(self, template, values, *, channel):
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_a_hanging_personalizer_times_out_within_the_lease(
    client, runtime, make_customer, make_campaign
):
    runtime.settings = runtime.settings.model_copy(update={"lease_seconds": 0.4, "max_retries": 0})
    runtime.resources.personalizer = SlowPersonalizer()
    await runtime.start({Role.RELAY, Role.WORKER})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)

    async def failed():
        [row] = await messages(runtime, campaign_id)
        return row.status == "failed" and row

    row = await eventually(failed)
    assert row.last_error == "personalizer timed out after 0.2s"


async def test_a_hanging_provider_times_out_its_message_and_not_the_batch(
    client, runtime, make_customer, make_campaign
):
    """One deadline bounds a batch's sends: the message whose send hangs fails with a
    timeout when it passes; the others in the batch, already answered, are sent."""
    hung: list[int] = []

    class HangOnFirst(MockSender):
        async def send(self, request):
            if not hung:
                hung.append(request.message_id)
                await asyncio.sleep(3600)
            return await super().send(request)

    runtime.settings = runtime.settings.model_copy(update={"lease_seconds": 0.4, "max_retries": 0})
    runtime.sender = HangOnFirst()
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 3)
    await runtime.start({Role.RELAY, Role.WORKER})

    async def final():
        rows = await messages(runtime, campaign_id)
        return all(r.status in ("sent", "failed") for r in rows) and rows

    rows = {r.id: r for r in await eventually(final)}
    [stuck] = hung
    assert (rows[stuck].status, rows[stuck].last_error) == (
        "failed",
        "provider timed out after 0.2s",
    )
    assert {r.status for mid, r in rows.items() if mid != stuck} == {"sent"}


async def test_a_sender_that_times_out_itself_fails_the_attempt_as_a_timeout(
    client, runtime, make_customer, make_campaign
):
    class TimesOut(MockSender):
        async def send(self, request):
            raise TimeoutError("the sender's own limit")

    runtime.settings = runtime.settings.model_copy(update={"max_retries": 0})
    runtime.sender = TimesOut()
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    await runtime.start({Role.RELAY, Role.WORKER})

    async def failed():
        [row] = await messages(runtime, campaign_id)
        return row.status == "failed" and row

    row = await eventually(failed)
    assert (row.error_code, row.last_error) == (
        "PROVIDER_TIMEOUT",
        'provider timed out: TimeoutError("the sender\'s own limit")',
    )


async def test_emptying_the_template_cache_mid_batch_does_not_fail_the_batch(
    client, runtime, make_customer, make_campaign, monkeypatch
):
    """Another lane may clear the shared cache while this one renders its batch."""
    await runtime.start({Role.RELAY, Role.WORKER})
    processor_cache: list[dict] = []
    real_personalize = TemplatePersonalizer.personalize

    async def personalize(self, template, values, *, channel):
        for cache in processor_cache:
            cache.clear()  # as another lane would, past the size bound
        return await real_personalize(self, template, values, channel=channel)

    monkeypatch.setattr(TemplatePersonalizer, "personalize", personalize)
    real_claim = BatchProcessor._claim

    async def claim(self, jobs):
        processor_cache.append(self._templates)
        return await real_claim(self, jobs)

    monkeypatch.setattr(BatchProcessor, "_claim", claim)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 5)

    async def sent():
        return {m.status for m in await messages(runtime, campaign_id)} == {"sent"}

    await eventually(sent)
    assert processor_cache  # the cache really was emptied under the batch


async def test_a_stale_attempt_beside_the_current_one_in_a_batch_does_not_hide_it(
    client, runtime, make_customer, make_campaign
):
    """Two jobs of one message in one batch, a stale attempt first (a duplicate publish
    from a retry that timed out, say): the current one is still claimed and sent."""
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    [message] = await messages(runtime, campaign_id)
    async with runtime.sessions() as session, session.begin():  # now at its second attempt
        await session.execute(
            update(OutboundMessage).where(OutboundMessage.id == message.id).values(retry_count=1)
        )
    runtime.queue.put(Job(message.id, 0).encode())
    runtime.queue.put(Job(message.id, 1).encode())
    await runtime.start({Role.WORKER})

    async def sent():
        [row] = await messages(runtime, campaign_id)
        return row.status == MessageStatus.SENT

    await eventually(sent, timeout=10)
    assert runtime.sender.delivered == 1
