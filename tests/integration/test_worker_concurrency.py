"""Worker behaviour between and across attempts: a retry waits as `pending`, and one
worker keeps many provider calls in flight at once (not one at a time)."""

from campaign_dispatch.background import Role
from campaign_dispatch.providers import MockSender
from tests.pipeline_helpers import eventually, messages, send_to_new_customers


async def test_a_message_between_retries_is_pending_not_failed(
    client, runtime, settings, make_customer, make_campaign
):
    runtime.settings = settings.model_copy(update={"retry_base_delay_ms": 60_000})
    runtime.sender = MockSender(failure_rate=1.0)
    await runtime.start({Role.RELAY, Role.WORKER})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)

    async def retried():
        [row] = await messages(runtime, campaign_id)
        return row.retry_count == 1 and row

    row = await eventually(retried)
    assert row.status == "pending"
    assert row.last_error.startswith("mock provider:")
    assert row.available_at > row.updated_at  # waiting for its backoff, not failed


class OverlapSender(MockSender):
    """Records how many sends were in progress at once."""

    def __init__(self) -> None:
        super().__init__(latency_ms=50)
        self.now = 0
        self.most = 0

    async def send(self, request):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().send(request)
        finally:
            self.now -= 1


async def test_one_worker_sends_many_messages_at_once(
    client, runtime, make_customer, make_campaign
):
    runtime.sender = sender = OverlapSender()
    await runtime.start({Role.RELAY, Role.WORKER})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 40)

    async def done():
        return (await client.get(f"/campaigns/{campaign_id}")).json()["status"] == "sent"

    await eventually(done)
    assert sender.most >= 20  # not prefetch 1, not one at a time
