"""One provider call hanging does not stop the worker's other lanes.

Acks are coalesced behind a watermark that never passes an unsettled delivery; without
individual acks for what settles behind a slow one, those deliveries would fill the
prefetch window and the broker would send nothing more until the slow call returned.
"""

import asyncio

import pytest

from campaign_dispatch.providers import MockSender, SendRequest, SendResult
from campaign_dispatch.statuses import MessageStatus
from tests.pipeline_helpers import eventually, messages
from tests.rabbitmq_helpers import create_and_send, start_worker

pytestmark = [
    pytest.mark.rabbitmq,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


class OneHangs(MockSender):
    """Delivers at once, except the first message it is given: that one waits for `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.hung: int | None = None
        self.release = asyncio.Event()

    async def send(self, request: SendRequest) -> SendResult:
        if self.hung is None:
            self.hung = request.message_id
        if request.message_id == self.hung:
            await self.release.wait()
        return await super().send(request)


async def test_a_hung_provider_call_does_not_stall_the_other_lanes(api, rabbit_settings):
    _, client = api
    # Four lanes of one message each: the prefetch window is five deliveries, so without
    # individual acks the fifth delivery settled behind the hung one stops the consumer.
    settings = rabbit_settings.model_copy(
        update={"worker_concurrency": 4, "worker_batch_size": 1, "lease_seconds": 600.0}
    )
    sender = OneHangs()
    worker = await start_worker(settings, sender=sender)
    try:
        campaign_id = await create_and_send(client, 40)

        # The sender counts a delivery before the worker records it: wait on the database.
        async def all_but_the_hung_one_recorded() -> bool:
            rows = await messages(worker, campaign_id)
            return sum(m.status == MessageStatus.SENT for m in rows) == 39

        await eventually(all_but_the_hung_one_recorded, timeout=30)
        rows = await messages(worker, campaign_id)
        waiting = [m.id for m in rows if m.status != MessageStatus.SENT]
        assert waiting == [sender.hung] and sender.delivered == 39

        sender.release.set()

        async def all_sent() -> bool:
            rows = await messages(worker, campaign_id)
            return all(m.status == MessageStatus.SENT for m in rows)

        await eventually(all_sent, timeout=30)
        assert sender.delivered == 40 and sender.duplicates == 0
    finally:
        sender.release.set()
        await worker.close()
