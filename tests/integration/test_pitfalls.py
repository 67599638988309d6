"""Pitfalls other implementations fell into (shared/spec/pitfalls.md) that other tests
do not already pin down."""

import subprocess
from pathlib import Path

from campaign_dispatch.background import Role
from campaign_dispatch.providers import MockSender
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

ROOT = Path(__file__).resolve().parents[2]


async def test_6_a_message_between_retries_is_pending_not_failed(
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

    async def send(self, *, message_id, channel, phone, text):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await super().send(message_id=message_id, channel=channel, phone=phone, text=text)
        finally:
            self.now -= 1


async def test_10_one_worker_sends_many_messages_at_once(
    client, runtime, make_customer, make_campaign
):
    runtime.sender = sender = OverlapSender()
    await runtime.start({Role.RELAY, Role.WORKER})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 40)

    async def done():
        return (await client.get(f"/campaigns/{campaign_id}")).json()["status"] == "sent"

    await eventually(done)
    assert sender.most >= 20  # not prefetch 1, not one at a time


def test_11_no_secrets_databases_or_binaries_are_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    forbidden = [
        path
        for path in tracked
        if Path(path).name == ".env"
        or path.endswith((".db", ".db-wal", ".sqlite", ".pyc", ".so", ".whl", ".pem", ".key"))
        or path.startswith(("web/dist/", "web/node_modules/", ".venv/"))
    ]
    assert forbidden == []
    binaries = [path for path in tracked if b"\x00" in (ROOT / path).read_bytes()[:8000]]
    assert binaries == []
