"""`make bench`: product.md §9 targets, measured against local PostgreSQL and RabbitMQ.

Runs real processes (`campaign-dispatch api` and `worker`) on a fresh database and a
fresh queue name, and prints one line per target with the measurement and its bar.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import httpx

PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PORT = int(os.environ.get("BENCH_PORT", "18765"))
ROOT = Path(__file__).resolve().parents[1]


def _db_url(name: str) -> str:
    return PG.rsplit("/", 1)[0] + f"/{name}"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(PG)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _env(database_url: str, queue: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "AMQP_URL": AMQP,
        "QUEUE_NAME": queue,
        "LOG_LEVEL": "WARNING",
        "MOCK_SENDER_FAILURE_RATE": "0",
        "SEND_RATE_LIMIT_PER_MINUTE": "0",
        **extra,
    }


@contextmanager
def processes(
    commands: list[tuple[list[str], dict[str, str]]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [
        subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
            [sys.executable, "-m", "campaign_dispatch.cli", *args], env=env, cwd=ROOT
        )
        for args, env in commands
    ]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("api did not start")


async def seed_customers(database_url: str, count: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """INSERT INTO customers (phone, first_name, last_name, location, preferred_product,
                                      created_at, updated_at)
               SELECT '+2547' || lpad(g::text, 8, '0'), 'Name' || g, CASE WHEN g % 7 = 0 THEN NULL
                      ELSE 'Last' || g END, 'Nairobi', 'Running Shoes', now(), now()
               FROM generate_series(1, $1) AS g""",
            count,
        )
    finally:
        await connection.close()


async def seed_campaigns(database_url: str, count: int) -> None:
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


async def new_campaign(client: httpx.AsyncClient) -> int:
    response = await client.post(
        "/campaigns",
        json={
            "name": "bench",
            "channel": "sms",
            "base_template": "Hi {first_name} {last_name}, "
            "check out {preferred_product} in {location}!",
        },
    )
    response.raise_for_status()
    return int(response.json()["id"])


async def timed_send(client: httpx.AsyncClient, ids: list[int]) -> tuple[int, float]:
    campaign_id = await new_campaign(client)
    started = time.perf_counter()
    response = await client.post(f"/campaigns/{campaign_id}/send", json={"customer_ids": ids})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return campaign_id, elapsed


def report(name: str, value: float, unit: str, bar: str, ok: bool) -> None:
    print(
        f"{'PASS' if ok else 'MISS'}  {name:<52} {value:>10.1f} {unit:<6} (target {bar})",
        flush=True,
    )


async def bench_send(client: httpx.AsyncClient, runs: int) -> None:
    for size, target_ms in ((10_000, 150), (100_000, 1500)):
        ids = list(range(1, size + 1))
        samples = [(await timed_send(client, ids))[1] * 1000 for _ in range(runs)]
        p50 = statistics.median(samples)
        report(
            f"send endpoint, {size} ids, p50 of {runs}",
            p50,
            "ms",
            f"< {target_ms} ms",
            p50 < target_ms,
        )


async def wait_sent(
    client: httpx.AsyncClient,
    campaign_id: int,
    total: int,
    timeout: float,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        stats = (await client.get(f"/campaigns/{campaign_id}")).json()["stats"]
        if stats["sent"] + stats["failed"] >= total:
            return time.perf_counter()
        await asyncio.sleep(0.02)
    raise RuntimeError(f"campaign {campaign_id} did not finish within {timeout}s: {stats}")


async def delete_queues(queue: str) -> None:
    """Remove a run's queues (the job queue, its DLQ and its retry queues)."""
    import aio_pika

    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        names = [queue, f"{queue}.dlq", *(f"{queue}.retry.{2**n * 1000}ms" for n in range(3))]
        for name in names:
            await channel.queue_delete(name)


async def bench_throughput(
    database_url: str, label: str, workers: int, latency_ms: int, messages: int, target: float
) -> dict[str, float]:
    queue = f"bench_{uuid.uuid4().hex[:8]}"
    api = (["api", "--port", str(PORT)], _env(database_url, queue))
    worker_env = _env(database_url, queue, MOCK_SENDER_LATENCY_MS=str(latency_ms))
    commands = [api] + [(["worker"], worker_env)] * workers
    with processes(commands) as procs:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as client:
            await wait_ready(client)
            await asyncio.sleep(1.0)  # let the workers connect
            warm_id, _ = await timed_send(client, list(range(1, 1001)))
            await wait_sent(client, warm_id, 1000, 60)
            started = time.perf_counter()
            campaign_id, _ = await timed_send(client, list(range(1, messages + 1)))
            finished = await wait_sent(client, campaign_id, messages, 300)
            rate = messages / (finished - started)
            report(label, rate, "msg/s", f">= {target:.0f}", rate >= target)
            memory = {f"pid{i}": rss_mb(p.pid) for i, p in enumerate(procs)}
    await delete_queues(queue)
    return memory


async def bench_listing(database_url: str, campaigns: int) -> None:
    queue = f"bench_{uuid.uuid4().hex[:8]}"
    await seed_campaigns(database_url, campaigns)
    with processes([(["api", "--port", str(PORT)], _env(database_url, queue))]):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as client:
            await wait_ready(client)
            for name, params in (
                ("page 1", {}),
                ("page 1, status=sent", {"status": "sent"}),
                ("page 1, channel=sms&status=failed", {"channel": "sms", "status": "failed"}),
            ):
                samples = []
                for _ in range(20):
                    started = time.perf_counter()
                    response = await client.get("/campaigns", params=params)
                    samples.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                p50 = statistics.median(samples)
                report(f"GET /campaigns {name}, {campaigns} rows", p50, "ms", "< 20 ms", p50 < 20)
            cursor = (await client.get("/campaigns")).json()["pagination"]["next_cursor"]
            samples = []
            for _ in range(200):
                started = time.perf_counter()
                body = (await client.get("/campaigns", params={"cursor": cursor})).json()
                samples.append((time.perf_counter() - started) * 1000)
                cursor = body["pagination"]["next_cursor"]
            p50 = statistics.median(samples)
            report(
                f"GET /campaigns cursor pages 2-201, {campaigns} rows",
                p50,
                "ms",
                "< 20 ms",
                p50 < 20,
            )
    await delete_queues(queue)


@asynccontextmanager
async def fresh_database(customers: int = 100_000) -> AsyncIterator[str]:
    """A migrated database with `customers` customers, dropped afterwards.

    Each phase gets its own, so one phase's leftovers (the send runs leave 550 000
    unpublished messages behind) cannot queue ahead of the next phase's work.
    """
    name = f"campaign_dispatch_bench_{uuid.uuid4().hex[:6]}"
    await _admin(f'CREATE DATABASE "{name}"')
    database_url = _db_url(name)
    try:
        subprocess.run(  # noqa: ASYNC221 (one-off setup before any timing)
            [sys.executable, "-m", "campaign_dispatch.cli", "migrate"],
            check=True,
            env=_env(database_url, "unused"),
            cwd=ROOT,
            capture_output=True,
        )
        await seed_customers(database_url, customers)
        yield database_url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000, help="messages per throughput run")
    parser.add_argument("--campaigns", type=int, default=1_000_000, help="rows for the listing run")
    parser.add_argument("--runs", type=int, default=5, help="send-endpoint samples per size")
    parser.add_argument("--only", choices=["send", "throughput", "listing"], default=None)
    args = parser.parse_args()

    memory: dict[str, float] = {}
    if args.only in (None, "send"):
        async with fresh_database() as database_url:
            queue = f"bench_{uuid.uuid4().hex[:8]}"
            with processes([(["api", "--port", str(PORT)], _env(database_url, queue))]) as procs:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{PORT}", timeout=60
                ) as client:
                    await wait_ready(client)
                    await bench_send(client, args.runs)
                memory["api (send runs)"] = rss_mb(procs[0].pid)
            await delete_queues(queue)
    if args.only in (None, "throughput"):
        n = args.messages
        runs = (
            ("dispatch, 1 worker, latency 0", 1, 0, 3000),
            ("dispatch, 2 workers, latency 0", 2, 0, 5000),
            ("dispatch, 1 worker, latency 50 ms", 1, 50, 1000),
        )
        for label, workers, latency, target in runs:
            async with fresh_database() as database_url:
                mem = await bench_throughput(database_url, label, workers, latency, n, target)
            memory[f"api ({label})"] = mem["pid0"]
            memory[f"worker ({label})"] = mem["pid1"]
    if args.only in (None, "listing"):
        async with fresh_database(customers=0) as database_url:
            await bench_listing(database_url, args.campaigns)
    for label, mb in memory.items():
        report(f"peak RSS, {label}", mb, "MB", "< 150 MB", mb < 150)


if __name__ == "__main__":
    asyncio.run(main())
