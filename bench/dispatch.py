"""End-to-end dispatch with each RabbitMQ publish path, beside the floor.

A run: real `campaign-dispatch api` and one `worker` (mock latency 0) on a fresh
database and a fresh queue name; a 1 000-message warm-up campaign; then one campaign of
`--messages`, timed from just before the send call to the last message's final
`updated_at` in the database. Variants alternate within each round (the order reversed
every other round) with a floor measurement (bench/floor.py) per round, and each
figure is the median of its rounds, so that drift and noise on a shared 2-core machine
do not decide a comparison.
"""

import statistics
import subprocess
import sys
from dataclasses import dataclass, field

from bench.common import (
    ROOT,
    Databases,
    api_command,
    client,
    delete_queues,
    dispatch_seconds,
    env,
    new_queue_name,
    processes,
    rss_mb,
    wait_ready,
)


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    environment: dict[str, str] = field(default_factory=dict)


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "frames",
            "custom publish frames into aiormq's channel",
            {"RABBITMQ_PUBLISHER": "frames"},
        ),
        Variant(
            "aio-pika",
            "aio-pika exchange.publish, gathered",
            {"RABBITMQ_PUBLISHER": "aio-pika"},
        ),
        # Whatever the code does by default (no setting): the only variant that makes
        # sense against code older than the setting, e.g. a baseline commit.
        Variant("default", "the code's default configuration"),
    )
}
# (candidate, without it, what it measures, the speed-up that keeps the candidate). The
# custom path must beat the supported one by 1.3x end to end to be worth its risk. A
# coalescing socket writer (a StreamWriter subclass under aiormq) was measured here too,
# against the 1.1x bar, and removed: 1.02x on the frames path, 0.74x on the aio-pika path.
COMPARISONS = (("frames", "aio-pika", "custom publish path vs supported path", 1.3),)


def measure_floor(messages: int) -> float:
    result = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "bench.floor", "--messages", str(messages)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return float(result.stdout.strip().splitlines()[-1])


async def dispatch_once(
    databases: Databases, variant: Variant, messages: int, memory: dict[str, float]
) -> float:
    queue = new_queue_name()
    async with databases.fresh() as database_url:
        worker = (["worker"], env(database_url, queue, **variant.environment))
        api = api_command(database_url, queue, **variant.environment)
        with processes([api, worker]) as procs:
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 1000)  # warm-up; workers connected
                seconds = await dispatch_seconds(http, database_url, messages)
            for role, process in zip(("api", "worker"), procs, strict=True):
                key = f"{role} (dispatch, {variant.name})"
                memory[key] = max(memory.get(key, 0.0), rss_mb(process.pid))
    await delete_queues(queue)
    return messages / seconds


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


async def compare(
    databases: Databases, names: list[str], messages: int, rounds: int, memory: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Prints one line per variant (median figure, median floor, ratio) and one per
    comparison between variants that ran; returns {variant: (figure, floor)}."""
    rates: dict[str, list[float]] = {name: [] for name in names}
    floors: list[float] = []
    for round_number in range(rounds):
        floors.append(measure_floor(messages))
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            rates[name].append(await dispatch_once(databases, VARIANTS[name], messages, memory))
        print(
            f"      round {round_number + 1}/{rounds}: floor {floors[-1]:.0f}; "
            + "; ".join(f"{name} {rates[name][-1]:.0f}" for name in names),
            flush=True,
        )
    floor = statistics.median(floors)
    results = {}
    for name in names:
        figure = statistics.median(rates[name])
        results[name] = (figure, floor)
        print(
            f"INFO  dispatch {messages} msgs, 1 worker, latency 0, {name:<8} "
            f"{figure:>7.0f} msg/s  floor {floor:>7.0f} msg/s  ratio {figure / floor:.3f}  "
            f"({VARIANTS[name].what}; runs {_fmt(rates[name])}; floors {_fmt(floors)})",
            flush=True,
        )
    for faster, slower, what, bar in COMPARISONS:
        if faster in results and slower in results:
            speedup = results[faster][0] / results[slower][0]
            verdict = "pays" if speedup >= bar else "does not pay"
            print(
                f"INFO  {what}: {faster} / {slower} = {speedup:.3f}x "
                f"(keep at >= {bar}x: {verdict})",
                flush=True,
            )
    return results
