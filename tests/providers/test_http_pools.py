"""The adapters' connection pools: WORKER_CONCURRENCY sends at once are spread over
small pools, none asked for more connections than it holds.

httpcore rescans a pool's connections and queued requests whenever a request starts or
ends; one pool of 256 connections made that bookkeeping cost ~14 ms of CPU per send,
and a provider path ~40x slower than the mock. The cost is measured by `make bench`
(providers); here, the mechanism that keeps it away: how the pools are sized and used.
"""

import asyncio

from campaign_dispatch.fake_provider import FakeProvider
from campaign_dispatch.providers import http
from campaign_dispatch.providers.africastalking import AfricasTalkingSender
from campaign_dispatch.providers.base import SendRequest
from campaign_dispatch.statuses import Channel, ProviderOutcome
from tests.providers.conftest import make_settings


def sender(base_url: str, concurrency: int) -> AfricasTalkingSender:
    return AfricasTalkingSender(
        make_settings(
            at_username="sandbox",
            at_api_key="key",
            at_base_url=base_url,
            worker_concurrency=concurrency,
        )
    )


def test_worker_concurrency_is_spread_over_small_pools() -> None:
    many, one = sender("http://127.0.0.1:9", 256), sender("http://127.0.0.1:9", 1)
    assert len(many._clients) == 256 // http.POOL_SIZE
    assert len(one._clients) == 1
    for client in many._clients:
        assert client._transport._pool._max_connections == http.POOL_SIZE  # type: ignore[attr-defined]


async def test_no_pool_is_asked_for_more_than_it_holds(fake: FakeProvider) -> None:
    adapter = sender(fake.base_url, 64)
    peaks = [0] * len(adapter._clients)
    original = adapter._send

    async def watched(client, request):  # type: ignore[no-untyped-def]
        for i, busy in enumerate(adapter._busy):
            peaks[i] = max(peaks[i], busy)
        return await original(client, request)

    adapter._send = watched  # type: ignore[method-assign]
    fake.set_behaviour("*", latency_ms=20)
    try:
        answers = await asyncio.gather(
            *(
                adapter.send(SendRequest(n, Channel.SMS, "+254711000111", "Hi"))
                for n in range(1, 301)  # more at once than the pools hold: the rest wait
            )
        )
    finally:
        await adapter.aclose()
    assert {a.outcome for a in answers} == {ProviderOutcome.ACCEPTED}
    assert max(peaks) <= http.POOL_SIZE
    assert min(peaks) >= 1, peaks  # every pool took its share
    assert sum(adapter._busy) == 0


def test_connections_are_capped_whatever_the_concurrency() -> None:
    adapter = AfricasTalkingSender(
        make_settings(
            at_username="sandbox",
            at_api_key="key",
            at_base_url="http://127.0.0.1:9",
            worker_concurrency=2000,
            provider_max_connections=64,
        )
    )
    assert len(adapter._clients) == 64 // http.POOL_SIZE
    assert adapter._slots._value == 64
