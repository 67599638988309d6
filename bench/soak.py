"""`make soak`: a long run under repeated worker kills (not in CI; docs/reliability.md).

Real processes on a fresh PostgreSQL database and a fresh queue name: one `api`, one
`scheduler`, two `worker`s. `worker-1` lives for the whole run; `worker-2` is killed
with SIGKILL every `--kill-every` seconds and started again. Campaigns of
`--campaign-size` messages are sent at an offered `--rate` until `--messages` have
been sent, with MOCK_SENDER_FAILURE_RATE 0.2, while the api is also read (campaign
details, the list, /stats, /metrics) every second. The resident memory (VmRSS) of every
process is sampled every second.

At the end: the exact reconciliation of the fault tests (tests/faults/reconcile.py:
every message final, every campaign finished, counts adding up, attempts within
MAX_RETRIES + 1 plus the lease expiry's extra one, the provider's send log agreeing
with the database), no process exiting on its own, and for each long-lived process
(api, scheduler, worker-1) less than `--max-growth` (10 %) RSS growth over the second
half of the run: the median of the last samples against the median around the midpoint.
Prints a summary; exits 1 if anything failed.

    python -m bench.soak                      # 200 000 messages (SOAK_MESSAGES)
    python -m bench.soak --messages 20000     # a short trial
"""

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from tests.faults import broker, databases
from tests.faults.campaigns import create_campaign, send, wait_finished
from tests.faults.processes import Cluster, ServiceProcess
from tests.faults.reconcile import Reconciliation, reconcile

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
LONG_LIVED = ("api", "scheduler", "worker-1")


@dataclass
class Samples:
    """(seconds since the start, kB) per process; worker-2 per lifetime."""

    started: float = field(default_factory=time.monotonic)
    by_process: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def take(self, processes: dict[str, ServiceProcess]) -> None:
        now = time.monotonic() - self.started
        for name, process in processes.items():
            kb = process.rss_kb()
            if kb is not None:
                key = name if name in LONG_LIVED else f"{name}#{len(process.lifetimes)}"
                self.by_process.setdefault(key, []).append((now, kb))


@dataclass
class Memory:
    name: str
    start_kb: int
    mid_kb: float
    end_kb: float
    peak_kb: int

    @property
    def growth(self) -> float:
        return self.end_kb / self.mid_kb - 1


def memory_of(name: str, samples: list[tuple[float, int]], duration: float) -> Memory:
    """Start: the first sample; mid: the median within ±window of the midpoint; end: the
    median of the last window; window 5 % of the run (at least 5 s)."""
    window = max(5.0, duration * 0.05)
    middle = duration / 2
    mid = [kb for t, kb in samples if abs(t - middle) <= window] or [samples[len(samples) // 2][1]]
    end = [kb for t, kb in samples if t >= samples[-1][0] - window]
    return Memory(
        name,
        samples[0][1],
        statistics.median(mid),
        statistics.median(end),
        max(kb for _, kb in samples),
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--messages", type=int, default=int(os.environ.get("SOAK_MESSAGES", "200000"))
    )
    parser.add_argument("--campaign-size", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=400, help="messages offered per second")
    parser.add_argument("--kill-every", type=float, default=15, help="seconds between kills")
    parser.add_argument("--failure-rate", default="0.2")
    parser.add_argument("--latency-ms", default="20", help="MOCK_SENDER_LATENCY_MS")
    parser.add_argument("--lease-seconds", default="10")
    parser.add_argument("--max-growth", type=float, default=0.10)
    parser.add_argument("--timeout", type=float, default=3600, help="for the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args()
    if args.messages < args.campaign_size:
        args.campaign_size = args.messages
    return args


async def _feed(
    cluster: Cluster, args: argparse.Namespace, campaigns: dict[int, int], done: asyncio.Event
) -> None:
    """Send campaigns at the offered rate; read the API once a second meanwhile."""
    api = cluster["api"]
    interval = args.campaign_size / args.rate
    sent = 0
    next_send = time.monotonic()
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        while sent < args.messages or not done.is_set():
            if sent < args.messages and time.monotonic() >= next_send:
                size = min(args.campaign_size, args.messages - sent)
                campaign = await create_campaign(http, f"soak {len(campaigns) + 1}")
                response = await send(http, campaign, range(1, size + 1))
                response.raise_for_status()
                campaigns[campaign] = size
                sent += size
                next_send += interval
            if campaigns:
                for path in (f"/campaigns/{max(campaigns)}", "/campaigns", "/stats", "/metrics"):
                    (await http.get(path)).raise_for_status()
            await asyncio.sleep(1)


async def _kill_repeatedly(worker: ServiceProcess, every: float, kills: list[float]) -> None:
    while True:
        await asyncio.sleep(every)
        worker.kill()
        kills.append(time.monotonic())
        await asyncio.sleep(0.5)
        await worker.restart()


async def _sample(cluster: Cluster, samples: Samples) -> None:
    while True:
        samples.take(cluster.processes)
        await asyncio.sleep(1)


async def _throughput(database_url: str) -> tuple[float, float, float, float]:
    """(seconds from the first message created to the last one final, messages/s, and
    the median and the longest time from a campaign's messages created to its last one
    final)."""
    connection = await asyncpg.connect(database_url)
    try:
        first, last, count = await connection.fetchrow(
            "SELECT min(created_at), max(updated_at), count(*) FROM outbound_messages"
        )
        latencies = [
            float(r["seconds"])
            for r in await connection.fetch(
                """SELECT extract(epoch FROM max(updated_at) - min(created_at)) AS seconds
                   FROM outbound_messages GROUP BY campaign_id"""
            )
        ]
    finally:
        await connection.close()
    seconds = float((last - first).total_seconds())
    return seconds, count / seconds, statistics.median(latencies), max(latencies)


def _code_under_test() -> str:
    source = os.environ.get("FAULTS_SERVICE_SRC")
    if source:
        return f"FAULTS_SERVICE_SRC={source}"
    root = Path(__file__).resolve().parents[1]
    git = shutil.which("git") or "git"

    def output(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603 (git, fixed arguments)
            [git, *arguments], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = output("rev-parse", "--short", "HEAD")
    dirty = output("status", "--porcelain", "--", "src")
    return f"working tree at {head}" + (" with uncommitted changes under src/" if dirty else "")


async def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    directory = Path(tempfile.mkdtemp(prefix="campaign-dispatch-soak-"))
    name = await databases.create(ADMIN_URL, "campaign_dispatch_soak")
    database_url = databases.url_for(ADMIN_URL, name)
    databases.migrate(database_url)
    await databases.seed_customers(database_url, args.campaign_size)
    settings = {
        "MAX_RETRIES": "3",
        "RETRY_BASE_DELAY_MS": "1000",
        "LEASE_SECONDS": args.lease_seconds,
        "MOCK_SENDER_FAILURE_RATE": args.failure_rate,
        "MOCK_SENDER_LATENCY_MS": args.latency_ms,
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    queue = f"soak_{uuid.uuid4().hex[:8]}"
    cluster = Cluster(directory, database_url, AMQP_URL, queue, settings)
    samples = Samples()
    campaigns: dict[int, int] = {}
    kills: list[float] = []
    failures: list[str] = []
    result: Reconciliation | None = None
    memory: list[Memory] = []
    print(
        f"soak: {args.messages} messages in campaigns of {args.campaign_size} at "
        f"{args.rate:g}/s offered, worker-2 killed every {args.kill_every:g}s, failure rate "
        f"{args.failure_rate}; code: {_code_under_test()}; database {name}, queue {queue}, "
        f"logs in {directory}",
        flush=True,
    )
    try:
        processes = [
            cluster.add("api"),
            cluster.add("scheduler"),
            cluster.add("worker", "worker-1"),
            cluster.add("worker", "worker-2"),
        ]
        await cluster.start(*processes)
        samples = Samples()
        background = [
            asyncio.create_task(_sample(cluster, samples)),
            asyncio.create_task(_kill_repeatedly(cluster["worker-2"], args.kill_every, kills)),
        ]
        done = asyncio.Event()
        feeder = asyncio.create_task(_feed(cluster, args, campaigns, done))
        try:
            deadline = time.monotonic() + args.timeout
            while sum(campaigns.values()) < args.messages:
                if feeder.done():
                    await feeder  # raises what stopped it
                if time.monotonic() > deadline:
                    raise TimeoutError("the campaigns were not all sent in time")
                await asyncio.sleep(1)
            remaining = deadline - time.monotonic()
            await wait_finished(database_url, sorted(campaigns), timeout=remaining)
            done.set()
            await feeder
        finally:
            for task in [*background, feeder]:
                task.cancel()
            await asyncio.gather(*background, feeder, return_exceptions=True)
        duration = time.monotonic() - samples.started
        seconds, rate, latency_p50, latency_max = await _throughput(database_url)
        result = await reconcile(
            database_url,
            campaigns,
            max_retries=int(settings["MAX_RETRIES"]),
            send_log=cluster.send_log_dir,
            api_url=cluster["api"].url,
        )
        if not result.ok:
            failures += result.problems
        for process in LONG_LIVED:
            memory.append(memory_of(process, samples.by_process[process], duration))
        failures += [
            f"{m.name} RSS grew {m.growth:.1%} over the second half (limit {args.max_growth:.0%})"
            for m in memory
            if m.growth >= args.max_growth
        ]
        failures += [
            f"{e.name} (pid {e.pid}) exited on its own: {e.exit_code}" for e in cluster.exits
        ]
        restarts = len(cluster["worker-2"].lifetimes) - 1
        _print_summary(
            started_at,
            args,
            (duration, seconds, rate, latency_p50, latency_max),
            len(kills),
            restarts,
            result,
            memory,
            samples,
        )
    except BaseException as exc:
        failures.append(f"the run stopped: {exc!r}")
        print(cluster.report(lines=20), flush=True)
        raise
    finally:
        await cluster.close()
        base = int(settings["RETRY_BASE_DELAY_MS"])
        await broker.delete_queues(AMQP_URL, broker.queue_names(queue, [base, base * 2, base * 4]))
        if not args.keep:
            await databases.drop(ADMIN_URL, name)
        for failure in failures:
            print(f"FAIL  {failure}", flush=True)
        print("soak: " + ("FAILED" if failures else "PASSED"), flush=True)
    return 1 if failures else 0


def _print_summary(
    started_at: datetime,
    args: argparse.Namespace,
    timing: tuple[float, float, float, float, float],
    kills: int,
    restarts: int,
    result: Reconciliation,
    memory: list[Memory],
    samples: Samples,
) -> None:
    duration, seconds, rate, latency_p50, latency_max = timing
    print(f"date         {started_at:%Y-%m-%d %H:%M} UTC")
    print(
        f"size         {result.messages} messages in {len(result.expected)} campaigns; "
        f"failure rate {args.failure_rate}; lease {args.lease_seconds}s"
    )
    print(
        f"duration     {duration:.0f}s wall clock; {seconds:.0f}s from the first message "
        f"to the last final one: {rate:.0f} messages/s"
    )
    print(
        f"campaigns    created to last message final: median {latency_p50:.1f}s, "
        f"longest {latency_max:.1f}s"
    )
    print(f"kills        worker-2 SIGKILLed {kills} times, restarted {restarts} times")
    print(f"reconcile    {result.summary()}")
    print("memory       VmRSS MB      start     mid     end    peak  growth (end/mid)")
    for m in memory:
        print(
            f"             {m.name:<12} {m.start_kb / 1024:7.1f} {m.mid_kb / 1024:7.1f} "
            f"{m.end_kb / 1024:7.1f} {m.peak_kb / 1024:7.1f}  {m.growth:+.1%}"
        )
    lifetimes = [v for k, v in samples.by_process.items() if k.startswith("worker-2#")]
    if lifetimes:
        peaks = [max(kb for _, kb in v) / 1024 for v in lifetimes]
        print(
            f"             worker-2 over {len(lifetimes)} lifetimes: peak "
            f"{min(peaks):.1f}-{max(peaks):.1f} MB"
        )
    sys.stdout.flush()


def main() -> None:
    sys.exit(asyncio.run(run(_arguments())))


if __name__ == "__main__":
    main()
