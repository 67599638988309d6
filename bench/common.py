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
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import asyncpg
import httpx

from bench import cpu
from campaign_dispatch.statuses import CampaignStatus, MessageStatus

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


@dataclass
class Memory:
    """Peak resident memory (VmHWM) of every service process the bench started, read just
    before it is stopped, by role (`api`, `worker`, …) and the phase it ran in."""

    phase: str = ""
    peaks: list[tuple[str, str, float]] = field(default_factory=list)

    def record(self, role: str, pid: int) -> None:
        self.peaks.append((role, self.phase, rss_mb(pid)))

    def peak(self, role: str) -> tuple[float, str] | None:
        """The highest peak of a role and the phase it was in."""
        seen = [(mb, phase) for r, phase, mb in self.peaks if r == role]
        return max(seen) if seen else None


MEMORY = Memory()


# Roles whose output goes to a file instead of the bench's report: the fake provider logs
# at INFO whatever LOG_LEVEL says (its uvicorn start and stop lines).
LOGGED_TO_FILE = {"fake-provider": Path(tempfile.gettempdir()) / "bench_fake_provider.log"}


@contextmanager
def processes(
    commands: list[tuple[list[str], dict[str, str]]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start each `campaign-dispatch` command; on leaving, record each one's peak memory
    (MEMORY), then stop them all (SIGTERM, SIGKILL after 30 s)."""
    with ExitStack() as logs:
        started = []
        try:
            for args, environment in commands:
                log = LOGGED_TO_FILE.get(args[0])
                output = logs.enter_context(log.open("ab")) if log is not None else None
                started.append(
                    subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
                        [sys.executable, "-m", "campaign_dispatch.cli", *args],
                        env=environment,
                        cwd=ROOT,
                        stdout=output,
                        stderr=output,
                    )
                )
            yield started
        finally:
            for (args, _), process in zip(commands, started, strict=False):
                if process.poll() is None:
                    MEMORY.record(args[0], process.pid)
            for process in started:
                process.terminate()
            for process in started:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def api_command(database_url: str, queue: str, **extra: str) -> tuple[list[str], dict[str, str]]:
    return ["api", "--port", str(PORT)], env(database_url, queue, **extra)


def worker_command(database_url: str, queue: str, **extra: str) -> tuple[list[str], dict[str, str]]:
    return ["worker"], env(database_url, queue, **extra)


def scheduler_command(
    database_url: str, queue: str, **extra: str
) -> tuple[list[str], dict[str, str]]:
    return ["scheduler"], env(database_url, queue, **extra)


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


class Probe(Protocol):
    """Something measured over a dispatch window: from just before the send call until
    every message is final (e.g. CPU time, PostgreSQL's statements)."""

    async def start(self, connection: asyncpg.Connection) -> None: ...

    async def stop(self, connection: asyncpg.Connection) -> None: ...


FINAL_CAMPAIGN = (CampaignStatus.SENT.value, CampaignStatus.FAILED.value)
FINAL_MESSAGE = [MessageStatus.SENT.value, MessageStatus.FAILED.value]


async def campaign_final(connection: asyncpg.Connection, campaign_id: int) -> bool:
    """One primary-key read (its column alias marks it as the bench's own, so that the
    statement profile leaves it out)."""
    status = await connection.fetchval(
        "SELECT status AS bench_poll FROM campaigns WHERE id = $1", campaign_id
    )
    return status in FINAL_CAMPAIGN


async def dispatch_seconds(
    http: httpx.AsyncClient,
    database_url: str,
    messages: int,
    timeout: float = 300,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
    probe: Probe | None = None,
    watch: Sequence[subprocess.Popen[bytes]] = (),
) -> float:
    """Send one campaign of `messages` and time it: from just before the send call to
    the last message's final `updated_at`, as the workers wrote it in the database.

    Polls the campaign's row every 50 ms (its status turns `sent`/`failed` once no
    message is pending or sending): one primary-key read, cheap enough not to compete
    with the pipeline for the CPU. A probe starts just before the send call and stops
    as soon as the poll sees the campaign final. A process in `watch` that exits fails
    the run at once (instead of at the deadline).
    """
    campaign_id = await new_campaign(http)
    connection = await asyncpg.connect(database_url)
    try:
        if probe is not None:
            await probe.start(connection)
        started = utcnow()
        response = await http.post(
            f"/campaigns/{campaign_id}/send", json={"customer_ids": list(range(1, messages + 1))}
        )
        response.raise_for_status()
        deadline = time.monotonic() + timeout
        while not await campaign_final(connection, campaign_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"campaign {campaign_id} did not finish within {timeout}s")
            exited = [f"pid {p.pid} (exit {p.returncode})" for p in watch if p.poll() is not None]
            if exited:
                raise RuntimeError(f"campaign {campaign_id}: a process exited: {exited}")
            await asyncio.sleep(0.05)
        if probe is not None:
            await probe.stop(connection)
        final, last = await connection.fetchrow(
            """SELECT count(*) FILTER (WHERE status = ANY ($2::text[])) AS bench_poll,
                      max(updated_at)
               FROM outbound_messages WHERE campaign_id = $1""",
            campaign_id,
            FINAL_MESSAGE,
        )
    finally:
        await connection.close()
    if final != messages:
        raise RuntimeError(f"campaign {campaign_id}: {final} of {messages} messages final")
    return float((last - started).total_seconds())


async def postmaster_pid(connection: asyncpg.Connection) -> int | None:
    """The postmaster: the parent of this connection's backend, when this machine's
    /proc shows it (PostgreSQL on another host or in a container: None)."""
    backend = cpu.read_stat(int(await connection.fetchval("SELECT pg_backend_pid()")))
    if backend is None:
        return None
    parent = cpu.read_stat(backend.ppid)
    return parent.pid if parent is not None and parent.comm.startswith("postgres") else None


def broker_pids() -> list[int]:
    """RabbitMQ's Erlang VM (every thread of it is one process to /proc)."""
    return cpu.by_name(cpu.every_process(), "beam.smp")


# An identical table for the floors of the send endpoint and the segment send: the same
# columns, defaults, CHECK constraints and indexes, plus the same two foreign keys.
FLOOR_TABLE = """
    CREATE TABLE floor_messages (LIKE outbound_messages INCLUDING ALL);
    ALTER TABLE floor_messages
        ADD FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE,
        ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT;
"""
FLOOR_COLUMNS = (
    "campaign_id, customer_id, status, retry_count, available_at, created_at, updated_at"
)
PENDING = MessageStatus.PENDING.value


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
