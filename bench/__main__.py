"""`make bench`: the performance targets, measured against local PostgreSQL and RabbitMQ.

Runs real processes (`campaign-dispatch api` and `worker`) on fresh databases and fresh
queue names, and prints one line per target with the measurement and its bar. The
1-worker dispatch target is measured once per RabbitMQ publish path (bench/dispatch.py),
each beside a floor measured in the same run (bench/floor.py).
"""

import argparse
import asyncio
import statistics
import time

import httpx

from bench import dispatch, providers, segments
from bench.common import (
    Databases,
    api_command,
    client,
    delete_queues,
    dispatch_seconds,
    env,
    new_queue_name,
    processes,
    report,
    rss_mb,
    timed_send,
    wait_ready,
)

DISPATCH_TARGET = 3000  # msg/s, 1 worker, mock latency 0


async def bench_send(http: httpx.AsyncClient, runs: int) -> None:
    for size, target_ms in ((10_000, 150), (100_000, 1500)):
        ids = list(range(1, size + 1))
        samples = [(await timed_send(http, ids))[1] * 1000 for _ in range(runs)]
        p50 = statistics.median(samples)
        report(
            f"send endpoint, {size} ids, p50 of {runs}",
            p50,
            "ms",
            f"< {target_ms} ms",
            p50 < target_ms,
        )


async def bench_throughput(
    databases: Databases, label: str, workers: int, latency_ms: int, messages: int, target: float
) -> dict[str, float]:
    queue = new_queue_name()
    async with databases.fresh() as database_url:
        worker_env = env(database_url, queue, MOCK_SENDER_LATENCY_MS=str(latency_ms))
        commands = [api_command(database_url, queue)] + [(["worker"], worker_env)] * workers
        with processes(commands) as procs:
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 1000)  # warm-up; workers connected
                rate = messages / await dispatch_seconds(http, database_url, messages)
                report(label, rate, "msg/s", f">= {target:.0f}", rate >= target)
            memory = {f"pid{i}": rss_mb(p.pid) for i, p in enumerate(procs)}
    await delete_queues(queue)
    return memory


async def bench_listing(databases: Databases, campaigns: int) -> None:
    queue = new_queue_name()
    async with databases.fresh(customers=0) as database_url:
        await seed_campaigns(database_url, campaigns)
        with processes([api_command(database_url, queue)]):
            async with client() as http:
                await wait_ready(http)
                await _listing(http, campaigns)
    await delete_queues(queue)


async def seed_campaigns(database_url: str, count: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """INSERT INTO campaigns (name, channel, status, base_template, created_at, updated_at)
               SELECT 'Bench ' || g, CASE WHEN g % 2 = 0 THEN 'sms' ELSE 'whatsapp' END,
                      (ARRAY['draft','scheduled','sending','sent','failed'])[1 + g % 5],
                      'Hi {first_name}', now(), now()
               FROM generate_series(1, $1) AS g""",
            count,
        )
        await connection.execute("VACUUM ANALYZE campaigns")
    finally:
        await connection.close()


async def _listing(http: httpx.AsyncClient, campaigns: int) -> None:
    for name, params in (
        ("page 1", {}),
        ("page 1, status=sent", {"status": "sent"}),
        ("page 1, channel=sms&status=failed", {"channel": "sms", "status": "failed"}),
    ):
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            response = await http.get("/campaigns", params=params)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        p50 = statistics.median(samples)
        report(f"GET /campaigns {name}, {campaigns} rows", p50, "ms", "< 20 ms", p50 < 20)
    cursor = (await http.get("/campaigns")).json()["pagination"]["next_cursor"]
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        body = (await http.get("/campaigns", params={"cursor": cursor})).json()
        samples.append((time.perf_counter() - started) * 1000)
        cursor = body["pagination"]["next_cursor"]
    p50 = statistics.median(samples)
    report(f"GET /campaigns cursor pages 2-201, {campaigns} rows", p50, "ms", "< 20 ms", p50 < 20)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000, help="messages per dispatch run")
    parser.add_argument("--campaigns", type=int, default=1_000_000, help="rows for the listing run")
    parser.add_argument("--runs", type=int, default=5, help="send-endpoint samples per size")
    parser.add_argument(
        "--segment-customers", type=int, default=1_000_000, help="customers for the segment run"
    )
    parser.add_argument("--rounds", type=int, default=3, help="dispatch runs per variant")
    parser.add_argument(
        "--variants",
        default="frames,aio-pika",
        help=f"comma-separated dispatch variants, of: {', '.join(dispatch.VARIANTS)}",
    )
    parser.add_argument(
        "--only",
        choices=["send", "dispatch", "throughput", "listing", "segments", "providers"],
        default=None,
    )
    args = parser.parse_args()
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in dispatch.VARIANTS]
    if unknown or not args.variants:
        parser.error(f"unknown dispatch variants {unknown}; choose from {list(dispatch.VARIANTS)}")
    return args


async def main() -> None:
    args = _arguments()
    databases = Databases()
    memory: dict[str, float] = {}
    try:
        if args.only in (None, "send"):
            async with databases.fresh() as database_url:
                queue = new_queue_name()
                with processes([api_command(database_url, queue)]) as procs:
                    async with client() as http:
                        await wait_ready(http)
                        await bench_send(http, args.runs)
                    memory["api (send runs)"] = rss_mb(procs[0].pid)
                await delete_queues(queue)
        if args.only in (None, "dispatch"):
            results = await dispatch.compare(
                databases, args.variants, args.messages, args.rounds, memory
            )
            first = args.variants[0]
            rate = results[first][0]
            label = f"dispatch, 1 worker, latency 0 ({first})"
            report(label, rate, "msg/s", f">= {DISPATCH_TARGET}", rate >= DISPATCH_TARGET)
        if args.only in (None, "throughput"):
            runs = (
                ("dispatch, 2 workers, latency 0", 2, 0, 5000),
                ("dispatch, 1 worker, latency 50 ms", 1, 50, 1000),
            )
            for label, workers, latency, target in runs:
                mem = await bench_throughput(
                    databases, label, workers, latency, args.messages, target
                )
                memory[f"api ({label})"] = mem["pid0"]
                memory[f"worker ({label})"] = mem["pid1"]
        if args.only in (None, "listing"):
            await bench_listing(databases, args.campaigns)
        if args.only in (None, "segments"):
            await segments.bench_segments(databases, args.segment_customers, 3, memory)
        if args.only in (None, "providers"):
            await providers.bench_provider_path(databases, args.messages, args.rounds, memory)
            await providers.bench_rate_limit(databases)
    finally:
        await databases.drop_templates()
    for label, mb in memory.items():
        report(f"peak RSS, {label}", mb, "MB", "< 150 MB", mb < 150)


if __name__ == "__main__":
    asyncio.run(main())
