"""What every bench phase shares: databases, the real processes, and the report format.

Each phase gets a fresh database, cloned from a template that is migrated and seeded
once per bench run, so one phase's leftovers (the send runs leave 550 000 unpublished
messages behind) cannot queue ahead of the next phase's work, and cloning costs a
second instead of a migration and a seed.
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

PG = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PORT = int(os.environ.get("BENCH_PORT", "18765"))
ROOT = Path(__file__).resolve().parents[1]


def db_url(name: str) -> str:
    return PG.rsplit("/", 1)[0] + f"/{name}"


def utcnow() -> datetime:
    """Naive UTC, as the application writes `updated_at`."""
    return datetime.now(UTC).replace(tzinfo=None)


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(PG)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def env(database_url: str, queue: str, **extra: str) -> dict[str, str]:
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


def new_queue_name() -> str:
    return f"bench_{uuid.uuid4().hex[:8]}"


@contextmanager
def processes(
    commands: list[tuple[list[str], dict[str, str]]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [
        subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
            [sys.executable, "-m", "campaign_dispatch.cli", *args], env=environment, cwd=ROOT
        )
        for args, environment in commands
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


def api_command(database_url: str, queue: str, **extra: str) -> tuple[list[str], dict[str, str]]:
    return ["api", "--port", str(PORT)], env(database_url, queue, **extra)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60)


def rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("api did not start")


def report(name: str, value: float, unit: str, bar: str, ok: bool) -> None:
    print(
        f"{'PASS' if ok else 'MISS'}  {name:<52} {value:>10.1f} {unit:<6} (target {bar})",
        flush=True,
    )


async def new_campaign(http: httpx.AsyncClient) -> int:
    response = await http.post(
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


async def timed_send(http: httpx.AsyncClient, ids: list[int]) -> tuple[int, float]:
    campaign_id = await new_campaign(http)
    started = time.perf_counter()
    response = await http.post(f"/campaigns/{campaign_id}/send", json={"customer_ids": ids})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return campaign_id, elapsed


async def dispatch_seconds(
    http: httpx.AsyncClient,
    database_url: str,
    messages: int,
    timeout: float = 300,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
) -> float:
    """Send one campaign of `messages` and time it: from just before the send call to
    the last message's final `updated_at`, as the workers wrote it in the database.

    Polls the campaign's row (its status turns `sent`/`failed` once no message is
    pending or sending), which is one primary-key read: cheap enough not to compete
    with the pipeline for the CPU.
    """
    campaign_id = await new_campaign(http)
    connection = await asyncpg.connect(database_url)
    try:
        started = utcnow()
        response = await http.post(
            f"/campaigns/{campaign_id}/send", json={"customer_ids": list(range(1, messages + 1))}
        )
        response.raise_for_status()
        deadline = time.monotonic() + timeout
        while await connection.fetchval(
            "SELECT status FROM campaigns WHERE id = $1", campaign_id
        ) not in ("sent", "failed"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"campaign {campaign_id} did not finish within {timeout}s")
            await asyncio.sleep(0.1)
        final, last = await connection.fetchrow(
            """SELECT count(*) FILTER (WHERE status IN ('sent', 'failed')), max(updated_at)
               FROM outbound_messages WHERE campaign_id = $1""",
            campaign_id,
        )
    finally:
        await connection.close()
    if final != messages:
        raise RuntimeError(f"campaign {campaign_id}: {final} of {messages} messages final")
    return float((last - started).total_seconds())


async def delete_queues(queue: str) -> None:
    """Remove a run's queues (the job queue, its DLQ and its retry queues)."""
    import aio_pika

    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        names = [queue, f"{queue}.dlq", *(f"{queue}.retry.{2**n * 1000}ms" for n in range(3))]
        for name in names:
            await channel.queue_delete(name)


async def _seed_customers(database_url: str, count: int) -> None:
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
        await connection.execute("VACUUM ANALYZE customers")
    finally:
        await connection.close()


class Databases:
    """Fresh databases for the phases, cloned from one migrated template per customer count."""

    def __init__(self) -> None:
        self._prefix = f"campaign_dispatch_bench_{uuid.uuid4().hex[:6]}"
        self._templates: dict[int, str] = {}

    async def _template(self, customers: int) -> str:
        name = self._templates.get(customers)
        if name is None:
            name = f"{self._prefix}_template_{customers}"
            await admin(f'CREATE DATABASE "{name}"')
            self._templates[customers] = name
            subprocess.run(  # noqa: ASYNC221 (one-off setup before any timing)
                [sys.executable, "-m", "campaign_dispatch.cli", "migrate"],
                check=True,
                env=env(db_url(name), "unused"),
                cwd=ROOT,
                capture_output=True,
            )
            await _seed_customers(db_url(name), customers)
        return name

    @asynccontextmanager
    async def fresh(self, customers: int = 100_000) -> AsyncIterator[str]:
        """A migrated database with `customers` customers, dropped afterwards."""
        template = await self._template(customers)
        name = f"{self._prefix}_{uuid.uuid4().hex[:6]}"
        await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield db_url(name)
        finally:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop_templates(self) -> None:
        for name in self._templates.values():
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._templates.clear()
