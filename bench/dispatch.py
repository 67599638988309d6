"""End-to-end dispatch beside the floor, and what it costs in CPU and in PostgreSQL.

A run: real `campaign-dispatch api` and one `worker` (mock latency 0) on a fresh
database and a fresh queue name; a 1 000-message warm-up campaign; then one campaign of
`--messages`, timed from just before the send call to the last message's final
`updated_at` in the database. Each round measures the floor (bench/floor.py) and then
the run(s), so that the floor and the figure come from the same minutes of a shared
2-core machine; each figure is the median of its rounds.

Over the timed window of the default configuration's run the bench also takes:
- CPU time from /proc (bench/cpu.py) of the api, the worker, PostgreSQL's whole tree and
  RabbitMQ's VM, snapshotted just before the send call and as soon as the campaign is
  final: the sum over the messages is the pipeline's CPU cost per message;
- pg_stat_statements (bench/pgstats.py), reset for the bench's database just before the
  send call and summed when final: PostgreSQL's execution time per message, and the
  statements it went to (the profile the hot path is tuned against).

Other variants (RABBITMQ_PUBLISHER's publish paths) can run beside the default, each
timed only, and are compared as INFO lines.
"""

import statistics
import subprocess
import sys
from dataclasses import dataclass, field

import asyncpg

from bench import cpu, pgstats
from bench.common import (
    ROOT,
    Databases,
    api_command,
    broker_pids,
    client,
    delete_queues,
    dispatch_seconds,
    new_queue_name,
    postmaster_pid,
    processes,
    wait_ready,
    worker_command,
)
from bench.table import Row, Table, info, number, ratio

DISPATCH_TARGET = 2.5  # times the floor
CPU_TARGET_US = 350.0  # every process together, per message
PG_TARGET_US = 120.0  # PostgreSQL's execution time, per message
WORKER_TARGET_US = 150.0  # the worker process alone, per message
DEFAULT = "default"


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    environment: dict[str, str] = field(default_factory=dict)
    workers: int = 1


# The line times send call → every message final. The mock's delivery receipts (due a
# second after each send, standing in for a provider's webhooks) would land inside that
# window and be counted as dispatch work: here they come after the run. The provider
# phase keeps them on both sides of its comparison (the fake provider sends receipts).
NO_RECEIPTS = {"MOCK_DELIVERY_DELAY_MS": "3600000"}
VARIANTS = {
    v.name: v
    for v in (
        # Whatever the code does by default (no setting): the table's variant.
        Variant(DEFAULT, "the code's default configuration", NO_RECEIPTS),
        Variant(
            "frames",
            "custom publish frames into aiormq's channel",
            {"RABBITMQ_PUBLISHER": "frames", **NO_RECEIPTS},
        ),
        Variant(
            "aio-pika",
            "aio-pika exchange.publish, gathered",
            {"RABBITMQ_PUBLISHER": "aio-pika", **NO_RECEIPTS},
        ),
        Variant("two-workers", "the default configuration, two worker processes", NO_RECEIPTS, 2),
        # Lanes of WORKER_BATCH_SIZE (1 000) beside the default's two.
        Variant(
            "lanes-3", "WORKER_CONCURRENCY=3000", {"WORKER_CONCURRENCY": "3000", **NO_RECEIPTS}
        ),
        Variant(
            "lanes-4", "WORKER_CONCURRENCY=4000", {"WORKER_CONCURRENCY": "4000", **NO_RECEIPTS}
        ),
    )
}
# (candidate, without it, what it measures, the speed-up that keeps the candidate). The
# custom path must beat the supported one by 1.3x end to end to be worth its risk.
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


@dataclass
class Profile:
    """CPU and PostgreSQL over one timed dispatch window (a Probe for dispatch_seconds)."""

    pids: dict[str, list[int]]
    statements_on: bool
    usage: cpu.Usage | None = None
    statements: list[pgstats.Statement] = field(default_factory=list)
    postgres_split: dict[str, float] = field(default_factory=dict)
    _database: str = ""
    _postmaster: int | None = None
    _before: cpu.Snapshot | None = None

    async def start(self, connection: asyncpg.Connection) -> None:
        self._postmaster = await postmaster_pid(connection)
        self._database = str(await connection.fetchval("SELECT current_database()"))
        if self.statements_on:
            await pgstats.reset(connection)
        self._before = cpu.snapshot(self.pids, self._postmaster)

    async def stop(self, connection: asyncpg.Connection) -> None:
        after = cpu.snapshot(self.pids, self._postmaster)
        assert self._before is not None
        self.usage = cpu.usage(self._before, after)
        self.postgres_split = cpu.attribute([self._before, after], self._database)
        if self.statements_on:
            self.statements = await pgstats.read(connection)

    @property
    def postgres_exec_ms(self) -> float:
        return sum(s.total_ms for s in self.statements)

    @property
    def postgres(self) -> float | None:
        """PostgreSQL's tree, less the live processes that served other databases (the
        machine is shared: another suite's backends are not this pipeline's cost)."""
        if self.usage is None or self.usage.postgres is None:
            return None
        return self.usage.postgres - self.postgres_split.get(cpu.OTHER, 0.0)

    @property
    def total(self) -> float:
        assert self.usage is not None
        return sum(self.usage.named.values()) + (self.postgres or 0.0)


@dataclass
class Run:
    rate: float
    messages: int
    profile: Profile | None = None


async def dispatch_once(
    databases: Databases,
    variant: Variant,
    messages: int,
    profiled: bool = False,
    customers: int = 100_000,
    others: dict[str, list[int]] | None = None,
) -> Run:
    """One timed dispatch; `profiled`, with the CPU of `others` (processes started by the
    caller, e.g. the fake provider) counted beside the api, worker and broker."""
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        statements_on = False
        if profiled:
            connection = await asyncpg.connect(database_url)
            try:
                statements_on = await pgstats.enable(connection)
            finally:
                await connection.close()
        api = api_command(database_url, queue, **variant.environment)
        workers = [worker_command(database_url, queue, **variant.environment)] * variant.workers
        with processes([api, *workers]) as procs:
            profile = None
            if profiled:
                worker_pids = [p.pid for p in procs[1:]]
                pids = {"api": [procs[0].pid], "worker": worker_pids, **(others or {})}
                profile = Profile({**pids, "rabbitmq": broker_pids()}, statements_on)
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 1000, watch=procs)  # warm-up
                seconds = await dispatch_seconds(
                    http, database_url, messages, probe=profile, watch=procs
                )
    await delete_queues(queue)
    return Run(messages / seconds, messages, profile)


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def _per_message_us(seconds: float, messages: int) -> float:
    return seconds * 1_000_000 / messages


async def bench_dispatch(
    databases: Databases,
    table: Table,
    names: list[str],
    messages: int,
    rounds: int,
    customers: int,
) -> None:
    """The table's dispatch lines (the default configuration, profiled), and an INFO line
    per extra variant and per comparison between variants that ran."""
    names = [DEFAULT, *(n for n in names if n != DEFAULT)]
    runs: dict[str, list[Run]] = {name: [] for name in names}
    floors: list[float] = []
    for round_number in range(rounds):
        floors.append(measure_floor(messages))
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            run = await dispatch_once(
                databases, VARIANTS[name], messages, profiled=name == DEFAULT, customers=customers
            )
            runs[name].append(run)
        print(
            f"      round {round_number + 1}/{rounds}: floor {floors[-1]:.0f}; "
            + "; ".join(f"{name} {runs[name][-1].rate:.0f}" for name in names),
            flush=True,
        )
    floor = statistics.median(floors)
    rates = {name: [r.rate for r in runs[name]] for name in names}
    figure = statistics.median(rates[DEFAULT])
    table.add(
        Row(
            f"dispatch, 1 worker, mock latency 0, {messages} messages (median of {rounds})",
            f"{number(figure)} msg/s",
            f"≥ {DISPATCH_TARGET} x floor",
            figure / floor >= DISPATCH_TARGET,
            floor=f"{number(floor)} msg/s",
            ratio=ratio(figure / floor),
        )
    )
    info(f"dispatch rounds: default {_fmt(rates[DEFAULT])} msg/s; floors {_fmt(floors)} msg/s")
    _cost_rows(table, [r.profile for r in runs[DEFAULT] if r.profile is not None], messages)
    for name in names[1:]:
        other = statistics.median(rates[name])
        info(
            f"dispatch {messages} msgs, {VARIANTS[name].workers} worker(s), latency 0, "
            f"{name:<8} {other:>7.0f} msg/s  "
            f"floor {floor:>7.0f} msg/s  ratio {other / floor:.3f}  "
            f"({VARIANTS[name].what}; runs {_fmt(rates[name])})"
        )
    for faster, slower, what, bar in COMPARISONS:
        if faster in rates and slower in rates:
            speedup = statistics.median(rates[faster]) / statistics.median(rates[slower])
            verdict = "pays" if speedup >= bar else "does not pay"
            info(f"{what}: {faster} / {slower} = {speedup:.3f}x (keep at >= {bar}x: {verdict})")


def _cost_rows(table: Table, profiles: list[Profile], messages: int) -> None:
    """CPU per message (all processes; the worker alone) and PostgreSQL's execution time
    per message: medians over the rounds; the statement profile of the last round."""
    profiles = [p for p in profiles if p.usage is not None]
    if not profiles:
        return
    measured = all(p.postgres is not None for p in profiles)
    totals = [_per_message_us(p.total, messages) for p in profiles]
    total = statistics.median(totals)
    total_what = "all processes (api, worker, PostgreSQL, RabbitMQ)"
    if not measured:
        total_what = "api, worker and RabbitMQ only: PostgreSQL's processes are not visible here"
    table.add(
        Row(
            f"CPU per dispatched message, {total_what}",
            f"{total:.0f} µs",
            f"≤ {CPU_TARGET_US:.0f} µs",
            measured and total <= CPU_TARGET_US,
        )
    )
    names = list(profiles[0].pids)
    shares = {
        name: statistics.median(
            _per_message_us(p.usage.named[name] if p.usage else 0.0, messages) for p in profiles
        )
        for name in names
    }
    if measured:
        shares["postgres"] = statistics.median(
            _per_message_us(p.postgres or 0.0, messages) for p in profiles
        )
    info(
        "CPU per message by process (median of rounds): "
        + ", ".join(f"{name} {us:.0f} µs" for name, us in shares.items())
        + f"; totals {_fmt(totals)} µs"
    )
    if profiles[-1].postgres_split:
        info(
            "PostgreSQL CPU in the last round, by what it served: "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in profiles[-1].postgres_split.items())
            + f" (the figure leaves out {cpu.OTHER})"
        )
    _postgres_row(table, profiles, messages)
    worker = statistics.median(
        _per_message_us(p.usage.named["worker"] if p.usage else 0.0, messages) for p in profiles
    )
    table.add(
        Row(
            "of which the worker process",
            f"{worker:.0f} µs",
            f"≤ {WORKER_TARGET_US:.0f} µs",
            worker <= WORKER_TARGET_US,
        )
    )


def _postgres_row(table: Table, profiles: list[Profile], messages: int) -> None:
    what = "of which PostgreSQL execution time (pg_stat_statements, send to final)"
    target = f"≤ {PG_TARGET_US:.0f} µs"
    if not all(p.statements_on for p in profiles):
        info(
            f"PostgreSQL execution time not measured: the {pgstats.MODULE} module is not "
            f"loaded. To enable it: {pgstats.HOW_TO_ENABLE}"
        )
        table.add(Row(what, "not measured", target, False))
        return
    per_message = statistics.median(
        _per_message_us(p.postgres_exec_ms / 1000, messages) for p in profiles
    )
    table.add(Row(what, f"{per_message:.0f} µs", target, per_message <= PG_TARGET_US))
    info(f"top statements of the last round ({messages} messages):")
    for text in pgstats.profile_lines(profiles[-1].statements, messages):
        print(f"      {text}", flush=True)
