"""The adapters' connections: WORKER_CONCURRENCY sends at once share one kept-alive
pool of at most PROVIDER_MAX_CONNECTIONS connections; sends beyond it wait for a
connection before their timeout starts.

What a send costs the worker is measured by `make bench` (providers); here, the
mechanism: how the pool is sized and what a send waiting for a connection sees.
"""

import asyncio

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers.africastalking import AfricasTalkingSender
from campaign_dispatch.providers.base import SendRequest
from campaign_dispatch.statuses import Channel, ProviderOutcome
from tests.providers.conftest import make_settings


def sender(base_url: str, concurrency: int, **settings: object) -> AfricasTalkingSender:
    return AfricasTalkingSender(
        make_settings(
            at_username="sandbox",
            at_api_key="key",
            at_base_url=base_url,
            worker_concurrency=concurrency,
            **settings,
        )
    )


def request(n: int) -> SendRequest:
    return SendRequest(n, Channel.SMS, "+254711000111", "Hi")


async def test_sends_share_one_pool_capped_at_the_connection_limit(fake: FakeProvider) -> None:
    adapter = sender(fake.base_url, 2000, provider_max_connections=16)
    peak = busy = 0
    original = adapter._exchange

    async def watched(outbound):  # type: ignore[no-untyped-def]
        nonlocal peak, busy
        busy += 1
        peak = max(peak, busy)
        try:
            return await original(outbound)
        finally:
            busy -= 1

    adapter._exchange = watched  # type: ignore[method-assign]
    fake.set_behaviour("*", latency_ms=20)
    try:
        answers = await asyncio.gather(*(adapter.send(request(n)) for n in range(1, 201)))
        assert adapter.client.opened == 16  # kept alive: no more were needed
    finally:
        await adapter.aclose()
    assert {a.outcome for a in answers} == {ProviderOutcome.ACCEPTED}
    assert len(fake.received()) == 200
    assert peak == 16  # every connection was used, and no send went past them


async def test_a_send_waiting_for_a_connection_is_not_timed_out_by_the_wait(
    fake: FakeProvider,
) -> None:
    """Two connections, six sends of 0.3 s each, a 0.5 s timeout: the last two wait
    0.6 s for a connection and must still get their full 0.5 s exchange."""
    adapter = sender(fake.base_url, 2)
    adapter.timeout = 0.5
    fake.set_behaviour("*", latency_ms=300)
    try:
        answers = await asyncio.gather(*(adapter.send(request(n)) for n in range(1, 7)))
    finally:
        await adapter.aclose()
    assert [a.outcome for a in answers] == [ProviderOutcome.ACCEPTED] * 6, answers


def test_the_connection_limit_is_the_concurrency_capped_by_the_setting() -> None:
    assert sender("http://127.0.0.1:9", 2000, provider_max_connections=64).max_connections == 64
    assert sender("http://127.0.0.1:9", 10).max_connections == 10
