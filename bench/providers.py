"""The provider path and the shared rate limit (§10), against the fake provider.

- Dispatch through the Africa's Talking adapter (real HTTP to `campaign-dispatch
  fake-provider` on loopback, latency 0, its signed delivery reports coming back to the
  API) beside the mock dispatch of the same rounds: the ratio is the adapter's cost.
- Two workers sharing SMS_RATE_PER_SECOND=200, measured at the fake provider's side from
  its own receive times: the busiest 1-second window and the mean rate.
"""

import asyncio
import statistics

import httpx

from bench import dispatch
from bench.common import (
    PORT,
    Databases,
    api_command,
    client,
    delete_queues,
    dispatch_seconds,
    env,
    new_queue_name,
    processes,
    report,
    wait_ready,
)

FAKE_PORT = 18790
FAKE = f"http://127.0.0.1:{FAKE_PORT}"
_AT = {
    "SMS_PROVIDER": "africastalking",
    "AT_USERNAME": "bench",
    "AT_API_KEY": "bench-key",
    "AT_CALLBACK_TOKEN": "bench-token",
    "AT_BASE_URL": FAKE,
    "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT}",
}
PROVIDER_PATH_TARGET = 0.7
RATE = 200


def _fake_provider() -> tuple[list[str], dict[str, str]]:
    args = [
        "fake-provider",
        "--port",
        str(FAKE_PORT),
        "--public-base-url",
        f"http://127.0.0.1:{PORT}",
    ]
    return [*args, "--at-callback-token", "bench-token"], env("", "")


async def _fake_ready() -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                if (await http.get(f"{FAKE}/_fake/requests")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the fake provider did not start")


async def _received_times() -> list[float]:
    async with httpx.AsyncClient(timeout=60) as http:
        body = (await http.get(f"{FAKE}/_fake/requests")).json()
        await http.delete(f"{FAKE}/_fake/requests")
    return sorted(r["received_at"] for r in body["requests"] if r["path"].endswith("/messaging"))


async def bench_provider_path(
    databases: Databases, messages: int, rounds: int, memory: dict[str, float]
) -> None:
    mock = dispatch.Variant("mock", "the mock sender")
    adapter = dispatch.Variant("africastalking", "AT adapter over loopback HTTP", _AT)
    rates: dict[str, list[float]] = {"mock": [], "africastalking": []}
    with processes([_fake_provider()]):
        await _fake_ready()
        for round_number in range(rounds):
            order = (mock, adapter) if round_number % 2 == 0 else (adapter, mock)
            for variant in order:
                rate = await dispatch.dispatch_once(databases, variant, messages, memory)
                rates[variant.name].append(rate)
            await _received_times()  # forget the round's requests
            print(
                f"      provider round {round_number + 1}/{rounds}: "
                + "; ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()),
                flush=True,
            )
    base = statistics.median(rates["mock"])
    figure = statistics.median(rates["africastalking"])
    ratio = figure / base
    print(
        f"INFO  dispatch {messages} msgs through the Africa's Talking adapter "
        f"{figure:.0f} msg/s  mock dispatch (same run) {base:.0f} msg/s  ratio {ratio:.3f}",
        flush=True,
    )
    report(
        "provider path / mock dispatch",
        ratio,
        "x",
        f">= {PROVIDER_PATH_TARGET}",
        ratio >= PROVIDER_PATH_TARGET,
    )


def busiest_second(times: list[float]) -> int:
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def bench_rate_limit(databases: Databases, messages: int = 3000) -> None:
    queue = new_queue_name()
    limited = {**_AT, "SMS_RATE_PER_SECOND": str(RATE)}
    async with databases.fresh() as database_url:
        workers = [(["worker"], env(database_url, queue, **limited)) for _ in range(2)]
        commands = [_fake_provider(), api_command(database_url, queue, **limited), *workers]
        with processes(commands):
            await _fake_ready()
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 200)  # warm-up
                await _received_times()
                await dispatch_seconds(http, database_url, messages)
            times = await _received_times()
    await delete_queues(queue)
    span = times[-1] - times[0]
    mean = (len(times) - 1) / span if span > 0 else float("inf")
    busiest = busiest_second(times)
    print(
        f"INFO  rate limit {RATE}/s, 2 workers, {len(times)} sends at the provider: "
        f"busiest second {busiest}, mean {mean:.1f}/s over {span:.1f} s",
        flush=True,
    )
    report("rate limit: busiest second at the provider", busiest, "sends", "<= 220", busiest <= 220)
    report("rate limit: mean rate at the provider", mean, "/s", ">= 190", mean >= 190)
