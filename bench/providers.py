"""The provider path and the shared rate limit, against the fake provider.

- Dispatch through the Africa's Talking adapter (real HTTP to `campaign-dispatch
  fake-provider` on loopback, latency 0) beside the mock dispatch of the same rounds,
  neither with delivery receipts inside the window: the ratio is the adapter's cost.
  A last round with receipts on both sides (the fake provider's signed reports coming
  back through the API's webhook route) says what receipts add.
- Two workers sharing SMS_RATE_PER_SECOND=200 (a rate of SMS segments), measured at the
  fake provider's side from its own receive times, each request weighed by the segments
  of the text it carried: the busiest 1-second window and the mean rate.
"""

import asyncio
import statistics
import urllib.parse

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
    wait_ready,
    worker_command,
)
from bench.table import Row, Table, info, number, ratio
from bench.windows import busiest_window, mean_rate
from campaign_dispatch.templating.sms import sms_info

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
PROVIDER_PATH_TARGET = 0.7  # times the mock dispatch of the same run
RATE = 200  # segments per second, shared by the workers
BUSIEST_TARGET = 220  # segments in any 1-second window
MEAN_TARGET = 190  # segments per second on average


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


async def _received() -> list[tuple[float, int]]:
    """The sends the fake provider received since it was last asked (then forgotten):
    (receive time, SMS segments of the text)."""
    async with httpx.AsyncClient(timeout=60) as http:
        body = (await http.get(f"{FAKE}/_fake/requests")).json()
        await http.delete(f"{FAKE}/_fake/requests")
    sends = []
    for request in body["requests"]:
        if request["path"].endswith("/messaging"):
            text = dict(urllib.parse.parse_qsl(request["body"])).get("message", "")
            sends.append((float(request["received_at"]), sms_info(text).segments))
    return sorted(sends)


async def _receipts(on: bool) -> None:
    """Turn the fake provider's delivery reports on or off."""
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{FAKE}/_fake/behaviour", json={"receipts": on})
        answer.raise_for_status()


async def bench_provider_path(
    databases: Databases, table: Table, messages: int, rounds: int, customers: int
) -> None:
    """The table's line compares like with like, as the dispatch line does: no delivery
    receipts inside the window on either side (they are a provider's later webhooks,
    not dispatch work). One more round with receipts on both sides (the mock's through
    its in-process ingest, the fake provider's through the API's webhook route) is an
    INFO line: what the receipts cost."""
    plain = (
        dispatch.Variant("mock", "the mock sender", dispatch.NO_RECEIPTS),
        dispatch.Variant("africastalking", "AT adapter over loopback HTTP", _AT),
    )
    with_receipts = (
        dispatch.Variant("mock+receipts", "the mock sender, its receipts on"),
        dispatch.Variant("africastalking+receipts", "AT adapter, receipts on", _AT),
    )
    rates: dict[str, list[float]] = {v.name: [] for v in (*plain, *with_receipts)}
    costs: dict[str, list[dict[str, float]]] = {name: [] for name in rates}
    with processes([_fake_provider()]) as fake:
        await _fake_ready()
        plan = [(plain, False)] * rounds + [(with_receipts, True)]
        for round_number, (variants, receipts_on) in enumerate(plan):
            await _receipts(receipts_on)
            # The receipts round runs the mock first: the adapter's last receipts would
            # otherwise reach the mock's API, counted as its work.
            swap = round_number % 2 == 1 and not receipts_on
            order = variants[::-1] if swap else variants
            for variant in order:
                run = await dispatch.dispatch_once(
                    databases,
                    variant,
                    messages,
                    profiled=True,
                    customers=customers,
                    others={"fake provider": [fake[0].pid]},
                )
                rates[variant.name].append(run.rate)
                if run.profile is not None and run.profile.usage is not None:
                    costs[variant.name].append(_per_message(run.profile, messages))
            await _received()  # forget the round's requests
            print(
                f"      provider round {round_number + 1}/{len(plan)}: "
                + "; ".join(f"{v.name} {rates[v.name][-1]:.0f}" for v in variants),
                flush=True,
            )
    for name, runs in costs.items():
        if runs:
            parts = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            info(
                f"provider phase, {name}: CPU per message "
                + ", ".join(f"{k} {v:.0f} µs" for k, v in parts.items())
            )
    mock_on = statistics.median(rates["mock+receipts"])
    adapter_on = statistics.median(rates["africastalking+receipts"])
    info(
        f"with delivery receipts on both sides: africastalking {adapter_on:.0f} msg/s, "
        f"mock {mock_on:.0f} msg/s, ratio {adapter_on / mock_on:.2f}"
    )
    base = statistics.median(rates["mock"])
    figure = statistics.median(rates["africastalking"])
    table.add(
        Row(
            "dispatch through the Africa's Talking adapter, fake provider on loopback, "
            f"{messages} messages, receipts after the window (median of {rounds})",
            f"{number(figure)} msg/s (mock dispatch {number(base)} msg/s)",
            f"≥ {PROVIDER_PATH_TARGET} x the mock dispatch",
            figure / base >= PROVIDER_PATH_TARGET,
            ratio=ratio(figure / base),
        )
    )


def _per_message(profile: dispatch.Profile, messages: int) -> dict[str, float]:
    """µs of CPU per message by process, PostgreSQL's tree and the total."""
    assert profile.usage is not None
    parts = dict(profile.usage.named)
    if profile.postgres is not None:
        parts["postgres"] = profile.postgres
    parts["total"] = sum(parts.values())
    return {k: v * 1_000_000 / messages for k, v in parts.items()}


async def bench_rate_limit(
    databases: Databases, table: Table, messages: int, customers: int
) -> None:
    queue = new_queue_name()
    limited = {**_AT, "SMS_RATE_PER_SECOND": str(RATE)}
    async with databases.fresh(customers=customers) as database_url:
        workers = [worker_command(database_url, queue, **limited) for _ in range(2)]
        commands = [_fake_provider(), api_command(database_url, queue, **limited), *workers]
        with processes(commands) as procs:
            await _fake_ready()
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 200, watch=procs)  # warm-up
                await _received()
                await dispatch_seconds(http, database_url, messages, watch=procs)
            sends = await _received()
    await delete_queues(queue)
    times = [moment for moment, _ in sends]
    segments = [float(count) for _, count in sends]
    span = times[-1] - times[0] if times else 0.0
    busiest = busiest_window(times, segments)
    mean = mean_rate(times, segments)
    info(
        f"rate limit {RATE}/s, 2 workers: {len(sends)} sends, {sum(segments):.0f} segments at "
        f"the provider over {span:.1f} s"
    )
    table.add(
        Row(
            f"shared provider rate limit {RATE}/s, two workers, {messages} messages",
            f"busiest second {busiest:.0f} segments, mean {mean:.1f}/s",
            f"no 1-s window over {BUSIEST_TARGET} segments; mean ≥ {MEAN_TARGET}/s",
            busiest <= BUSIEST_TARGET and mean >= MEAN_TARGET,
        )
    )
