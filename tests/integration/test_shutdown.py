"""A process exits non-zero when a background service dies, and SIGTERM has a deadline."""

import asyncio

from click.testing import CliRunner

from campaign_dispatch import cli
from campaign_dispatch.background import BackgroundServices, Role
from campaign_dispatch.providers import SendRequest, SendResult
from tests.pipeline_helpers import eventually, messages, send_to_new_customers


def test_a_worker_process_whose_background_task_dies_exits_non_zero(settings, monkeypatch):
    async def start_a_task_that_dies(self: BackgroundServices, roles: object) -> None:
        async def relay(stop: asyncio.Event) -> None:
            raise RuntimeError("relay bug")

        self.supervisor.spawn("relay", relay)

    monkeypatch.setattr(BackgroundServices, "start", start_a_task_that_dies)
    broker = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    monkeypatch.setattr(cli, "_settings", lambda: broker)

    result = CliRunner().invoke(cli.main, ["worker"])

    assert result.exit_code == cli.EXIT_BACKGROUND_FAILED


class HangingSender:
    """A provider call that never returns (until cancelled)."""

    name = "hanging"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, request: SendRequest) -> SendResult:
        self.calls += 1
        await asyncio.sleep(3600)
        raise AssertionError("never answers")

    async def aclose(self) -> None:
        return None


async def test_stopping_a_worker_stuck_on_a_provider_releases_its_jobs_after_the_grace_period(
    client, runtime, make_customer, make_campaign
):
    runtime.settings = runtime.settings.model_copy(update={"shutdown_grace_seconds": 0.3})
    runtime.sender = sender = HangingSender()
    await runtime.start({Role.RELAY, Role.WORKER})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)
    await eventually(lambda: asyncio.sleep(0, sender.calls == 2))

    loop = asyncio.get_running_loop()
    started = loop.time()
    await runtime.stop()
    assert loop.time() - started < 3  # the grace period, not the provider's hour

    queue = runtime.queue
    assert queue.unacked == 0  # every delivery was handed back, none left dangling
    assert len(queue) == 2  # both jobs are back in the queue for the next worker
    rows = await messages(runtime, campaign_id)
    # Still claimed: the lease decides (a provider may have taken them), never lost.
    assert {m.status for m in rows} == {"sending"}
